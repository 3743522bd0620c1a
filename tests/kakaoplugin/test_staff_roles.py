"""The staff roles shipped as Django groups (kakaoplugin.roles, ``manage.py staff_roles``)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from kakaoplugin.roles import ROLES, SENSITIVE, roles_sync

pytestmark = pytest.mark.django_db


def perms_of(role: str) -> set[str]:
    group = Group.objects.get(name=ROLES[role].group)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_migrate_created_the_four_roles():
    # the test database was built by migrate: its post_migrate made the groups
    assert {g.name for g in Group.objects.all()} >= {"Owner", "Order staff", "Support (read-only)", "Developer"}


def test_each_role_has_what_it_needs_and_nothing_more():
    owner, orders, support, developer = (perms_of(r) for r in ("owner", "order_staff", "support", "developer"))
    assert {"kakaoplugin.view_personal_data", "kakaoplugin.view_plugin_urls", "kakaoplugin.view_inbound_body",
            "kakaoplugin.change_kakaoapp", "orders.change_order", "auth.add_user"} <= owner  # fmt: skip

    assert {"orders.change_order", "orders.view_paymentevent", "kakaoplugin.view_personal_data",
            "kakaoplugin.change_customer", "orders.view_ordersheetline"} <= orders  # fmt: skip
    assert not {p for p in orders if "kakaoapp" in p or "apikey" in p}
    assert "kakaoplugin.view_plugin_urls" not in orders and "kakaoplugin.view_inbound_body" not in orders

    assert support and all(p.split(".")[1].startswith("view_") for p in support)
    assert not any(p.endswith(s.split(".")[1]) for p in support for s in SENSITIVE)

    assert "kakaoplugin.add_webhookendpoint" not in developer  # endpoints receive shipping addresses
    assert {"kakaoplugin.change_kakaoapp", "kakaoplugin.view_plugin_urls", "merchant.add_merchantapikey",
            "kakaoplugin.change_webhookdelivery", "kakaoplugin.view_inbound_body"} <= developer  # fmt: skip
    assert "kakaoplugin.view_personal_data" not in developer
    assert "orders.change_order" not in developer  # no refunds
    assert not any(p.startswith("auth.") for p in orders | support | developer)


def test_the_command_restores_a_role_and_keeps_what_a_merchant_added_unless_reset():
    group = Group.objects.get(name="Support (read-only)")
    extra = Permission.objects.get(content_type__app_label="orders", codename="change_order")
    group.permissions.remove(*group.permissions.filter(codename="view_order"))
    group.permissions.add(extra)

    call_command("staff_roles")
    assert "orders.view_order" in perms_of("support") and "orders.change_order" in perms_of("support")

    call_command("staff_roles", "--reset")
    assert "orders.change_order" not in perms_of("support")
    assert roles_sync()["Support (read-only)"] == len(perms_of("support"))
