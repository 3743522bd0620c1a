from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from .fields import mask
from .models import Customer, KakaoApp
from .plugin_paths import LABELS, plugin_urls
from .services import SECRET_FIELDS, customer_set_blocked, kakao_app_rotate_plugin_key

admin.site.site_header = "Kakao TalkBiz plugin backend"
admin.site.site_title = "TalkBiz plugins"


class SecretInput(forms.PasswordInput):
    """Never renders the stored secret; shows whether one is set."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, render_value=False, **kwargs)


class KakaoAppForm(forms.ModelForm):
    class Meta:
        model = KakaoApp
        fields = "__all__"
        widgets = {name: SecretInput() for name in SECRET_FIELDS}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            field = self.fields.get(name)
            if field is None:
                continue
            field.required = False
            current = getattr(self.instance, name, "") if self.instance.pk else ""
            state = f"set ({mask(current)})" if current else "not set"
            field.help_text = f"Currently {state}. Leave blank to keep; type a new value to replace."

    def clean(self):
        cleaned = super().clean()
        for name in SECRET_FIELDS:
            if not cleaned.get(name) and self.instance.pk:
                cleaned[name] = getattr(self.instance, name)  # blank means "keep"
        return cleaned


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
        ("Kakao", {"fields": ("rest_api_key", "kakao_client_secret")}),
        (
            "KakaoPay",
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
        ("Plugin URLs", {"fields": ("allowed_networks", "masked_plugin_key", "plugin_key_rotated_at", "plugin_url_list")}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="plugin key")
    def masked_plugin_key(self, obj: KakaoApp) -> str:
        return mask(obj.plugin_key) if obj.pk else "(made on save)"

    @admin.display(description="URLs to register with Kakao")
    def plugin_url_list(self, obj: KakaoApp):
        if not obj.pk:
            return "-"
        base = getattr(settings, "PUBLIC_BASE_URL", "") or "https://<your host>"
        urls = plugin_urls(base, obj.plugin_key)
        return format_html(
            "<table>{}</table>",
            format_html_join("", "<tr><td>{}</td><td><code>{}</code></td></tr>", ((LABELS[k], v) for k, v in urls.items())),
        )

    @admin.action(description="Rotate the plugin key (all plugin URLs change)")
    def rotate_plugin_key(self, request, queryset):
        for app in queryset:
            kakao_app_rotate_plugin_key(kakao_app=app)
        self.message_user(
            request,
            f"Rotated {queryset.count()} plugin key(s). Register the new URLs with Kakao.",
            messages.WARNING,
        )


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("app_user_id", "kakao_app", "blocked", "created_at")
    list_filter = ("kakao_app", "blocked")
    search_fields = ("app_user_id",)
    readonly_fields = ("created_at", "updated_at")
    actions = ["block", "unblock"]

    @admin.action(description="Block (payments answer 401)")
    def block(self, request, queryset):
        for customer in queryset:
            customer_set_blocked(customer=customer, blocked=True, reason=f"blocked by {request.user}")

    @admin.action(description="Unblock")
    def unblock(self, request, queryset):
        for customer in queryset:
            customer_set_blocked(customer=customer, blocked=False)
