"""The Kakao apps' and members' admin; the other kakaoplugin models' admins are in admin_*.py."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# The other models' admins, registered on import: API keys, webhooks, inbound calls and the outbox.
from . import admin_calls, admin_webhooks  # noqa: F401
from .fields import mask
from .models import Customer, KakaoApp
from .plugin_paths import LABELS, payment_redirect_patterns, plugin_urls
from .services import SECRET_FIELDS, customer_set_blocked, kakao_app_rotate_plugin_key

admin.site.site_header = _("Kakao TalkBiz plugin backend")
admin.site.site_title = _("TalkBiz plugins")
admin.site.index_title = _("Site administration")

# Write-only in the admin: never rendered after they are saved, to anyone (masked, "replace" input).
ADMIN_SECRET_FIELDS = ("rest_api_key", *SECRET_FIELDS)
PLUGIN_URLS_PERMISSION = "kakaoplugin.view_plugin_urls"


class SecretInput(forms.PasswordInput):
    """Never renders the stored secret; shows whether one is set."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, render_value=False, **kwargs)


class KakaoAppForm(forms.ModelForm):
    class Meta:
        model = KakaoApp
        fields = "__all__"
        widgets = {name: SecretInput() for name in ADMIN_SECRET_FIELDS}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ADMIN_SECRET_FIELDS:
            field = self.fields.get(name)
            if field is None:
                continue
            if self.instance.pk or name != "rest_api_key":
                field.required = False  # the REST API key is required once, when the app is made
            current = getattr(self.instance, name, "") if self.instance.pk else ""
            state = gettext("set (%(masked)s)") % {"masked": mask(current)} if current else gettext("not set")
            field.help_text = gettext("Currently %(state)s. Leave blank to keep; type a new value to replace.") % {
                "state": state
            }

    def clean(self):
        cleaned = super().clean()
        for name in ADMIN_SECRET_FIELDS:
            if not cleaned.get(name) and self.instance.pk:
                cleaned[name] = getattr(self.instance, name)  # blank means "keep"
        return cleaned


def _masked_secret(name: str):
    def display(self, obj):
        value = getattr(obj, name, "")
        return gettext("set (%(masked)s)") % {"masked": mask(value)} if value else gettext("not set")

    display.short_description = KakaoApp._meta.get_field(name).verbose_name
    return display


@admin.register(KakaoApp)
class KakaoAppAdmin(admin.ModelAdmin):
    form = KakaoAppForm
    list_display = ("name", "environment", "kakaopay_api", "cid", "is_active", "masked_plugin_key", "updated_at")
    list_filter = ("environment", "kakaopay_api", "is_active")
    search_fields = ("name", "kakao_app_id", "cid")
    readonly_fields = ("masked_plugin_key", "plugin_key_rotated_at", "plugin_url_list", "created_at", "updated_at")
    actions = ["rotate_plugin_key"]
    fieldsets = (
        (None, {"fields": ("name", "environment", "kakao_app_id", "is_active")}),
        (_("Kakao"), {"fields": ("rest_api_key", "kakao_client_secret")}),
        (
            _("KakaoPay"),
            {
                "fields": (
                    "kakaopay_api",
                    "kakaopay_admin_key",
                    "kakaopay_secret_key",
                    "cid",
                    "cid_secret",
                    "subscription_cid",
                    "wrap_approval_url",
                    "order_agreements",
                    "available_cards",
                    "payment_method_type",
                )
            },
        ),
        (
            _("Plugin ids (from Kakao's plugin admin center)"),
            {
                "fields": (
                    "option_plugin_id",
                    "payment_plugin_id",
                    "kakaosync_plugin_id",
                    "profile_plugin_id",
                    "location_plugin_id",
                    "secure_image_plugin_id",
                )
            },
        ),
        (_("Plugin URLs"), {"fields": ("allowed_networks", "masked_plugin_key", "plugin_key_rotated_at", "plugin_url_list")}),
        (_("History"), {"fields": ("created_at", "updated_at")}),
    )

    def _swapped(self, request, obj, names):
        """Staff who may not change the app see its secrets as read-only fields: masked, never the value;
        the plugin URLs (they hold the plugin key) only with their own permission."""
        names = list(names)
        if obj is not None and not self.has_change_permission(request, obj):
            names = [f"masked_{n}" if n in ADMIN_SECRET_FIELDS else n for n in names]
        if not request.user.has_perm(PLUGIN_URLS_PERMISSION):
            names = ["plugin_url_list_hidden" if n == "plugin_url_list" else n for n in names]
        return names

    def get_fieldsets(self, request, obj=None):
        return [(t, {**o, "fields": self._swapped(request, obj, o["fields"])}) for t, o in super().get_fieldsets(request, obj)]

    def get_readonly_fields(self, request, obj=None):
        names = self._swapped(request, obj, super().get_readonly_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            names += [f"masked_{n}" for n in ADMIN_SECRET_FIELDS]
        return names

    @admin.display(description=_("plugin key"))
    def masked_plugin_key(self, obj: KakaoApp) -> str:
        return mask(obj.plugin_key) if obj.pk else gettext("(made on save)")

    @admin.display(description=_("URLs to register with Kakao"))
    def plugin_url_list_hidden(self, obj: KakaoApp) -> str:
        return gettext("(hidden: needs the “see plugin URLs” permission; they hold the plugin key)")

    @admin.display(description=_("URLs to register with Kakao"))
    def plugin_url_list(self, obj: KakaoApp):
        if not obj.pk:
            return "-"
        base = getattr(settings, "PUBLIC_BASE_URL", "") or "https://<your host>"
        # Kakao Sync's redirect URI (fixed per app, no plugin key) and the shape of the per-order
        # payment redirects a browser follows (sent in T1): docs/security.md.
        urls = plugin_urls(base, obj.plugin_key, app_id=obj.pk) | payment_redirect_patterns(base)
        return format_html(
            "<table>{}</table>",
            format_html_join("", "<tr><td>{}</td><td><code>{}</code></td></tr>", ((LABELS[k], v) for k, v in urls.items())),
        )

    @admin.action(description=_("Rotate the plugin key (all plugin URLs change)"), permissions=["change"])
    def rotate_plugin_key(self, request, queryset):
        for app in queryset:
            kakao_app_rotate_plugin_key(kakao_app=app)
        self.message_user(
            request,
            gettext("Rotated %(count)d plugin key(s). Register the new URLs with Kakao.") % {"count": queryset.count()},
            messages.WARNING,
        )


for _name in ADMIN_SECRET_FIELDS:
    setattr(KakaoAppAdmin, f"masked_{_name}", _masked_secret(_name))


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("app_user_id", "kakao_app", "blocked", "created_at")
    list_filter = ("kakao_app", "blocked")
    search_fields = ("app_user_id",)
    readonly_fields = ("created_at", "updated_at")
    actions = ["block", "unblock"]

    @admin.action(description=_("Block (payments answer 401)"), permissions=["change"])
    def block(self, request, queryset):
        for customer in queryset:
            customer_set_blocked(customer=customer, blocked=True, reason=f"blocked by {request.user}")

    @admin.action(description=_("Unblock"), permissions=["change"])
    def unblock(self, request, queryset):
        for customer in queryset:
            customer_set_blocked(customer=customer, blocked=False)
