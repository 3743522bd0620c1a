"""Admin of subscriptions (정기결제): state, past and upcoming charges, cancel (KakaoPay inactive),
KakaoPay's status of the sid, resume.  Each charge is an order (linked) refunded from the order
admin like any other."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kakaoplugin.fields import mask

from . import subscriptions
from .models import Subscription, SubscriptionInstallment


def _seoul(moment) -> str:
    return f"{moment.astimezone(subscriptions.store_zone()):%Y-%m-%d %H:%M}" if moment else "-"


def _order_link(order) -> str:
    if order is None:
        return "-"
    url = reverse("admin:orders_order_change", args=[order.pk])
    return format_html('<a href="{}">{}</a> ({})', url, order.partner_order_id[:14] + "…", order.get_status_display())


class InstallmentInline(admin.TabularInline):
    model = SubscriptionInstallment
    verbose_name_plural = "charges so far (each is an order: refund it there)"
    extra = 0
    can_delete = False
    fields = ("seq", "due_date", "amount", "status", "charge_order", "attempts", "declines", "next_attempt", "paid_at", "last_error")
    readonly_fields = fields
    ordering = ("seq",)

    @admin.display(description=_("order"))
    def charge_order(self, obj):
        return _order_link(obj.order)

    @admin.display(description=_("next attempt (Asia/Seoul)"))
    def next_attempt(self, obj):
        return _seoul(obj.next_attempt_at) if obj.status in ("scheduled", "retry") else "-"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = (
        "id", "item_name", "app_user_id", "state", "next_charge", "next_amount", "kakao_app", "livemode", "created_at",
    )  # fmt: skip
    list_filter = ("state", "kakao_app", "livemode", "created_at")
    search_fields = ("app_user_id", "partner_user_id", "signup_order__partner_order_id", "item_name")
    list_select_related = ("kakao_app",)
    inlines = [InstallmentInline]
    actions = ["cancel_at_kakaopay", "check_status", "resume"]
    fieldsets = (
        (None, {"fields": ("kakao_app", "livemode", "state", "state_reason", "signup", "plan", "item_name", "quantity")}),
        (_("Member"), {"fields": ("app_user_id", "partner_user_id")}),
        (_("Schedule"), {"fields": ("message", "billing_cycle_label", "currency", "anchor_date", "rule_shown",
                                 "next_charge", "upcoming")}),
        (_("KakaoPay"), {"fields": ("cid", "sid_masked", "last_approved_at", "kakaopay_state", "kakaopay_status_at",
                                 "inactivated_at")}),
        (_("Times"), {"fields": ("created_at", "activated_at", "cancelled_at", "cancelled_by", "updated_at")}),
    )  # fmt: skip
    readonly_fields = [
        "kakao_app", "livemode", "state", "state_reason", "signup", "plan", "item_name", "quantity", "app_user_id",
        "partner_user_id", "message", "billing_cycle_label", "currency", "anchor_date", "rule_shown", "next_charge",
        "upcoming", "cid", "sid_masked", "last_approved_at", "kakaopay_state", "kakaopay_status_at",
        "inactivated_at", "created_at", "activated_at", "cancelled_at", "cancelled_by", "updated_at",
    ]  # fmt: skip

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("sign-up order"))
    def signup(self, obj):
        return _order_link(obj.signup_order)

    @admin.display(description=_("sid"))
    def sid_masked(self, obj):
        return mask(obj.sid) or "-"

    @admin.display(description=_("rule (as at sign-up)"))
    def rule_shown(self, obj):
        r = obj.rule
        intro = ", ".join(str(a) for a in r.get("intro_amounts") or []) or "-"
        periods = r.get("periods") or gettext("until cancelled")
        return gettext("every %(interval)s %(cycle)s; intro %(intro)s; then %(amount)s; payments: %(periods)s") % {
            "interval": r["interval"], "cycle": r["cycle"], "intro": intro, "amount": r["amount"], "periods": periods,
        }

    @admin.display(description=_("next charge (Asia/Seoul)"))
    def next_charge(self, obj):
        return _seoul(obj.next_due_at) if obj.state == Subscription.State.ACTIVE else "-"

    @admin.display(description=_("next amount"))
    def next_amount(self, obj):
        if obj.state != Subscription.State.ACTIVE:
            return "-"
        upcoming = subscriptions.schedule(obj, start=obj.next_seq, count=1)
        return upcoming[0].amount if upcoming else "-"

    @admin.display(description=_("upcoming charges"))
    def upcoming(self, obj):
        if obj.state not in (Subscription.State.ACTIVE, Subscription.State.SUSPENDED):
            return gettext("none (%(state)s)") % {"state": obj.get_state_display()}
        rows = subscriptions.schedule(obj, start=obj.next_seq, count=6)
        if not rows:
            return gettext("none")
        note = "" if obj.state == Subscription.State.ACTIVE else gettext(" (suspended: not charged unless resumed)")
        return format_html(
            "<table><tr><th>#</th><th>{}</th><th>{}</th></tr>{}</table>{}",
            gettext("date (Asia/Seoul)"), gettext("amount"),
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                             ((i.seq, f"{i.due_date:%Y-%m-%d}", f"{i.amount:,} {obj.currency}") for i in rows)),
            note,
        )  # fmt: skip

    @admin.display(description=_("KakaoPay status"))
    def kakaopay_state(self, obj):
        if not obj.kakaopay_status:
            return gettext("not checked (action: Check status at KakaoPay)")
        s = obj.kakaopay_status
        return f"{s.get('status', '?')}; last approved {s.get('last_approved_at') or '-'}; inactivated {s.get('inactivated_at') or '-'}"

    @admin.action(description=_("Cancel subscription (KakaoPay inactive; no more charges)"), permissions=["change"])
    def cancel_at_kakaopay(self, request, queryset):
        for sub in queryset:
            try:
                sub = subscriptions.subscription_cancel(subscription_id=sub.pk, staff=request.user.get_username())
            except subscriptions.SubscriptionError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                done = gettext("inactive at KakaoPay") if sub.inactivated_at else gettext("no sid at KakaoPay")
                self.message_user(
                    request,
                    gettext("Subscription %(id)s cancelled (%(done)s).") % {"id": sub.pk, "done": done},
                    messages.SUCCESS,
                )

    @admin.action(description=_("Check status at KakaoPay"), permissions=["view"])
    def check_status(self, request, queryset):
        for sub in queryset:
            try:
                self.message_user(request, subscriptions.subscription_check_status(
                    subscription_id=sub.pk, staff=request.user.get_username()))  # fmt: skip
            except subscriptions.SubscriptionError as exc:
                self.message_user(request, str(exc), messages.ERROR)

    @admin.action(description=_("Resume a suspended subscription (from the next date)"), permissions=["change"])
    def resume(self, request, queryset):
        for sub in queryset:
            try:
                sub = subscriptions.subscription_resume(subscription_id=sub.pk, staff=request.user.get_username(),
                                                        now=timezone.now())  # fmt: skip
            except subscriptions.SubscriptionError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("Subscription %(id)s active; next charge %(when)s.")
                    % {"id": sub.pk, "when": _seoul(sub.next_due_at)},
                )
