"""Admin of subscription plans (정기결제): what payment T1's ``automatic_payment`` says, with a
preview of the dated amounts a buyer signing up today would be shown (and charged)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..models import SubscriptionPlan


@admin.register(SubscriptionPlan)
class SubscriptionPlanAdmin(admin.ModelAdmin):
    list_display = ("product", "active", "message", "billing_cycle", "interval", "intro_amounts", "amount", "periods")
    list_filter = ("active", "billing_cycle")
    search_fields = ("product__code", "product__name", "message")
    autocomplete_fields = ("product",)
    readonly_fields = ("preview",)
    fieldsets = (
        (None, {"fields": ("product", "active", "message")}),
        (_("Schedule"), {"fields": (("billing_cycle", "interval"), "billing_cycle_label", "currency", "intro_amounts",
                                 "amount", "periods", "details_shown", "preview")}),
    )  # fmt: skip

    @admin.display(description=_("preview (signing up today, Asia/Seoul)"))
    def preview(self, obj):
        if obj is None or obj.pk is None:
            return gettext("save to preview")
        try:
            rule = obj.rule()
        except ValueError as exc:
            return str(exc)
        today = timezone.now().astimezone(ZoneInfo(settings.STORE_TIME_ZONE)).date()
        rows = rule.installments(today, count=obj.details_shown)
        return format_html(
            "<p>billing_cycle {} · currency {} · message {}</p><table><tr><th>#</th><th>date</th><th>amount</th></tr>{}</table>",
            obj.cycle_label, obj.currency, obj.message,
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                             ((i.seq if i.seq else "sign-up", f"{i.due_date:%Y-%m-%d}", f"{i.amount:,}") for i in rows)),
        )  # fmt: skip
