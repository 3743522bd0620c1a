"""The staff roles merchants need, shipped as Django groups (docs/security.md has the table).

A role is permission patterns (``app_label.codename``, ``*`` matching anything) minus exclusions.
``roles_sync()`` creates the groups; ``manage.py staff_roles`` runs it (``--reset`` makes each
group exactly its role again) and after every ``migrate`` the groups are created or completed
(permissions are only added there, never taken away from a group a merchant adjusted).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

PROJECT_APPS = ("kakaoplugin", "catalog", "orders", "callbacks")
# The merchant API's keys (merchant.MerchantApiKey): granted by name, the rest of merchant is not in
# any role (the chatbot skills' settings are the owner's, as a superuser).
API_KEYS = "merchant.*_merchantapikey"
# Permissions that open more than a model's rows: personal data, the plugin key, raw plugin bodies.
SENSITIVE = ("*.view_personal_data", "*.view_plugin_urls", "*.view_inbound_body")


@dataclass(frozen=True)
class Role:
    group: str
    summary: str
    grants: tuple[str, ...]
    excludes: tuple[str, ...] = ()

    def matches(self, perm: str) -> bool:
        return any(fnmatchcase(perm, g) for g in self.grants) and not any(fnmatchcase(perm, e) for e in self.excludes)


ROLES: dict[str, Role] = {
    "owner": Role(
        group="Owner",
        summary="everything: Kakao apps and their secrets (write-only), plugin URLs, API keys, catalog, "
        "orders and refunds, personal data, inbound call bodies, staff accounts",
        grants=(
            *(f"{app}.*" for app in PROJECT_APPS), API_KEYS, "auth.*_user", "auth.*_group", "auth.view_permission",
            "axes.view_*", "axes.delete_accessattempt",  # who failed to log in; deleting an attempt unlocks
        ),  # fmt: skip
    ),
    "order_staff": Role(
        group="Order staff",
        summary="orders, order sheets, payments, subscriptions: refund, check with KakaoPay, cancel/resume "
        "subscriptions; members (block/unblock) with personal data in full (to ship); catalog read-only",
        grants=(
            "orders.view_*", "orders.change_order", "orders.change_subscription", "catalog.view_*",
            "kakaoplugin.view_customer", "kakaoplugin.change_customer", "kakaoplugin.view_personal_data",
            "kakaoplugin.view_webhookdelivery", "kakaoplugin.view_webhookevent", "callbacks.view_*",
        ),
    ),  # fmt: skip
    "support": Role(
        group="Support (read-only)",
        summary="sees every list and page, changes nothing; personal data masked, no plugin URLs, "
        "no inbound call bodies; secrets masked",
        grants=(*(f"{app}.view_*" for app in PROJECT_APPS), "merchant.view_merchantapikey"),
        excludes=SENSITIVE,
    ),
    "developer": Role(
        group="Developer",
        summary="Kakao apps (replace secrets, rotate the plugin key), plugin URLs, merchant API keys without "
        "personal scopes, webhook resends, inbound calls with bodies (personal data masked), fetch callbacks "
        "again; orders and catalog read-only; personal data masked",
        grants=(
            "kakaoplugin.view_*", "kakaoplugin.add_kakaoapp", "kakaoplugin.change_kakaoapp",
            "merchant.view_merchantapikey", "merchant.add_merchantapikey", "merchant.change_merchantapikey",
            "kakaoplugin.change_webhookdelivery", "catalog.view_*",
            "orders.view_*", "callbacks.view_*", "callbacks.change_callbackevent", "callbacks.change_secureimageset",
        ),
        excludes=("*.view_personal_data",),
    ),  # fmt: skip
}


def role_permissions(role: Role):
    from django.contrib.auth.models import Permission

    perms = Permission.objects.select_related("content_type").filter(
        content_type__app_label__in=(*PROJECT_APPS, "merchant", "auth", "axes")
    )
    return [p for p in perms if role.matches(f"{p.content_type.app_label}.{p.codename}")]


def roles_sync(*, reset: bool = False) -> dict[str, int]:
    """Create each role's group; add its permissions (``reset``: exactly its permissions).
    Returns how many permissions each group has."""
    from django.contrib.auth.models import Group

    counts = {}
    for role in ROLES.values():
        group, _ = Group.objects.get_or_create(name=role.group)
        perms = role_permissions(role)
        if reset:
            group.permissions.set(perms)
        else:
            group.permissions.add(*perms)
        counts[role.group] = group.permissions.count()
    return counts


def on_post_migrate(sender, using="default", **kwargs) -> None:
    """After ``migrate``: every app's permissions exist first, then the roles."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    if using != "default":
        return
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    roles_sync()
