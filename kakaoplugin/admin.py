from __future__ import annotations

import copy

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from .admin_filters import AttemptedWithinFilter
from .admin_masking import PersonalDataMixin, pretty_json
from .fields import mask
from .masking import can_see_personal_data, mask_personal, mask_personal_text
from .models import (
    Customer,
    InboundCall,
    KakaoApp,
    MerchantApiKey,
    OutboxMessage,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from .plugin_paths import LABELS, payment_redirect_patterns, plugin_urls
from .services import (
    SECRET_FIELDS,
    api_key_create,
    api_key_revoke,
    customer_set_blocked,
    kakao_app_rotate_plugin_key,
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_resend,
)

admin.site.site_header = "Kakao TalkBiz plugin backend"
admin.site.site_title = "TalkBiz plugins"

# Write-only in the admin: never rendered after they are saved, to anyone (masked, "replace" input).
ADMIN_SECRET_FIELDS = ("rest_api_key", *SECRET_FIELDS)
PLUGIN_URLS_PERMISSION = "kakaoplugin.view_plugin_urls"
# API key scopes that read personal data: only staff who may see it can grant them.
PERSONAL_SCOPES = (MerchantApiKey.Scope.SHIPPING, MerchantApiKey.Scope.PERSONAL)


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
            state = f"set ({mask(current)})" if current else "not set"
            field.help_text = f"Currently {state}. Leave blank to keep; type a new value to replace."

    def clean(self):
        cleaned = super().clean()
        for name in ADMIN_SECRET_FIELDS:
            if not cleaned.get(name) and self.instance.pk:
                cleaned[name] = getattr(self.instance, name)  # blank means "keep"
        return cleaned


def _masked_secret(name: str):
    def display(self, obj):
        value = getattr(obj, name, "")
        return f"set ({mask(value)})" if value else "not set"

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
        (
            "Plugin ids (from Kakao's plugin admin center)",
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
        ("Plugin URLs", {"fields": ("allowed_networks", "masked_plugin_key", "plugin_key_rotated_at", "plugin_url_list")}),
        ("History", {"fields": ("created_at", "updated_at")}),
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

    @admin.display(description="plugin key")
    def masked_plugin_key(self, obj: KakaoApp) -> str:
        return mask(obj.plugin_key) if obj.pk else "(made on save)"

    @admin.display(description="URLs to register with Kakao")
    def plugin_url_list_hidden(self, obj: KakaoApp) -> str:
        return "(hidden: needs the “see plugin URLs” permission; they hold the plugin key)"

    @admin.display(description="URLs to register with Kakao")
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

    @admin.action(description="Rotate the plugin key (all plugin URLs change)", permissions=["change"])
    def rotate_plugin_key(self, request, queryset):
        for app in queryset:
            kakao_app_rotate_plugin_key(kakao_app=app)
        self.message_user(
            request,
            f"Rotated {queryset.count()} plugin key(s). Register the new URLs with Kakao.",
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

    @admin.action(description="Block (payments answer 401)", permissions=["change"])
    def block(self, request, queryset):
        for customer in queryset:
            customer_set_blocked(customer=customer, blocked=True, reason=f"blocked by {request.user}")

    @admin.action(description="Unblock", permissions=["change"])
    def unblock(self, request, queryset):
        for customer in queryset:
            customer_set_blocked(customer=customer, blocked=False)


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=MerchantApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = MerchantApiKey
        fields = ("kakao_app", "name", "scopes")


@admin.register(MerchantApiKey)
class MerchantApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ("name", "kakao_app", "masked", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("kakao_app", "revoked_at")
    readonly_fields = ("masked", "created_by", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    @admin.display(description="key")
    def masked(self, obj: MerchantApiKey) -> str:
        return f"kp_{obj.prefix}_…" if obj.prefix else "(shown once, on save)"

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if "scopes" in form.base_fields and not can_see_personal_data(request.user):
            # a key with a personal scope reads what this staff member may not see: not theirs to make
            field = form.base_fields["scopes"] = copy.deepcopy(form.base_fields["scopes"])
            field.choices = [(v, label) for v, label in field.choices if v not in PERSONAL_SCOPES]
            field.help_text = "Scopes that read personal data need the “see personal data” permission."
        return form

    def get_readonly_fields(self, request, obj=None):
        # a key's app and scopes are fixed once made: make a new key instead
        return (*self.readonly_fields, "kakao_app", "scopes") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        key, plain = api_key_create(
            kakao_app=form.cleaned_data["kakao_app"],
            name=form.cleaned_data["name"],
            scopes=list(form.cleaned_data["scopes"]),
            created_by=request.user.get_username(),
        )
        obj.pk, obj.prefix = key.pk, key.prefix
        obj._state.adding = False
        self.message_user(
            request,
            format_html("New API key (shown this once, copy it now): <code>{}</code>", plain),
            messages.WARNING,
        )

    @admin.action(description="Revoke (stops working at once)", permissions=["change"])
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(api_key=key)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "at", "status_code", "error", "duration_ms")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "kakao_app", "event_types", "is_active", "created_at")
    list_filter = ("kakao_app", "is_active")
    readonly_fields = ("signing_secret", "created_at")
    fields = ("kakao_app", "url", "event_types", "is_active", "signing_secret", "created_at")
    actions = ["rotate_secret"]

    @admin.display(description="signing secret")
    def signing_secret(self, obj: WebhookEndpoint) -> str:
        # shown once, in a message, when made or rotated; never rendered again
        return f"set ({mask(obj.secret)})" if obj.pk else "(made on save, shown once)"

    def _show_once(self, request, endpoint: WebhookEndpoint) -> None:
        self.message_user(
            request,
            format_html("Signing secret of {} (shown this once, copy it now): <code>{}</code>", endpoint.url, endpoint.secret),
            messages.WARNING,
        )

    def save_model(self, request, obj, form, change):
        if not change:
            made = webhook_endpoint_create(
                kakao_app=obj.kakao_app, url=obj.url, event_types=obj.event_types or []
            )
            obj.pk, obj.secret = made.pk, made.secret
            obj._state.adding = False
            if not obj.is_active:
                WebhookEndpoint.objects.filter(pk=obj.pk).update(is_active=False)
            self._show_once(request, made)
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Rotate the signing secret (shown once)", permissions=["change"])
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            self._show_once(request, webhook_endpoint_rotate_secret(endpoint=endpoint))


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(PersonalDataMixin, admin.ModelAdmin):
    list_display = ("event", "endpoint", "status", "attempts", "last_status_code", "next_attempt_at", "created_at")
    list_filter = ("status", AttemptedWithinFilter, "endpoint__kakao_app", "event__type")
    search_fields = ("event__id", "endpoint__url")
    readonly_fields = (
        "event", "endpoint", "status", "attempts", "next_attempt_at", "give_up_at", "last_status_code",
        "last_error", "delivered_at", "created_at", "payload",
    )  # fmt: skip
    inlines = [WebhookAttemptInline]
    actions = ["resend"]
    personal_fields = ("payload",)

    def has_add_permission(self, request):
        return False

    @admin.display(description="payload")
    def payload(self, obj: WebhookDelivery):
        return pretty_json(obj.event.payload)

    @admin.display(description="payload (personal data masked)")
    def masked_payload(self, obj: WebhookDelivery):
        return pretty_json(mask_personal(obj.event.payload))

    @admin.action(description="Resend now", permissions=["change"])
    def resend(self, request, queryset):
        for delivery in queryset:
            webhook_resend(delivery=delivery)
        self.message_user(request, f"Queued {queryset.count()} delivery(ies) again.")


class FailedFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return (("failed", "refused or failed (status ≠ 200)"), ("ok", "answered 200"), ("open", "no answer recorded"))

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.exclude(result_status=200).exclude(result_status__isnull=True)
        if self.value() == "ok":
            return queryset.filter(result_status=200)
        if self.value() == "open":
            return queryset.filter(result_status__isnull=True)
        return queryset


@admin.register(InboundCall)
class InboundCallAdmin(admin.ModelAdmin):
    """Every plugin call Kakao made (but option T1 and T4), with what we answered."""

    list_display = ("received_at", "endpoint", "method", "kakao_app", "result_status", "short_message", "relay_id", "app_user_id", "duration_ms")
    list_filter = (FailedFilter, "endpoint", "result_status", "kakao_app", "received_at")
    search_fields = ("=relay_id", "=app_user_id", "result_message")
    date_hierarchy = "received_at"
    list_select_related = ("kakao_app",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        fields = [
            "received_at", "kakao_app", "endpoint", "method", "source_ip", "app_user_id", "relay_id", "headers",
            "query", "http_status", "result_status", "result_message", "duration_ms", "body_purged_at",
        ]  # fmt: skip
        if request.user.has_perm("kakaoplugin.view_inbound_body"):
            fields.insert(9, "body" if can_see_personal_data(request.user) else "masked_body")
        else:
            fields.insert(9, "body_hidden")
        return fields

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="body (personal data masked)")
    def masked_body(self, obj: InboundCall):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", mask_personal_text(obj.body)) if obj.body else "-"

    @admin.display(description="body")
    def body_hidden(self, obj: InboundCall) -> str:
        return f"({len(obj.body)} characters; needs the “see inbound call bodies” permission)" if obj.body else "-"

    @admin.display(description="message")
    def short_message(self, obj: InboundCall) -> str:
        return (obj.result_message[:80] + "…") if len(obj.result_message) > 80 else obj.result_message


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Work owed after a commit that is not dispatched yet (kakaoplugin.outbox): normally empty; rows
    pile up while the broker or the cache is down and go once beat's dispatcher reaches them."""

    list_display = ("task", "args", "inline", "attempts", "next_attempt_at", "last_error", "created_at")
    list_filter = ("task",)
    readonly_fields = ("task", "args", "inline", "attempts", "next_attempt_at", "last_error", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
