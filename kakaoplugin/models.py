"""The Kakao layer every app shares: Kakao apps (one per Kakao Developers app) and their members."""

from __future__ import annotations

import ipaddress
import secrets
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

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
            raise ValueError(f"'{part}' is not an IP network (CIDR)") from exc
    return networks


class KakaoApp(models.Model):
    """A Kakao Developers app (test apps are separate apps with their own keys, guide 0.7)."""

    class Environment(models.TextChoices):
        TEST = "test", "테스트 (test)"
        PRODUCTION = "production", "운영 (production)"

    class PayApi(models.TextChoices):
        LEGACY = "legacy", "legacy (kapi.kakao.com, KakaoAK admin key)"
        OPEN = "open", "open (open-api.kakaopay.com, SECRET_KEY)"

    class PaymentMethod(models.TextChoices):
        ANY = "", "any"
        CARD = "CARD", "CARD"
        MONEY = "MONEY", "MONEY"

    name = models.CharField(max_length=100, unique=True)
    environment = models.CharField(max_length=20, choices=Environment.choices, default=Environment.TEST)
    kakao_app_id = models.CharField("Kakao app id", max_length=32, blank=True)
    rest_api_key = models.CharField("REST API key", max_length=128)
    kakao_client_secret = EncryptedTextField("Kakao Login client secret", blank=True, default="")

    kakaopay_api = models.CharField("KakaoPay API", max_length=10, choices=PayApi.choices, default=PayApi.LEGACY)
    kakaopay_admin_key = EncryptedTextField("KakaoPay admin key (legacy)", blank=True, default="")
    kakaopay_secret_key = EncryptedTextField("KakaoPay secret key (open)", blank=True, default="")
    cid = models.CharField("CID", max_length=10, default="TC0ONETIME")
    cid_secret = EncryptedTextField("CID secret", blank=True, default="")
    subscription_cid = models.CharField("subscription CID", max_length=10, blank=True, default="TCSUBSCRIP")
    wrap_approval_url = models.BooleanField(
        "wrap approval URL in Kakao's relay",
        default=True,
        help_text="On unless KakaoPay has our approval URL on its ACL (CONTRACTS section 6).",
    )
    order_agreements = models.JSONField(
        default=list,
        blank=True,
        help_text='Shown at payment: [{"company": "...", "title": "...", "url": "..."}]',
    )
    available_cards = models.JSONField(default=list, blank=True, help_text='e.g. ["HANA", "BC"]; empty: all')
    payment_method_type = models.CharField(
        max_length=5, choices=PaymentMethod.choices, blank=True, default=PaymentMethod.ANY
    )
    allowed_networks = models.TextField(
        "allowed source networks",
        blank=True,
        default="",
        help_text="CIDRs, one per line. Empty: any source may call the plugin URLs.",
    )
    plugin_key = models.CharField(max_length=64, unique=True, default=new_plugin_key, editable=False)
    plugin_key_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Plugin ids that Kakao's plugin admin center issued for this app (launch links use them).
    option_plugin_id = models.CharField(max_length=64, blank=True)
    payment_plugin_id = models.CharField(max_length=64, blank=True)
    kakaosync_plugin_id = models.CharField(max_length=64, blank=True)
    profile_plugin_id = models.CharField("personal-information plugin id", max_length=64, blank=True)
    location_plugin_id = models.CharField(max_length=64, blank=True)
    secure_image_plugin_id = models.CharField(max_length=64, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "Kakao app"
        # The plugin URLs carry the plugin key: seeing them is seeing the key.
        permissions = [("view_plugin_urls", "Can see the plugin URLs (they hold the plugin key)")]

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
            raise ValidationError({"order_agreements": "a list of {company, title, url} objects"})

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

    kakao_app = models.ForeignKey(KakaoApp, on_delete=models.PROTECT, related_name="customers")
    app_user_id = models.CharField(max_length=64)
    blocked = models.BooleanField(default=False, help_text="Blocked members get payment code 401.")
    blocked_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kakao_app", "app_user_id"], name="customer_unique_app_user"),
        ]
        verbose_name = "member"
        # One permission for personal data wherever it is shown (kakaoplugin.masking).
        permissions = [("view_personal_data", "Can see personal data in full (names, phones, addresses, emails, CI)")]

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
            {"url": f"웹훅 주소로 쓸 수 없습니다: {exc} (webhook URLs must be https on a public host)"}
        ) from None


class WebhookEndpoint(models.Model):
    """A URL of the merchant's systems that receives order events, signed with ``secret``."""

    kakao_app = models.ForeignKey(KakaoApp, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    secret = EncryptedTextField(editable=False)
    event_types = models.JSONField(default=list, blank=True, help_text="Empty: every event type")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        super().clean()
        if self.url:
            validate_webhook_url(self.url)


class WebhookEvent(models.Model):
    """One thing that happened (e.g. ``order.paid``), with a unique id receivers deduplicate on."""

    id = models.CharField(primary_key=True, max_length=40, editable=False)
    kakao_app = models.ForeignKey(KakaoApp, on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(max_length=50, db_index=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "webhook event"

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed", "failed (gave up)"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    give_up_at = models.DateTimeField()
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhookdelivery_unique"),
        ]
        verbose_name_plural = "webhook deliveries"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery_id", "number"]


class InboundCall(models.Model):
    """Every plugin call Kakao makes (but the two hot reads, option T1 and T4), stored by the gate
    before the view runs and completed with what we answered: nothing is lost, every refusal is
    visible to staff. Bodies may hold personal data: shown only with ``view_inbound_body``."""

    kakao_app = models.ForeignKey(KakaoApp, on_delete=models.CASCADE, related_name="inbound_calls")
    endpoint = models.CharField(max_length=40, db_index=True)
    method = models.CharField(max_length=10)
    query = models.JSONField(default=dict, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField(blank=True)
    source_ip = models.CharField(max_length=45, blank=True)
    app_user_id = models.CharField(max_length=64, blank=True, db_index=True)
    relay_id = models.CharField(max_length=200, blank=True, db_index=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    result_status = models.IntegerField(null=True, blank=True, db_index=True, help_text="the envelope's status")
    result_message = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    body_purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "inbound plugin call"
        permissions = [("view_inbound_body", "Can see inbound call bodies (personal data)")]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} → {self.result_status}"


class WorkerHeartbeat(models.Model):
    """The last time a worker ran the periodic heartbeat task: proof that beat schedules, the broker
    delivers and a worker executes. ``/readyz`` reports its age (kakaoplugin.health)."""

    worker = models.CharField(primary_key=True, max_length=200)
    seen_at = models.DateTimeField()

    class Meta:
        verbose_name = "worker heartbeat"

    def __str__(self) -> str:
        return f"{self.worker} at {self.seen_at:%Y-%m-%d %H:%M:%S}"


class OutboxMessage(models.Model):
    """Work owed after a commit (kakaoplugin.outbox): a Celery task by name with its arguments,
    recorded in the transaction that owes it; deleted once dispatched."""

    task = models.CharField(max_length=200)  # a task's import path ("orders.tasks.approve_order")
    args = models.JSONField(default=list, blank=True)
    inline = models.BooleanField(default=False)  # run by the dispatching process, not through the broker
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["next_attempt_at"], name="kakaoplugin_outbox_due")]
        verbose_name = "outbox message"

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)}"
