"""Subscriptions (정기결제) and their installments."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from kakaoplugin.fields import EncryptedTextField
from kakaoplugin.models import KakaoApp

from .orders import Order
from .sheets import LIVEMODE_HELP


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
