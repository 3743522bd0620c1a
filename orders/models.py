"""Order sheets (the option plugin's "temporary order", later the payment plugin's
``ordersheet_id``), orders, payments.

A sheet holds a snapshot of every chosen line: names, values, prices as they were when the buyer
chose, so later catalog edits never change what an order says it sold.
"""

from __future__ import annotations

import secrets

from django.db import models

from kakaoplugin.fields import EncryptedTextField
from kakaoplugin.models import KakaoApp

from .status_cache import OrderQuerySet

LIVEMODE_HELP = (
    "False for a test app's (KakaoApp.environment test): a test order uses the catalog's test stock and is "
    "not a sale. Stamped from the app at creation, never changed"
)


def new_order_sheet_id() -> str:
    """Unguessable (144 random bits), url-safe, well under Kakao's 100-character limits."""
    return "os_" + secrets.token_urlsafe(18)


class OrderSheet(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "open"
        ORDERED = "ordered", "paid"
        CANCELLED = "cancelled", "cancelled"

    id = models.CharField(primary_key=True, max_length=40, default=new_order_sheet_id, editable=False)
    kakao_app = models.ForeignKey(KakaoApp, on_delete=models.PROTECT, related_name="order_sheets")
    livemode = models.BooleanField("live mode", editable=False, help_text=LIVEMODE_HELP)
    app_user_id = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    relay_id = models.CharField(max_length=200, null=True, blank=True, db_index=True)
    product = models.ForeignKey("catalog.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    product_code = models.CharField(max_length=100)
    product_name = models.CharField(max_length=200)
    product_url = models.CharField(max_length=500, blank=True)
    unit_price = models.BigIntegerField(default=0)
    quantity = models.PositiveIntegerField(default=1)
    total_amount = models.BigIntegerField(help_text="KRW, recomputed on the server from the catalog")
    tax_free_amount = models.BigIntegerField(default=0)
    use_shipping = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.id} {self.product_name} ×{self.quantity}"


class OrderSheetLine(models.Model):
    """One chosen answer: an option picked, or a TEXT/NUMBERS/INTEGER/DATE answer given."""

    sheet = models.ForeignKey(OrderSheet, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    group_id = models.CharField(max_length=100)
    group_name = models.CharField(max_length=200)
    group_type = models.CharField(max_length=20)
    sub_group_id = models.CharField(max_length=200, blank=True)
    option_id = models.CharField(max_length=100, blank=True)
    option_value = models.CharField(max_length=200, blank=True)
    # The catalog row whose stock this line takes (None for answers and options unlimited in both modes).
    catalog_option = models.ForeignKey(
        "catalog.Option", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    add_price = models.BigIntegerField(default=0)
    quantity = models.PositiveIntegerField(null=True, blank=True, help_text="Set when chosen with its own quantity")
    amount = models.BigIntegerField(default=0, help_text="What this line adds to the sheet's total")
    extra = models.CharField(max_length=500, null=True, blank=True)
    text = models.CharField(max_length=2000, null=True, blank=True)

    class Meta:
        ordering = ["sheet_id", "position"]


# --- store rules -----------------------------------------------------------------------------


class StoreRules(models.Model):
    """Per Kakao app: when the store takes orders (Asia/Seoul) and what shipping costs.

    No rules for an app: always open, free shipping.
    """

    kakao_app = models.OneToOneField(KakaoApp, on_delete=models.CASCADE, related_name="store_rules")
    enforce_business_hours = models.BooleanField(
        default=True, help_text="Off: orders are taken at any time (closed dates still apply)."
    )
    closed_message = models.CharField(max_length=200, default="지금은 매장 운영시간이 아닙니다.")
    shipping_base_fee = models.PositiveIntegerField("base shipping fee (KRW)", default=0)
    free_shipping_threshold = models.PositiveIntegerField(
        "free shipping from (KRW)", default=0, help_text="Goods total at or above this ships free; 0: never free."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "store rules"
        verbose_name_plural = "store rules"

    def __str__(self) -> str:
        return f"store rules of {self.kakao_app.name}"


class BusinessHours(models.Model):
    """One opening window on a weekday, in Asia/Seoul. ``closes`` at or before ``opens`` runs
    past midnight (e.g. 18:00–02:00); 00:00–00:00 is the whole day."""

    class Weekday(models.IntegerChoices):
        MON = 0, "월 (Mon)"
        TUE = 1, "화 (Tue)"
        WED = 2, "수 (Wed)"
        THU = 3, "목 (Thu)"
        FRI = 4, "금 (Fri)"
        SAT = 5, "토 (Sat)"
        SUN = 6, "일 (Sun)"

    rules = models.ForeignKey(StoreRules, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name_plural = "business hours"


class ClosedDate(models.Model):
    rules = models.ForeignKey(StoreRules, on_delete=models.CASCADE, related_name="closed_dates")
    date = models.DateField(help_text="Asia/Seoul calendar date")
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["rules", "date"], name="closeddate_unique")]


class RemoteAreaRange(models.Model):
    """도서산간: a surcharge for delivery zip codes (5-digit 신우편번호) in ``zip_from``–``zip_to``."""

    rules = models.ForeignKey(StoreRules, on_delete=models.CASCADE, related_name="remote_areas")
    name = models.CharField(max_length=100, help_text="e.g. 제주")
    zip_from = models.CharField(max_length=5)
    zip_to = models.CharField(max_length=5)
    surcharge = models.PositiveIntegerField("surcharge (KRW)")

    class Meta:
        ordering = ["zip_from"]

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        for name in ("zip_from", "zip_to"):
            value = getattr(self, name)
            if not (value.isdigit() and len(value) == 5):
                raise ValidationError({name: "a 5-digit zip code"})
        if self.zip_from > self.zip_to:
            raise ValidationError({"zip_to": "must not be before zip_from"})


# --- orders and payments ---------------------------------------------------------------------


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
        # a KakaoPay answer that is not about this order's payment (orders.answers): never settles it
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


# --- subscriptions (정기결제) ----------------------------------------------------------------------


class Subscription(models.Model):
    """A member's subscription: started by a paid sign-up order (payment T1 with
    ``automatic_payment``), charged later with KakaoPay's subscription call and the ``sid``.

    The schedule rule is a copy of the plan's at sign-up (``rule``, see catalog.subscriptions) and
    ``anchor_date`` its Asia/Seoul sign-up date: installment ``n`` is due ``n`` cycles later.
    ``next_seq`` / ``next_due_at`` say what the charging task looks at next (see orders.subscriptions).
    """

    class State(models.TextChoices):
        PENDING = "pending", "pending (sign-up not paid yet)"
        ACTIVE = "active", "active"
        SUSPENDED = "suspended", "suspended (no charges)"
        CANCELLED = "cancelled", "cancelled"
        ENDED = "ended", "ended (all periods paid)"
        FAILED = "failed", "sign-up failed"

    kakao_app = models.ForeignKey(KakaoApp, on_delete=models.PROTECT, related_name="subscriptions")
    livemode = models.BooleanField("live mode", editable=False, help_text=LIVEMODE_HELP)
    signup_order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="subscription")
    plan = models.ForeignKey(
        "catalog.SubscriptionPlan", null=True, blank=True, on_delete=models.SET_NULL, related_name="subscriptions"
    )
    app_user_id = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    partner_user_id = models.CharField(max_length=100)
    item_name = models.CharField(max_length=100)
    item_code = models.CharField(max_length=100, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    tax_free = models.BooleanField(default=False, help_text="Every charge is tax-free (a tax-free product)")

    cid = models.CharField("KakaoPay CID", max_length=10)
    sid = EncryptedTextField(blank=True, help_text="KakaoPay's subscription id (encrypted at rest)")
    message = models.CharField(max_length=100, blank=True)
    billing_cycle_label = models.CharField(max_length=20, blank=True)
    currency = models.CharField(max_length=10, default="원")
    rule = models.JSONField(help_text="The plan's schedule rule as it was at sign-up")
    anchor_date = models.DateField(help_text="Asia/Seoul sign-up date: installment n is due n cycles later")

    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    state_reason = models.CharField(max_length=200, blank=True)
    next_seq = models.PositiveIntegerField(default=1, help_text="The next installment to charge (0 is the sign-up)")
    next_due_at = models.DateTimeField(null=True, blank=True, help_text="When the charging task looks at it next")
    last_approved_at = models.CharField(
        max_length=40, blank=True, help_text="KakaoPay's own time of the latest approval we know of (as it sent it)"
    )
    kakaopay_status = models.JSONField(null=True, blank=True, help_text="Last answer of KakaoPay's status call")
    kakaopay_status_at = models.DateTimeField(null=True, blank=True)
    inactivated_at = models.DateTimeField(null=True, blank=True, help_text="KakaoPay confirmed the sid inactive")
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "next_due_at"], name="subscription_state_due")]

    def __str__(self) -> str:
        return f"subscription {self.pk} {self.item_name} ({self.state})"


class SubscriptionInstallment(models.Model):
    """One scheduled charge, created when it falls due: ``(subscription, seq)`` is unique, so an
    installment exists once however many runners reach it, and it is charged through one child
    :class:`Order` (``order``) whose events record every attempt.

    States: ``scheduled`` (due at ``next_attempt_at``) → ``charging`` (claimed until
    ``lease_until``; ``requested_at`` set before the call) → ``paid`` | ``retry`` (declined; again
    at ``next_attempt_at``) | ``failed`` (declined on every attempt: the subscription is suspended) |
    ``skipped`` (not charged: member blocked, subscription suspended or cancelled).
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        CHARGING = "charging"
        RETRY = "retry", "retry (declined)"
        PAID = "paid"
        FAILED = "failed"
        SKIPPED = "skipped"

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="installments")
    seq = models.PositiveIntegerField()
    due_date = models.DateField(help_text="Asia/Seoul")
    due_at = models.DateTimeField()
    amount = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED, db_index=True)
    order = models.OneToOneField(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="subscription_installment"
    )
    attempts = models.PositiveIntegerField(default=0, help_text="Charge calls sent (declines counted in `declines`)")
    declines = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(
        null=True, blank=True, help_text="Set (and committed) before a charge call whose outcome is not known yet"
    )
    tid = models.CharField(max_length=40, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["subscription_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["subscription", "seq"], name="installment_unique_seq")]

    def __str__(self) -> str:
        return f"installment {self.seq} of subscription {self.subscription_id} ({self.status})"
