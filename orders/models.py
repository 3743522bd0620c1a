"""Order sheets (the option plugin's "temporary order", later the payment plugin's
``ordersheet_id``), orders, payments.

A sheet holds a snapshot of every chosen line: names, values, prices as they were when the buyer
chose, so later catalog edits never change what an order says it sold.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kakaoplugin.fields import EncryptedTextField
from kakaoplugin.models import KakaoApp

LIVEMODE_HELP = _(
    "False for a test app's (KakaoApp.environment test): a test order uses the catalog's test stock and is "
    "not a sale. Stamped from the app at creation, never changed"
)


def new_order_sheet_id() -> str:
    """Unguessable (144 random bits), url-safe, well under Kakao's 100-character limits."""
    return "os_" + secrets.token_urlsafe(18)


class OrderSheet(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("open")
        ORDERED = "ordered", _("paid")
        CANCELLED = "cancelled", _("cancelled")

    id = models.CharField(_("id"), primary_key=True, max_length=40, default=new_order_sheet_id, editable=False)
    kakao_app = models.ForeignKey(KakaoApp, verbose_name=_("kakao app"), on_delete=models.PROTECT, related_name="order_sheets")
    livemode = models.BooleanField(_("live mode"), editable=False, help_text=LIVEMODE_HELP)
    app_user_id = models.CharField(_("app user id"), max_length=64, null=True, blank=True, db_index=True)
    relay_id = models.CharField(_("relay id"), max_length=200, null=True, blank=True, db_index=True)
    product = models.ForeignKey("catalog.Product", verbose_name=_("product"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    product_code = models.CharField(_("product code"), max_length=100)
    product_name = models.CharField(_("product name"), max_length=200)
    product_url = models.CharField(_("product url"), max_length=500, blank=True)
    unit_price = models.BigIntegerField(_("unit price"), default=0)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    total_amount = models.BigIntegerField(_("total amount"), help_text=_("KRW, recomputed on the server from the catalog"))
    tax_free_amount = models.BigIntegerField(_("tax free amount"), default=0)
    use_shipping = models.BooleanField(_("use shipping"), default=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    expires_at = models.DateTimeField(_("expires at"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("order sheet")
        verbose_name_plural = _("order sheets")

    def __str__(self) -> str:
        return f"{self.id} {self.product_name} ×{self.quantity}"


class OrderSheetLine(models.Model):
    """One chosen answer: an option picked, or a TEXT/NUMBERS/INTEGER/DATE answer given."""

    sheet = models.ForeignKey(OrderSheet, verbose_name=_("sheet"), on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(_("position"), default=0)
    group_id = models.CharField(_("group id"), max_length=100)
    group_name = models.CharField(_("group name"), max_length=200)
    group_type = models.CharField(_("group type"), max_length=20)
    sub_group_id = models.CharField(_("sub group id"), max_length=200, blank=True)
    option_id = models.CharField(_("option id"), max_length=100, blank=True)
    option_value = models.CharField(_("option value"), max_length=200, blank=True)
    # The catalog row whose stock this line takes (None for answers and options unlimited in both modes).
    catalog_option = models.ForeignKey(
        "catalog.Option", verbose_name=_("catalog option"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    add_price = models.BigIntegerField(_("add price"), default=0)
    quantity = models.PositiveIntegerField(_("quantity"), null=True, blank=True, help_text=_("Set when chosen with its own quantity"))
    amount = models.BigIntegerField(_("amount"), default=0, help_text=_("What this line adds to the sheet's total"))
    extra = models.CharField(_("extra"), max_length=500, null=True, blank=True)
    text = models.CharField(_("text"), max_length=2000, null=True, blank=True)

    class Meta:
        ordering = ["sheet_id", "position"]
        verbose_name = _("order sheet line")
        verbose_name_plural = _("order sheet lines")


# --- store rules -----------------------------------------------------------------------------


class StoreRules(models.Model):
    """Per Kakao app: when the store takes orders (Asia/Seoul) and what shipping costs.

    No rules for an app: always open, free shipping.
    """

    kakao_app = models.OneToOneField(KakaoApp, verbose_name=_("kakao app"), on_delete=models.CASCADE, related_name="store_rules")
    enforce_business_hours = models.BooleanField(
        _("enforce business hours"),
        default=True, help_text=_("Off: orders are taken at any time (closed dates still apply).")
    )
    closed_message = models.CharField(_("closed message"), max_length=200, default="지금은 매장 운영시간이 아닙니다.")
    shipping_base_fee = models.PositiveIntegerField(_("base shipping fee (KRW)"), default=0)
    free_shipping_threshold = models.PositiveIntegerField(
        _("free shipping from (KRW)"), default=0, help_text=_("Goods total at or above this ships free; 0: never free.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("store rules")
        verbose_name_plural = _("store rules")

    def __str__(self) -> str:
        return f"store rules of {self.kakao_app.name}"


class BusinessHours(models.Model):
    """One opening window on a weekday, in Asia/Seoul. ``closes`` at or before ``opens`` runs
    past midnight (e.g. 18:00–02:00); 00:00–00:00 is the whole day."""

    class Weekday(models.IntegerChoices):
        MON = 0, _("Mon")
        TUE = 1, _("Tue")
        WED = 2, _("Wed")
        THU = 3, _("Thu")
        FRI = 4, _("Fri")
        SAT = 5, _("Sat")
        SUN = 6, _("Sun")

    rules = models.ForeignKey(StoreRules, verbose_name=_("rules"), on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name_plural = _("business hours")
        verbose_name = _("business hours")


class ClosedDate(models.Model):
    rules = models.ForeignKey(StoreRules, verbose_name=_("rules"), on_delete=models.CASCADE, related_name="closed_dates")
    date = models.DateField(_("date"), help_text=_("Asia/Seoul calendar date"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["rules", "date"], name="closeddate_unique")]
        verbose_name = _("closed date")
        verbose_name_plural = _("closed dates")


class RemoteAreaRange(models.Model):
    """도서산간: a surcharge for delivery zip codes (5-digit 신우편번호) in ``zip_from``–``zip_to``."""

    rules = models.ForeignKey(StoreRules, verbose_name=_("rules"), on_delete=models.CASCADE, related_name="remote_areas")
    name = models.CharField(_("name"), max_length=100, help_text=_("e.g. Jeju"))
    zip_from = models.CharField(_("zip from"), max_length=5)
    zip_to = models.CharField(_("zip to"), max_length=5)
    surcharge = models.PositiveIntegerField(_("surcharge (KRW)"))

    class Meta:
        ordering = ["zip_from"]
        verbose_name = _("remote area range")
        verbose_name_plural = _("remote area ranges")

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        for name in ("zip_from", "zip_to"):
            value = getattr(self, name)
            if not (value.isdigit() and len(value) == 5):
                raise ValidationError({name: gettext("a 5-digit zip code")})
        if self.zip_from > self.zip_to:
            raise ValidationError({"zip_to": gettext("must not be before zip_from")})


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
        # a KakaoPay answer that is not about this order's payment (orders.answers): never settles it
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


# --- subscriptions (정기결제) ----------------------------------------------------------------------


class Subscription(models.Model):
    """A member's subscription: started by a paid sign-up order (payment T1 with
    ``automatic_payment``), charged later with KakaoPay's subscription call and the ``sid``.

    The schedule rule is a copy of the plan's at sign-up (``rule``, see catalog.subscriptions) and
    ``anchor_date`` its Asia/Seoul sign-up date: installment ``n`` is due ``n`` cycles later.
    ``next_seq`` / ``next_due_at`` say what the charging task looks at next (see orders.subscriptions).
    """

    class State(models.TextChoices):
        PENDING = "pending", _("pending (sign-up not paid yet)")
        ACTIVE = "active", _("active")
        SUSPENDED = "suspended", _("suspended (no charges)")
        CANCELLED = "cancelled", _("cancelled")
        ENDED = "ended", _("ended (all periods paid)")
        FAILED = "failed", _("sign-up failed")

    kakao_app = models.ForeignKey(KakaoApp, verbose_name=_("kakao app"), on_delete=models.PROTECT, related_name="subscriptions")
    livemode = models.BooleanField(_("live mode"), editable=False, help_text=LIVEMODE_HELP)
    signup_order = models.OneToOneField(Order, verbose_name=_("signup order"), on_delete=models.PROTECT, related_name="subscription")
    plan = models.ForeignKey(
        "catalog.SubscriptionPlan", verbose_name=_("plan"), null=True, blank=True, on_delete=models.SET_NULL, related_name="subscriptions"
    )
    app_user_id = models.CharField(_("app user id"), max_length=64, null=True, blank=True, db_index=True)
    partner_user_id = models.CharField(_("partner user id"), max_length=100)
    item_name = models.CharField(_("item name"), max_length=100)
    item_code = models.CharField(_("item code"), max_length=100, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    tax_free = models.BooleanField(_("tax free"), default=False, help_text=_("Every charge is tax-free (a tax-free product)"))

    cid = models.CharField(_("KakaoPay CID"), max_length=10)
    sid = EncryptedTextField(_("sid"), blank=True, help_text=_("KakaoPay's subscription id (encrypted at rest)"))
    message = models.CharField(_("message"), max_length=100, blank=True)
    billing_cycle_label = models.CharField(_("billing cycle label"), max_length=20, blank=True)
    currency = models.CharField(_("currency"), max_length=10, default="원")
    rule = models.JSONField(_("rule"), help_text=_("The plan's schedule rule as it was at sign-up"))
    anchor_date = models.DateField(_("anchor date"), help_text=_("Asia/Seoul sign-up date: installment n is due n cycles later"))

    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    state_reason = models.CharField(_("state reason"), max_length=200, blank=True)
    next_seq = models.PositiveIntegerField(_("next seq"), default=1, help_text=_("The next installment to charge (0 is the sign-up)"))
    next_due_at = models.DateTimeField(_("next due at"), null=True, blank=True, help_text=_("When the charging task looks at it next"))
    last_approved_at = models.CharField(
        _("last approved at"),
        max_length=40, blank=True, help_text=_("KakaoPay's own time of the latest approval we know of (as it sent it)")
    )
    kakaopay_status = models.JSONField(_("kakaopay status"), null=True, blank=True, help_text=_("Last answer of KakaoPay's status call"))
    kakaopay_status_at = models.DateTimeField(_("kakaopay status at"), null=True, blank=True)
    inactivated_at = models.DateTimeField(_("inactivated at"), null=True, blank=True, help_text=_("KakaoPay confirmed the sid inactive"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.CharField(_("cancelled by"), max_length=150, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "next_due_at"], name="subscription_state_due")]
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")

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
        SCHEDULED = "scheduled", _("scheduled")
        CHARGING = "charging", _("charging")
        RETRY = "retry", _("retry (declined)")
        PAID = "paid", _("paid")
        FAILED = "failed", _("failed")
        SKIPPED = "skipped", _("skipped")

    subscription = models.ForeignKey(Subscription, verbose_name=_("subscription"), on_delete=models.CASCADE, related_name="installments")
    seq = models.PositiveIntegerField(_("seq"))
    due_date = models.DateField(_("due date"), help_text=_("Asia/Seoul"))
    due_at = models.DateTimeField(_("due at"))
    amount = models.BigIntegerField(_("amount"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED, db_index=True)
    order = models.OneToOneField(
        Order, verbose_name=_("order"), null=True, blank=True, on_delete=models.PROTECT, related_name="subscription_installment"
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0, help_text=_("Charge calls sent (declines counted in `declines`)"))
    declines = models.PositiveIntegerField(_("declines"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    requested_at = models.DateTimeField(
        _("requested at"),
        null=True, blank=True, help_text=_("Set (and committed) before a charge call whose outcome is not known yet")
    )
    tid = models.CharField(_("tid"), max_length=40, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["subscription_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["subscription", "seq"], name="installment_unique_seq")]
        verbose_name = _("subscription installment")
        verbose_name_plural = _("subscription installments")

    def __str__(self) -> str:
        return f"installment {self.seq} of subscription {self.subscription_id} ({self.status})"
