"""The Kakao layer every app shares: Kakao apps (one per Kakao Developers app) and their members."""

from __future__ import annotations

import ipaddress
import secrets
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .clients.outbound import UrlRefused, check_public_url
from .fields import EncryptedTextField


def new_plugin_key() -> str:
    """32 random bytes, url-safe: the secret path segment of every plugin URL."""
    return secrets.token_urlsafe(32)


def parse_networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """CIDRs separated by commas, spaces or new lines; raises ValueError naming the bad one."""
    networks = []
    for part in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ValueError(gettext("'%(part)s' is not an IP network (CIDR)") % {"part": part}) from exc
    return networks


class KakaoApp(models.Model):
    """A Kakao Developers app (test apps are separate apps with their own keys, guide 0.7)."""

    class Environment(models.TextChoices):
        TEST = "test", _("test")
        PRODUCTION = "production", _("production")

    class PayApi(models.TextChoices):
        LEGACY = "legacy", _("legacy (kapi.kakao.com, KakaoAK admin key)")
        OPEN = "open", _("open (open-api.kakaopay.com, SECRET_KEY)")

    class PaymentMethod(models.TextChoices):
        ANY = "", _("any")
        CARD = "CARD", _("CARD")
        MONEY = "MONEY", _("MONEY")

    name = models.CharField(_("name"), max_length=100, unique=True)
    environment = models.CharField(_("environment"), max_length=20, choices=Environment.choices, default=Environment.TEST)
    kakao_app_id = models.CharField(_("Kakao app id"), max_length=32, blank=True)
    rest_api_key = models.CharField(_("REST API key"), max_length=128)
    kakao_client_secret = EncryptedTextField(_("Kakao Login client secret"), blank=True, default="")

    kakaopay_api = models.CharField(_("KakaoPay API"), max_length=10, choices=PayApi.choices, default=PayApi.LEGACY)
    kakaopay_admin_key = EncryptedTextField(_("KakaoPay admin key (legacy)"), blank=True, default="")
    kakaopay_secret_key = EncryptedTextField(_("KakaoPay secret key (open)"), blank=True, default="")
    cid = models.CharField(_("CID"), max_length=10, default="TC0ONETIME")
    cid_secret = EncryptedTextField(_("CID secret"), blank=True, default="")
    subscription_cid = models.CharField(_("subscription CID"), max_length=10, blank=True, default="TCSUBSCRIP")
    wrap_approval_url = models.BooleanField(
        _("wrap approval URL in Kakao's relay"),
        default=True,
        help_text=_("On unless KakaoPay has our approval URL on its ACL (CONTRACTS section 6)."),
    )
    order_agreements = models.JSONField(
        _("order agreements"),
        default=list,
        blank=True,
        help_text=_('Shown at payment: [{"company": "...", "title": "...", "url": "..."}]'),
    )
    available_cards = models.JSONField(_("available cards"), default=list, blank=True, help_text=_('e.g. ["HANA", "BC"]; empty: all'))
    payment_method_type = models.CharField(
        _("payment method type"),
        max_length=5, choices=PaymentMethod.choices, blank=True, default=PaymentMethod.ANY
    )
    allowed_networks = models.TextField(
        _("allowed source networks"),
        blank=True,
        default="",
        help_text=_("CIDRs, one per line. Empty: any source may call the plugin URLs."),
    )
    plugin_key = models.CharField(_("plugin key"), max_length=64, unique=True, default=new_plugin_key, editable=False)
    plugin_key_rotated_at = models.DateTimeField(_("plugin key rotated at"), null=True, blank=True, editable=False)
    # Plugin ids that Kakao's plugin admin center issued for this app (launch links use them).
    option_plugin_id = models.CharField(_("option plugin id"), max_length=64, blank=True)
    payment_plugin_id = models.CharField(_("payment plugin id"), max_length=64, blank=True)
    kakaosync_plugin_id = models.CharField(_("Kakao Sync plugin id"), max_length=64, blank=True)
    profile_plugin_id = models.CharField(_("personal-information plugin id"), max_length=64, blank=True)
    location_plugin_id = models.CharField(_("location plugin id"), max_length=64, blank=True)
    secure_image_plugin_id = models.CharField(_("secure image plugin id"), max_length=64, blank=True)
    is_active = models.BooleanField(_("is active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("Kakao app")
        # The plugin URLs carry the plugin key: seeing them is seeing the key.
        permissions = [("view_plugin_urls", "Can see the plugin URLs (they hold the plugin key)")]
        verbose_name_plural = _("Kakao apps")

    def __str__(self) -> str:
        return f"{self.name} ({self.environment})"

    @property
    def livemode(self) -> bool:
        """False for a test app: its orders are test orders (stamped on each at creation; they use
        the catalog's test stock, never the real one; see docs/security.md "Test and live mode")."""
        return self.environment == self.Environment.PRODUCTION

    def clean(self) -> None:
        try:
            parse_networks(self.allowed_networks)
        except ValueError as exc:
            raise ValidationError({"allowed_networks": str(exc)})
        if not isinstance(self.order_agreements, list) or any(
            not isinstance(a, dict) or not a.get("company") or not a.get("title") for a in self.order_agreements
        ):
            raise ValidationError({"order_agreements": gettext("a list of {company, title, url} objects")})

    @cached_property
    def networks(self):
        # Parsed once per instance: the gate keeps an app per process, so not once per request.
        return parse_networks(self.allowed_networks)

    @property
    def kakaopay_auth_header(self) -> str:
        if self.kakaopay_api == self.PayApi.OPEN:
            return f"SECRET_KEY {self.kakaopay_secret_key}"
        return f"KakaoAK {self.kakaopay_admin_key}"


class Customer(models.Model):
    """A member: one per (Kakao app, app user id). What we learn about them hangs off it."""

    kakao_app = models.ForeignKey(KakaoApp, verbose_name=_("kakao app"), on_delete=models.PROTECT, related_name="customers")
    app_user_id = models.CharField(_("app user id"), max_length=64)
    blocked = models.BooleanField(_("blocked"), default=False, help_text=_("Blocked members get payment code 401."))
    blocked_reason = models.CharField(_("blocked reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kakao_app", "app_user_id"], name="customer_unique_app_user"),
        ]
        verbose_name = _("member")
        # One permission for personal data wherever it is shown (kakaoplugin.masking).
        permissions = [("view_personal_data", "Can see personal data in full (names, phones, addresses, emails, CI)")]
        verbose_name_plural = _("members")

    def __str__(self) -> str:
        return f"{self.app_user_id} @ {self.kakao_app.name}"


def validate_webhook_url(url: str) -> None:
    """https, and a host on the public internet (resolved now; checked again at every delivery):
    see kakaoplugin.clients.outbound. ``WEBHOOK_ALLOW_LOCAL`` (development) lets http and local
    receivers through."""
    try:
        check_public_url(url, allow_local=settings.WEBHOOK_ALLOW_LOCAL)
    except UrlRefused as exc:
        raise ValidationError(
            {"url": gettext("Not a webhook URL we can use: %(reason)s (webhook URLs must be https on a public host)") % {"reason": exc}}
        ) from None


class WebhookEndpoint(models.Model):
    """A URL of the merchant's systems that receives order events, signed with ``secret``."""

    kakao_app = models.ForeignKey(KakaoApp, verbose_name=_("kakao app"), on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(_("url"), max_length=500)
    secret = EncryptedTextField(_("secret"), editable=False)
    event_types = models.JSONField(_("event types"), default=list, blank=True, help_text=_("Empty: every event type"))
    is_active = models.BooleanField(_("is active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        super().clean()
        if self.url:
            validate_webhook_url(self.url)


class WebhookEvent(models.Model):
    """One thing that happened (e.g. ``order.paid``), with a unique id receivers deduplicate on."""

    id = models.CharField(_("id"), primary_key=True, max_length=40, editable=False)
    kakao_app = models.ForeignKey(KakaoApp, verbose_name=_("kakao app"), on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(_("type"), max_length=50, db_index=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    payload = models.JSONField(_("payload"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed (gave up)")

    event = models.ForeignKey(WebhookEvent, verbose_name=_("event"), on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, verbose_name=_("endpoint"), on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True, db_index=True)
    give_up_at = models.DateTimeField(_("give up at"))
    last_status_code = models.PositiveIntegerField(_("last status code"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhookdelivery_unique"),
        ]
        verbose_name_plural = _("webhook deliveries")
        verbose_name = _("webhook delivery")


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, verbose_name=_("delivery"), on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField(_("number"))
    at = models.DateTimeField(_("at"), auto_now_add=True)
    status_code = models.PositiveIntegerField(_("status code"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration ms"), default=0)

    class Meta:
        ordering = ["delivery_id", "number"]
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")


class InboundCall(models.Model):
    """Every plugin call Kakao makes (but the two hot reads, option T1 and T4), stored by the gate
    before the view runs and completed with what we answered: nothing is lost, every refusal is
    visible to staff. Bodies may hold personal data: shown only with ``view_inbound_body``."""

    kakao_app = models.ForeignKey(KakaoApp, verbose_name=_("kakao app"), on_delete=models.CASCADE, related_name="inbound_calls")
    endpoint = models.CharField(_("endpoint"), max_length=40, db_index=True)
    method = models.CharField(_("method"), max_length=10)
    query = models.JSONField(_("query"), default=dict, blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    body = models.TextField(_("body"), blank=True)
    source_ip = models.CharField(_("source ip"), max_length=45, blank=True)
    app_user_id = models.CharField(_("app user id"), max_length=64, blank=True, db_index=True)
    relay_id = models.CharField(_("relay id"), max_length=200, blank=True, db_index=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    http_status = models.PositiveIntegerField(_("http status"), null=True, blank=True)
    result_status = models.IntegerField(_("result status"), null=True, blank=True, db_index=True, help_text=_("the envelope's status"))
    result_message = models.TextField(_("result message"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration ms"), null=True, blank=True)
    body_purged_at = models.DateTimeField(_("body purged at"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("inbound plugin call")
        permissions = [("view_inbound_body", "Can see inbound call bodies (personal data)")]
        verbose_name_plural = _("inbound plugin calls")

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} → {self.result_status}"


class WorkerHeartbeat(models.Model):
    """The last time a worker ran the periodic heartbeat task: proof that beat schedules, the broker
    delivers and a worker executes. ``/readyz`` reports its age (kakaoplugin.health)."""

    worker = models.CharField(_("worker"), primary_key=True, max_length=200)
    seen_at = models.DateTimeField(_("seen at"))

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")

    def __str__(self) -> str:
        return f"{self.worker} at {self.seen_at:%Y-%m-%d %H:%M:%S}"


class OutboxMessage(models.Model):
    """Work owed after a commit (kakaoplugin.outbox): a Celery task by name with its arguments,
    recorded in the transaction that owes it; deleted once dispatched."""

    task = models.CharField(_("task"), max_length=200)  # a task's import path ("orders.tasks.approve_order")
    args = models.JSONField(_("args"), default=list, blank=True)
    inline = models.BooleanField(_("inline"), default=False)  # run by the dispatching process, not through the broker
    # left to the dispatcher's next round (no dispatch after the commit); batched when the task is.
    # A database default too: the code before this column, still running during a deploy, inserts.
    deferred = models.BooleanField(_("deferred"), default=False, db_default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["next_attempt_at"], name="kakaoplugin_outbox_due")]
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)}"
