"""Admin of orders and payments: orders with their event log, refunds, failures; store rules."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kakaoplugin.admin_masking import PersonalDataMixin

from . import order_page, payments
from .models import (
    BusinessHours,
    ClosedDate,
    Order,
    OrderSheet,
    OrderSheetLine,
    PaymentEvent,
    RemoteAreaRange,
    StoreRules,
)
from .selectors import attention_q, order_page_get, sales_q

# --- store rules -------------------------------------------------------------------------------


class BusinessHoursInline(admin.TabularInline):
    model = BusinessHours
    extra = 0


class ClosedDateInline(admin.TabularInline):
    model = ClosedDate
    extra = 0


class RemoteAreaInline(admin.TabularInline):
    model = RemoteAreaRange
    extra = 0


@admin.register(StoreRules)
class StoreRulesAdmin(admin.ModelAdmin):
    list_display = ("kakao_app", "enforce_business_hours", "shipping_base_fee", "free_shipping_threshold", "updated_at")
    inlines = [BusinessHoursInline, ClosedDateInline, RemoteAreaInline]


# --- order sheets ------------------------------------------------------------------------------


class OrderSheetLineInline(PersonalDataMixin, admin.TabularInline):
    model = OrderSheetLine
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in OrderSheetLine._meta.fields]
    personal_fields = ("text",)  # a typed answer may be a name, a phone number, an address


@admin.register(OrderSheet)
class OrderSheetAdmin(admin.ModelAdmin):
    list_display = (
        "id", "kakao_app", "livemode", "product_name", "quantity", "total_amount", "status", "app_user_id", "created_at",
    )  # fmt: skip
    list_filter = ("status", "kakao_app", "livemode")
    search_fields = ("id", "app_user_id", "relay_id", "product_code")
    readonly_fields = [f.name for f in OrderSheet._meta.fields]
    inlines = [OrderSheetLineInline]


# --- orders ------------------------------------------------------------------------------------

FROM_ORDER_PAGE = "_from_order_page"  # an action posted from the order's page returns there


class TextFilter(admin.SimpleListFilter):
    """A free-text filter box (exact match) for ids staff paste: relay id, app user id."""

    template = "admin/orders/text_filter.html"

    def lookups(self, request, model_admin):
        return [("", "")]  # the box is the only choice

    def choices(self, changelist):
        # the template reads the other active parameters to keep them
        self.other_params = [(k, v) for k, v in changelist.get_filters_params().items() if k != self.parameter_name]
        return []

    def has_output(self):
        return True

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.parameter_name: self.value().strip()})
        return queryset


class RelayIdFilter(TextFilter):
    title = _("relay id")
    parameter_name = "relay_id"


class AppUserFilter(TextFilter):
    title = _("app user id")
    parameter_name = "app_user_id"


class AttentionFilter(admin.SimpleListFilter):
    """The dashboard's "needs attention" numbers link here (the same predicates: orders.selectors)."""

    title = _("needs attention")
    parameter_name = "attention"
    KINDS = {"yes": "any", "stuck": "stuck", "refund_owed": "refund_owed", "mismatch": "mismatch"}

    def lookups(self, request, model_admin):
        return [
            ("yes", _("refund owed, approval unsettled, a failed KakaoPay call, or flagged for review")),
            ("stuck", _("Approval stuck")),
            ("refund_owed", _("Refund owed")),
            ("mismatch", _("KakaoPay answer mismatch")),
        ]

    def queryset(self, request, queryset):
        if self.value() in self.KINDS:
            return queryset.filter(attention_q(self.KINDS[self.value()]))
        return queryset


class SalesFilter(admin.SimpleListFilter):
    """Live orders approved today / this week (Asia/Seoul) and kept: the dashboard's sales."""

    title = _("sales")
    parameter_name = "sales"

    def lookups(self, request, model_admin):
        return [("today", _("Today")), ("week", _("This week"))]

    def queryset(self, request, queryset):
        if self.value() in ("today", "week"):
            return queryset.filter(sales_q(self.value()))
        return queryset


class RefundForm(forms.Form):
    KIND = (("full", _("Full: everything still refundable")), ("partial", _("Partial: the amounts below")))
    kind = forms.ChoiceField(label=_("refund"), choices=KIND, widget=forms.RadioSelect, initial="full")
    amount = forms.IntegerField(label=_("amount"), required=False, min_value=1, help_text=_("KRW (partial only)"))
    tax_free_amount = forms.IntegerField(label=_("tax free amount"), required=False, min_value=0,
                                         help_text=_("KRW, tax-free part (partial only)"))  # fmt: skip
    vat_amount = forms.IntegerField(label=_("vat amount"), required=False, min_value=0,
                                    help_text=_("KRW; empty: (amount − tax free) / 11"))  # fmt: skip

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == "partial" and not cleaned.get("amount"):
            raise forms.ValidationError(_("A partial refund needs an amount."))
        return cleaned


@admin.register(Order)
class OrderAdmin(PersonalDataMixin, admin.ModelAdmin):
    list_display = (
        "partner_order_id", "kakao_app", "livemode", "status", "t4", "total_amount", "shipping_fee", "refunded_amount",
        "app_user_id", "relay_id", "failure_message", "created_at",
    )  # fmt: skip
    list_filter = ("status", AttentionFilter, SalesFilter, "flag", "kakao_app", "livemode", RelayIdFilter, AppUserFilter, "created_at")
    date_hierarchy = "created_at"
    search_fields = ("partner_order_id", "tid", "aid", "app_user_id", "relay_id", "sheet__id")
    list_select_related = ("kakao_app",)
    readonly_fields = [f.name for f in Order._meta.fields] + ["t4"]
    actions = ["refund", "check_with_kakaopay"]
    personal_fields = ("shipping_address",)
    # The page reads like a receipt with the payment events as a timeline (orders.order_page);
    # every stored field stays below, folded.
    change_form_template = "admin/orders/order/change_form.html"
    FOLDED = ("collapse",)
    fieldsets = (
        (_("Order record"), {"classes": FOLDED, "fields": ("partner_order_id", "kakao_app", "livemode", "sheet",
                             "status", "t4", "failure_message", "failure_reason", "flag", "flag_note")}),
        (_("Buyer"), {"classes": FOLDED, "fields": ("app_user_id", "partner_user_id", "relay_id", "zip_code",
                                                 "shipping_address")}),
        (_("Amounts"), {"classes": FOLDED, "fields": ("item_name", "item_code", "quantity", "goods_amount",
                                                   "shipping_fee", "total_amount", "tax_free_amount", "vat_amount",
                                                   "use_shipping")}),
        (_("KakaoPay"), {"classes": FOLDED, "fields": ("tid", "aid", "payment_method", "approved_amount",
                                                    "approved_tax_free_amount", "approved_vat_amount", "approved_at",
                                                    "refunded_amount", "refunded_tax_free_amount", "refunded_vat_amount",
                                                    "approve_attempts", "approve_requested_at", "lease_until",
                                                    "hold_expires_at")}),
        (_("Times"), {"classes": FOLDED, "fields": ("created_at", "updated_at", "completed_at")}),
    )  # fmt: skip

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = order_page_get(pk=int(object_id)) if str(object_id).isdigit() else None
        if order is not None and self.has_view_permission(request, order):
            extra_context = {
                **(extra_context or {}),
                "receipt": order_page.receipt(order, request.user),
                "timeline": order_page.timeline(order, request.user),
                "can_act": self.has_change_permission(request, order),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def _back_to_order(self, request, orders):
        """After an action started from the order's page: back to that page."""
        if request.POST.get(FROM_ORDER_PAGE) and len(orders) == 1:
            return HttpResponseRedirect(reverse("admin:orders_order_change", args=[orders[0].pk]))
        return None

    @admin.display(description=_("T4"))
    def t4(self, obj: Order) -> str:
        return obj.t4_status

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Cancel / refund at KakaoPay (full or partial)…"), permissions=["change"])
    def refund(self, request, queryset):
        orders = list(queryset)
        if request.POST.get("confirm") == "yes":
            form = RefundForm(request.POST)
            if form.is_valid():
                partial = form.cleaned_data["kind"] == "partial"
                if partial and len(orders) != 1:
                    self.message_user(request, gettext("A partial refund is for one order at a time."), messages.ERROR)
                    return None
                for order in orders:
                    try:
                        done = payments.payment_refund(
                            order_id=order.pk,
                            amount=form.cleaned_data["amount"] if partial else None,
                            tax_free_amount=form.cleaned_data["tax_free_amount"] if partial else None,
                            vat_amount=form.cleaned_data["vat_amount"] if partial else None,
                            staff=request.user.get_username(),
                        )
                    except payments.RefundError as exc:
                        self.message_user(request, str(exc), messages.ERROR)
                    else:
                        state = gettext("cancelled (C)") if done.full else gettext("partially refunded")
                        # not starting with the id: the admin capitalizes a message's first letter (po_… → Po_…)
                        self.message_user(
                            request,
                            gettext("Order %(order)s: %(amount)s refunded, %(state)s.")
                            % {"order": order, "amount": done.amount, "state": state},
                            messages.SUCCESS,
                        )
                return self._back_to_order(request, orders)
        else:
            form = RefundForm()
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Cancel / refund at KakaoPay"),
            "orders": orders,
            "form": form,
            "opts": self.model._meta,
            "from_order_page": FROM_ORDER_PAGE if request.POST.get(FROM_ORDER_PAGE) else "",
        }
        return TemplateResponse(request, "admin/orders/order/refund.html", context)

    @admin.action(description=_("Check with KakaoPay (settle a stuck approval or refund now)"), permissions=["change"])
    def check_with_kakaopay(self, request, queryset):
        orders = list(queryset)
        for order in orders:
            result = payments.payment_check(order_id=order.pk)
            order.refresh_from_db()
            self.message_user(
                request,
                gettext("Order %(order)s: %(result)s; now %(status)s")
                % {"order": order, "result": result, "status": order.get_status_display()},
            )
        return self._back_to_order(request, orders)


@admin.register(PaymentEvent)
class PaymentEventAdmin(PersonalDataMixin, admin.ModelAdmin):
    list_display = ("created_at", "order", "kind", "outcome", "http_status", "message", "duration_ms", "created_by")
    list_filter = ("kind", "outcome", "created_at")
    search_fields = ("order__partner_order_id", "idempotency_key", "message")
    list_select_related = ("order",)
    readonly_fields = [f.name for f in PaymentEvent._meta.fields]
    personal_fields = ("request", "response")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


from . import subscription_admin  # noqa: E402,F401  (registers the subscription admin)
