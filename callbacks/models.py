"""Inbound OTP callbacks (raw event log first), what they yield, Kakao Sync sign-ups, retention.

Member data hangs off ``kakaoplugin.Customer`` (one per Kakao app and app user id): a one-to-one
:class:`MemberProfile`, :class:`ShippingAddress` rows, :class:`Consent` rows; locations and image
sets point at a member when the callback told us who it was (``X-Kakao-AppUserId``).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from kakaoplugin.models import Customer, KakaoApp


class CallbackKind(models.TextChoices):
    PROFILE = "onetimeprofile", "개인정보 (profile)"
    LOCATION = "current_location", "위치 (location)"
    SECURE_IMAGE = "secure_image", "보안 이미지 (secure image)"


class CallbackEvent(models.Model):
    """Every callback POST, stored before it is answered (dj-stripe's webhook log is the model)."""

    class Status(models.TextChoices):
        RECEIVED = "received", "received (queued)"
        PROCESSING = "processing", "processing"
        RETRYING = "retrying", "retrying"
        PROCESSED = "processed", "processed"
        FAILED = "failed", "failed"
        REJECTED = "rejected", "rejected (not fetched)"
        DUPLICATE = "duplicate", "duplicate (not fetched again)"

    kind = models.CharField(max_length=20, choices=CallbackKind.choices)
    kakao_app = models.ForeignKey(KakaoApp, on_delete=models.PROTECT, related_name="callback_events")
    relay_id = models.CharField(max_length=200, blank=True, db_index=True)
    app_user_id = models.CharField("X-Kakao-AppUserId", max_length=64, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField(blank=True)
    otp_url = models.CharField("OTP URL", max_length=2048, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # The same OTP (app, kind, canonical URL) is processed once: the first event holds the key.
    dedupe_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates")
    # What Kakao answered, unknown keys included: kept until the raw retention purge.
    raw_response = models.JSONField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="callback_events"
    )
    payload_purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["kakao_app", "kind", "status"])]
        verbose_name = "callback event"

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.status}"


class FetchAttempt(models.Model):
    """One GET of an OTP URL: retries and their errors are visible in the admin."""

    event = models.ForeignKey(CallbackEvent, on_delete=models.CASCADE, related_name="fetch_attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["event", "number"]
        constraints = [models.UniqueConstraint(fields=["event", "number"], name="fetch_attempt_unique_number")]

    def __str__(self) -> str:
        return f"attempt {self.number} of event #{self.event_id}"


class MemberProfile(models.Model):
    """What a member told us through the personal-information plugin or Kakao Sync."""

    class Source(models.TextChoices):
        CALLBACK = "callback", "개인정보이용 plugin"
        KAKAOSYNC = "kakaosync", "Kakao Sync"

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="profile")
    nickname = models.CharField(max_length=100, blank=True)
    profile_image_url = models.URLField(max_length=1000, blank=True)
    phone_number = models.CharField(max_length=40, blank=True)
    email = models.CharField(max_length=254, blank=True)
    age_range = models.CharField(max_length=20, blank=True)
    birthyear = models.CharField(max_length=4, blank=True)
    birthday = models.CharField(max_length=4, blank=True)
    gender = models.CharField(max_length=10, blank=True)
    # CONTRACTS section 1: never the raw CI, only HMAC-SHA256(CI_HASH_KEY, CI) for member matching.
    ci_hash = models.CharField("CI (keyed hash)", max_length=64, blank=True, db_index=True)
    ci_authenticated_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    collected_at = models.DateTimeField(help_text="When personal data was last received (retention runs from it).")
    purged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "member profile"

    def __str__(self) -> str:
        return f"profile of {self.customer.app_user_id}"


class ShippingAddress(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="shipping_addresses")
    kakao_address_id = models.CharField("Kakao address id", max_length=64, blank=True)
    base_address = models.CharField(max_length=300, blank=True)
    detail_address = models.CharField(max_length=300, blank=True)
    receiver_name = models.CharField(max_length=100, blank=True)
    receiver_mobile_number = models.CharField(max_length=40, blank=True)
    post_no = models.CharField("old zip (6)", max_length=10, blank=True)
    zone_code = models.CharField("zip (5)", max_length=10, blank=True)
    collected_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "kakao_address_id"],
                condition=~Q(kakao_address_id=""),
                name="shipping_address_unique_kakao_id",
            )
        ]

    def __str__(self) -> str:
        return f"address {self.kakao_address_id or self.pk}"


class Consent(models.Model):
    """A service term the member agreed to (Kakao Sync), kept as proof of consent."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    tag = models.CharField(max_length=100)
    agreed_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=10, default="kakaosync")
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "tag"], name="consent_unique_tag")]
        ordering = ["tag"]

    def __str__(self) -> str:
        return self.tag


class LocationRecord(models.Model):
    event = models.OneToOneField(CallbackEvent, on_delete=models.CASCADE, related_name="location")
    kakao_app = models.ForeignKey(KakaoApp, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="locations")
    relay_id = models.CharField(max_length=200, blank=True, db_index=True)
    usable = models.BooleanField(default=True, help_text="False: Kakao answered is_usable_user=false.")
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    land_address = models.JSONField(default=dict, blank=True)
    road_address = models.JSONField(null=True, blank=True)
    land_address_name = models.CharField(max_length=300, blank=True)
    road_address_name = models.CharField(max_length=300, blank=True)
    zone_no = models.CharField(max_length=10, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"location #{self.pk}" + ("" if self.usable else " (unusable)")


class SecureImageSet(models.Model):
    class Status(models.TextChoices):
        DOWNLOADING = "downloading", "downloading"
        COMPLETE = "complete", "complete"
        PARTIAL = "partial", "partial (some not fetched in time)"
        EMPTY = "empty", "no image kept"

    event = models.OneToOneField(CallbackEvent, on_delete=models.CASCADE, related_name="image_set")
    kakao_app = models.ForeignKey(KakaoApp, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="image_sets")
    relay_id = models.CharField(max_length=200, blank=True, db_index=True)
    expire = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DOWNLOADING)
    attempts = models.PositiveIntegerField(default=0)
    download_requested_at = models.DateTimeField(
        default=timezone.now,
        help_text="When a download was last queued, or last ran; a sweep queues it again when images are "
        "still pending long after this (a lost task), and marks them expired past `expire`",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"image set #{self.pk}"


def secure_image_path(instance: SecureImage, filename: str) -> str:
    return f"secure_images/{instance.image_set.kakao_app_id}/{uuid.uuid4().hex}{filename}"


class SecureImage(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        STORED = "stored", "stored"
        FAILED = "failed", "failed"
        EXPIRED = "expired", "expired before it was fetched"

    class Size(models.TextChoices):
        ORIGINAL = "original", "original"
        IMG_1M = "img_1m", "1 MB"
        IMG_3M = "img_3m", "3 MB"

    image_set = models.ForeignKey(SecureImageSet, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveIntegerField(help_text="Index in secure_urls")
    size = models.CharField(max_length=10, choices=Size.choices)
    source_url = models.CharField(max_length=2048, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    file = models.FileField(upload_to=secure_image_path, max_length=300, blank=True)
    content_type = models.CharField(max_length=40, blank=True)
    bytes = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["image_set", "position", "size"]
        constraints = [
            models.UniqueConstraint(fields=["image_set", "position", "size"], name="secure_image_unique_slot")
        ]
        # The sweep's question, every minute: which sets still have images to fetch (few, whatever the total).
        indexes = [
            models.Index(fields=["image_set"], condition=Q(status="pending"), name="secure_image_pending"),
        ]

    def __str__(self) -> str:
        return f"image {self.position}/{self.size} of set #{self.image_set_id}"


class KakaoSyncSignup(models.Model):
    """One visit of the Kakao Sync plugin redirect: the log staff read when a sign-up failed."""

    class Status(models.TextChoices):
        STARTED = "started", "started"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    kakao_app = models.ForeignKey(KakaoApp, on_delete=models.PROTECT, related_name="+")
    code_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the code: a code is used once")
    state = models.CharField(max_length=500, blank=True)
    continue_url = models.CharField(max_length=2048, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STARTED)
    error = models.TextField(blank=True)
    kakao_user_id = models.CharField(max_length=64, blank=True)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_customer = models.BooleanField(default=False)
    terms = models.JSONField(default=list, blank=True)
    replays = models.PositiveIntegerField(default=0, help_text="Visits again with the same (used) code")
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "Kakao Sync sign-up"

    def __str__(self) -> str:
        return f"sign-up #{self.pk} {self.status}"


class PurgeRun(models.Model):
    """A retention purge: when, by whom, with which cut-offs, and how much it removed."""

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    triggered_by = models.CharField(max_length=100)
    dry_run = models.BooleanField(default=False)
    personal_cutoff = models.DateTimeField()
    raw_cutoff = models.DateTimeField()
    counts = models.JSONField(default=dict)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "retention purge"

    def __str__(self) -> str:
        return f"purge {self.started_at:%Y-%m-%d %H:%M}"
