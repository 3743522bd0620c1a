"""The inbound plugin calls' admin (what Kakao sent and what we answered) and the outbox's."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .masking import can_see_personal_data, mask_personal_text
from .models import InboundCall, OutboxMessage


class FailedFilter(admin.SimpleListFilter):
    title = _("outcome")
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return (
            ("failed", _("refused or failed (status ≠ 200)")),
            ("ok", _("answered 200")),
            ("open", _("no answer recorded")),
        )

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

    @admin.display(description=_("body (personal data masked)"))
    def masked_body(self, obj: InboundCall):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", mask_personal_text(obj.body)) if obj.body else "-"

    @admin.display(description=_("body"))
    def body_hidden(self, obj: InboundCall) -> str:
        if not obj.body:
            return "-"
        return gettext("(%(count)d characters; needs the “see inbound call bodies” permission)") % {"count": len(obj.body)}

    @admin.display(description=_("message"))
    def short_message(self, obj: InboundCall) -> str:
        return (obj.result_message[:80] + "…") if len(obj.result_message) > 80 else obj.result_message


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Work owed after a commit that is not dispatched yet (kakaoplugin.outbox): normally empty but
    for deferred rows (payment T2's refused orders' webhooks, emitted in batches at the dispatcher's
    next round); rows pile up while the broker or the cache is down and go once beat's dispatcher
    reaches them."""

    list_display = ("task", "args", "inline", "deferred", "attempts", "next_attempt_at", "last_error", "created_at")
    list_filter = ("task",)
    readonly_fields = ("task", "args", "inline", "deferred", "attempts", "next_attempt_at", "last_error", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
