"""Orders (one payment attempt each), their lines and their payment events."""

from __future__ import annotations

import secrets

from django.db import models

from kakaoplugin.models import KakaoApp

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
        PENDING = "pending", "pending (W)"
        HELD = "held", "held (W)"
        APPROVING = "approving", "approving (W)"
        PAID = "paid", "paid (S)"
        REFUNDING = "refunding", "refunding after failure (F)"
        FAILED = "failed", "failed (F)"
        CANCELLED = "cancelled", "cancelled (C)"

    class Flag(models.TextChoices):
        """Why staff must look at an order (filterable in the admin); empty: nothing to review."""

        NONE = "", "—"
        ANSWER_MISMATCH = "answer_mismatch", "KakaoPay answer does not match the order"
        DUPLICATE_TID = "duplicate_tid", "tid also held by another order (before the unique tid rule)"

    T4_STATUS = {
        Status.PENDING: "W",
        Status.HELD: "W",
        Status.APPROVING: "W",
        Status.PAID: "S",
        Status.REFUNDING: "F",
        Status.FAILED: "F",
        Status.CANCELLED: "C",
    }

    partner_order_id = models.CharField(max_length=100, unique=True, default=new_partner_order_id, editable=False)
    sheet = models.ForeignKey(OrderSheet, on_delete=models.PROTECT, related_name="orders")
    kakao_app = models.ForeignKey(KakaoApp, on_delete=models.PROTECT, related_name="orders")
    livemode = models.BooleanField("live mode", editable=False, help_text=LIVEMODE_HELP)
    app_user_id = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    partner_user_id = models.CharField(max_length=100)
    relay_id = models.CharField(max_length=200, null=True, blank=True, db_index=True)

    item_name = models.CharField(max_length=100)
    item_code = models.CharField(max_length=100, blank=True)
    quantity = models.PositiveIntegerField()
    goods_amount = models.BigIntegerField()
    shipping_fee = models.BigIntegerField(default=0)
    total_amount = models.BigIntegerField()
    tax_free_amount = models.BigIntegerField(default=0)
    vat_amount = models.BigIntegerField(default=0)
    use_shipping = models.BooleanField(default=True)
    zip_code = models.CharField("T1 zip code", max_length=10, blank=True)
    shipping_address = models.JSONField(null=True, blank=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    failure_message = models.CharField(max_length=200, blank=True, help_text="T4's message for F (Korean)")
    failure_reason = models.CharField(max_length=40, blank=True)

    # A tid belongs to one order for ever (unique per Kakao app: ``order_unique_tid_per_app``).
    tid = models.CharField(max_length=40, blank=True, db_index=True)
    # Set for 정기결제 orders (the sign-up payment and every scheduled charge): the subscription CID.
    cid = models.CharField("KakaoPay CID", max_length=10, blank=True, help_text="Empty: the app's CID")
    pg_token = models.CharField(max_length=100, blank=True)
    aid = models.CharField(max_length=40, blank=True)
    approved_amount = models.BigIntegerField(null=True, blank=True)
    approved_tax_free_amount = models.BigIntegerField(null=True, blank=True)
    approved_vat_amount = models.BigIntegerField(null=True, blank=True)
    payment_method = models.CharField(max_length=10, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    refunded_amount = models.BigIntegerField(default=0)
    refunded_tax_free_amount = models.BigIntegerField(default=0)
    refunded_vat_amount = models.BigIntegerField(default=0)

    hold_expires_at = models.DateTimeField(null=True, blank=True)
    # The approve/compensate worker's lease: a runner owns the order until then (see services).
    lease_until = models.DateTimeField(null=True, blank=True)
    approve_attempts = models.PositiveIntegerField(default=0)
    approve_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="Set (and committed) before an approve call: its outcome must be learned"
    )
    flag = models.CharField(
        "review flag", max_length=20, choices=Flag.choices, default="", blank=True, db_index=True,
        help_text="Set when something about the payment needs a person (see the payment events)",
    )
    flag_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

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

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField()
    amount = models.BigIntegerField(default=0)
    tax_free = models.BooleanField(default=False)
    catalog_option = models.ForeignKey(
        "catalog.Option", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    catalog_product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["order_id", "id"]


class PaymentEvent(models.Model):
    """Every inbound T2/T3 and every call to KakaoPay, recorded as it happens (secrets redacted).

    ``idempotency_key`` is unique: a replayed T3 (``t3:<order>:<pg_token>``) or a second approve
    attempt (``approve:<order>:<attempt>``) is recognised by it.
    """

    class Kind(models.TextChoices):
        T1_SERVED = "t1_served"
        T2_RECEIVED = "t2_received"
        T3_RECEIVED = "t3_received"
        BUYER_CANCELLED = "buyer_cancel"
        BUYER_FAILED = "buyer_fail"
        APPROVE_REQUEST = "approve_request"
        APPROVE_SUCCESS = "approve_success"
        APPROVE_FAILURE = "approve_failure"
        APPROVE_UNKNOWN = "approve_unknown"
        INQUIRY = "inquiry"
        CANCEL_REQUEST = "cancel_request"
        CANCEL_SUCCESS = "cancel_success"
        CANCEL_FAILURE = "cancel_failure"
        CANCEL_UNKNOWN = "cancel_unknown"
        STATE = "state"
        # a KakaoPay answer that is not about this order's payment (orders.payments.answers): never settles it
        ANSWER_MISMATCH = "answer_mismatch"
        # 정기결제 (orders.subscriptions): scheduled charges and calls about the sid
        CHARGE_REQUEST = "charge_request"
        CHARGE_SUCCESS = "charge_success"
        CHARGE_FAILURE = "charge_failure"
        CHARGE_UNKNOWN = "charge_unknown"
        SUBSCRIPTION = "subscription"

    class Outcome(models.TextChoices):
        OK = "ok"
        REFUSED = "refused"
        ERROR = "error"
        UNKNOWN = "unknown"
        REPLAY = "replay"
        INFO = "info"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=200, unique=True)
    request = models.JSONField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.INFO)
    message = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.CharField(max_length=150, blank=True, help_text="staff user for admin actions")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["kind", "outcome"], name="paymentevent_kind_outcome")]

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome}"
