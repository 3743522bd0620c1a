"""Orders (one payment attempt each), their lines and their payment events."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from kakaoplugin.models import KakaoApp

from ..status_cache import OrderQuerySet
from .sheets import LIVEMODE_HELP, OrderSheet


def new_partner_order_id() -> str:
    """Unguessable (192 random bits), url-safe, far below KakaoPay's 100 characters."""
    return "po_" + secrets.token_urlsafe(24)


class Order(models.Model):
    """One payment attempt on an order sheet (payment T1 creates it).

    Internal states and what T4 answers (``T4_STATUS``):

    ========== ============================================================= ===
    pending    T1 served, no tid yet                                         W
    held       T2 passed: tid and address stored, stock held                 W
    approving  approve claimed; call in flight or its outcome unknown        W
    paid       approved at KakaoPay, amount checked, stock sold              S
    refunding  approved but cannot be delivered: compensating cancel owed    F
    failed     declined, out of stock, expired, cancelled by the buyer, or   F
               compensated (refunded after a failed completion)
    cancelled  refunded in full after paid (admin)                           C
    ========== ============================================================= ===

    A partial refund keeps ``paid`` and adds to ``refunded_amount``.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("pending (W)")
        HELD = "held", _("held (W)")
        APPROVING = "approving", _("approving (W)")
        PAID = "paid", _("paid (S)")
        REFUNDING = "refunding", _("refunding after failure (F)")
        FAILED = "failed", _("failed (F)")
        CANCELLED = "cancelled", _("cancelled (C)")

    class Flag(models.TextChoices):
        """Why staff must look at an order (filterable in the admin); empty: nothing to review."""

        NONE = "", _("—")
        ANSWER_MISMATCH = "answer_mismatch", _("KakaoPay answer does not match the order")
        DUPLICATE_TID = "duplicate_tid", _("tid also held by another order (before the unique tid rule)")

    T4_STATUS = {
        Status.PENDING: "W",
        Status.HELD: "W",
        Status.APPROVING: "W",
        Status.PAID: "S",
        Status.REFUNDING: "F",
        Status.FAILED: "F",
        Status.CANCELLED: "C",
    }

    partner_order_id = models.CharField(_("partner order id"), max_length=100, unique=True, default=new_partner_order_id, editable=False)
    sheet = models.ForeignKey(OrderSheet, verbose_name=_("sheet"), on_delete=models.PROTECT, related_name="orders")
    kakao_app = models.ForeignKey(KakaoApp, verbose_name=_("kakao app"), on_delete=models.PROTECT, related_name="orders")
    livemode = models.BooleanField(_("live mode"), editable=False, help_text=LIVEMODE_HELP)
    app_user_id = models.CharField(_("app user id"), max_length=64, null=True, blank=True, db_index=True)
    partner_user_id = models.CharField(_("partner user id"), max_length=100)
    relay_id = models.CharField(_("relay id"), max_length=200, null=True, blank=True, db_index=True)

    item_name = models.CharField(_("item name"), max_length=100)
    item_code = models.CharField(_("item code"), max_length=100, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"))
    goods_amount = models.BigIntegerField(_("goods amount"))
    shipping_fee = models.BigIntegerField(_("shipping fee"), default=0)
    total_amount = models.BigIntegerField(_("total amount"))
    tax_free_amount = models.BigIntegerField(_("tax free amount"), default=0)
    vat_amount = models.BigIntegerField(_("vat amount"), default=0)
    use_shipping = models.BooleanField(_("use shipping"), default=True)
    zip_code = models.CharField(_("T1 zip code"), max_length=10, blank=True)
    shipping_address = models.JSONField(_("shipping address"), null=True, blank=True)

    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    failure_message = models.CharField(_("failure message"), max_length=200, blank=True, help_text=_("T4's message for F (Korean)"))
    failure_reason = models.CharField(_("failure reason"), max_length=40, blank=True)

    # A tid belongs to one order for ever (unique per Kakao app: ``order_unique_tid_per_app``).
    tid = models.CharField(_("tid"), max_length=40, blank=True, db_index=True)
    # Set for 정기결제 orders (the sign-up payment and every scheduled charge): the subscription CID.
    cid = models.CharField(_("KakaoPay CID"), max_length=10, blank=True, help_text=_("Empty: the app's CID"))
    pg_token = models.CharField(_("pg token"), max_length=100, blank=True)
    aid = models.CharField(_("aid"), max_length=40, blank=True)
    approved_amount = models.BigIntegerField(_("approved amount"), null=True, blank=True)
    approved_tax_free_amount = models.BigIntegerField(_("approved tax free amount"), null=True, blank=True)
    approved_vat_amount = models.BigIntegerField(_("approved vat amount"), null=True, blank=True)
    payment_method = models.CharField(_("payment method"), max_length=10, blank=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    refunded_amount = models.BigIntegerField(_("refunded amount"), default=0)
    refunded_tax_free_amount = models.BigIntegerField(_("refunded tax free amount"), default=0)
    refunded_vat_amount = models.BigIntegerField(_("refunded vat amount"), default=0)

    hold_expires_at = models.DateTimeField(_("hold expires at"), null=True, blank=True)
    # The approve/compensate worker's lease: a runner owns the order until then (see services).
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    approve_attempts = models.PositiveIntegerField(_("approve attempts"), default=0)
    approve_requested_at = models.DateTimeField(
        _("approve requested at"),
        null=True, blank=True, help_text=_("Set (and committed) before an approve call: its outcome must be learned")
    )
    flag = models.CharField(
        _("review flag"), max_length=20, choices=Flag.choices, default="", blank=True, db_index=True,
        help_text=_("Set when something about the payment needs a person (see the payment events)"),
    )
    flag_note = models.CharField(_("flag note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    objects = OrderQuerySet.as_manager()  # publishes T4's status after commit (orders.status_cache)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "hold_expires_at"], name="order_status_hold"),
            models.Index(fields=["status", "lease_until"], name="order_status_lease"),
        ]
        constraints = [
            # One KakaoPay payment (tid) is one order: no second order can ever settle by it.
            models.UniqueConstraint(
                fields=["kakao_app", "tid"], condition=~models.Q(tid=""), name="order_unique_tid_per_app"
            ),
        ]
        verbose_name = _("order")
        verbose_name_plural = _("orders")

    def __str__(self) -> str:
        return self.partner_order_id

    @property
    def t4_status(self) -> str:
        return self.T4_STATUS[self.status]

    @property
    def kakaopay_cid(self) -> str:
        """The CID this order is paid with (approve, inquiry, cancel): its own, else the app's."""
        return self.cid or self.kakao_app.cid

    @property
    def refundable_amount(self) -> int:
        return (self.approved_amount or 0) - self.refunded_amount


class OrderLine(models.Model):
    """What the order takes from stock (and what it says it sold), copied from the sheet."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(_("description"), max_length=300)
    quantity = models.PositiveIntegerField(_("quantity"))
    amount = models.BigIntegerField(_("amount"), default=0)
    tax_free = models.BooleanField(_("tax free"), default=False)
    catalog_option = models.ForeignKey(
        "catalog.Option", verbose_name=_("catalog option"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    catalog_product = models.ForeignKey(
        "catalog.Product", verbose_name=_("catalog product"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["order_id", "id"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")


class PaymentEvent(models.Model):
    """Every inbound T2/T3 and every call to KakaoPay, recorded as it happens (secrets redacted).

    ``idempotency_key`` is unique: a replayed T3 (``t3:<order>:<pg_token>``) or a second approve
    attempt (``approve:<order>:<attempt>``) is recognised by it.
    """

    class Kind(models.TextChoices):
        T1_SERVED = "t1_served", _("t1 served")
        T2_RECEIVED = "t2_received", _("t2 received")
        T3_RECEIVED = "t3_received", _("t3 received")
        BUYER_CANCELLED = "buyer_cancel", _("buyer cancelled")
        BUYER_FAILED = "buyer_fail", _("buyer failed")
        APPROVE_REQUEST = "approve_request", _("approve request")
        APPROVE_SUCCESS = "approve_success", _("approve success")
        APPROVE_FAILURE = "approve_failure", _("approve failure")
        APPROVE_UNKNOWN = "approve_unknown", _("approve unknown")
        INQUIRY = "inquiry", _("inquiry")
        CANCEL_REQUEST = "cancel_request", _("cancel request")
        CANCEL_SUCCESS = "cancel_success", _("cancel success")
        CANCEL_FAILURE = "cancel_failure", _("cancel failure")
        CANCEL_UNKNOWN = "cancel_unknown", _("cancel unknown")
        STATE = "state", _("state")
        # a KakaoPay answer that is not about this order's payment (orders.payments.answers): never settles it
        ANSWER_MISMATCH = "answer_mismatch", _("answer mismatch")
        # 정기결제 (orders.subscriptions): scheduled charges and calls about the sid
        CHARGE_REQUEST = "charge_request", _("charge request")
        CHARGE_SUCCESS = "charge_success", _("charge success")
        CHARGE_FAILURE = "charge_failure", _("charge failure")
        CHARGE_UNKNOWN = "charge_unknown", _("charge unknown")
        SUBSCRIPTION = "subscription", _("subscription")

    class Outcome(models.TextChoices):
        OK = "ok", _("ok")
        REFUSED = "refused", _("refused")
        ERROR = "error", _("error")
        UNKNOWN = "unknown", _("unknown")
        REPLAY = "replay", _("replay")
        INFO = "info", _("info")

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    request = models.JSONField(_("request"), null=True, blank=True)
    response = models.JSONField(_("response"), null=True, blank=True)
    http_status = models.PositiveIntegerField(_("http status"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.INFO)
    message = models.CharField(_("message"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration ms"), null=True, blank=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True, help_text=_("staff user for admin actions"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["kind", "outcome"], name="paymentevent_kind_outcome")]
        verbose_name = _("payment event")
        verbose_name_plural = _("payment events")

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome}"
