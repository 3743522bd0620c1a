"""The webhooks' admin: endpoints (the signing secret shown once), deliveries and their attempts."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .admin_filters import AttemptedWithinFilter
from .admin_masking import PersonalDataMixin, pretty_json
from .fields import mask
from .masking import mask_personal
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .services import webhook_endpoint_create, webhook_endpoint_rotate_secret, webhook_resend


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

    @admin.display(description=_("signing secret"))
    def signing_secret(self, obj: WebhookEndpoint) -> str:
        # shown once, in a message, when made or rotated; never rendered again
        return gettext("set (%(masked)s)") % {"masked": mask(obj.secret)} if obj.pk else gettext("(made on save, shown once)")

    def _show_once(self, request, endpoint: WebhookEndpoint) -> None:
        self.message_user(
            request,
            format_html(
                gettext("Signing secret of {} (shown this once, copy it now): <code>{}</code>"), endpoint.url, endpoint.secret
            ),
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

    @admin.action(description=_("Rotate the signing secret (shown once)"), permissions=["change"])
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

    @admin.display(description=_("payload"))
    def payload(self, obj: WebhookDelivery):
        return pretty_json(obj.event.payload)

    @admin.display(description=_("payload (personal data masked)"))
    def masked_payload(self, obj: WebhookDelivery):
        return pretty_json(mask_personal(obj.event.payload))

    @admin.action(description=_("Resend now"), permissions=["change"])
    def resend(self, request, queryset):
        for delivery in queryset:
            webhook_resend(delivery=delivery)
        count = queryset.count()
        self.message_user(
            request,
            gettext("Queued %(count)d delivery(ies) again.") % {"count": count},
        )
