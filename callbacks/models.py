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
from django.utils.translation import gettext_lazy as _

from kakaoplugin.models import Customer, KakaoApp


class CallbackKind(models.TextChoices):
    PROFILE = "onetimeprofile", _("personal information")
    LOCATION = "current_location", _("location")
    SECURE_IMAGE = "secure_image", _("secure image")


class CallbackEvent(models.Model):
    """Every callback POST, stored before it is answered (dj-stripe's webhook log is the model)."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("received (queued)")
        PROCESSING = "processing", _("processing")
        RETRYING = "retrying", _("retrying")
        PROCESSED = "processed", _("processed")
        FAILED = "failed", _("failed")
        REJECTED = "rejected", _("rejected (not fetched)")
        DUPLICATE = "duplicate", _("duplicate (not fetched again)")

    kind = models.CharField(_("kind"), max_length=20, choices=CallbackKind.choices)
    kakao_app = models.ForeignKey(KakaoApp, verbose_name=_("kakao app"), on_delete=models.PROTECT, related_name="callback_events")
    relay_id = models.CharField(_("relay id"), max_length=200, blank=True, db_index=True)
    app_user_id = models.CharField(_("X-Kakao-AppUserId"), max_length=64, blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    body = models.TextField(_("body"), blank=True)
    otp_url = models.CharField(_("OTP URL"), max_length=2048, blank=True)
    source_ip = models.GenericIPAddressField(_("source ip"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)

    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    # The same OTP (app, kind, canonical URL) is processed once: the first event holds the key.
    dedupe_key = models.CharField(_("dedupe key"), max_length=64, null=True, blank=True, unique=True, editable=False)
    duplicate_of = models.ForeignKey("self", verbose_name=_("duplicate of"), null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates")
    # What Kakao answered, unknown keys included: kept until the raw retention purge.
    raw_response = models.JSONField(_("raw response"), null=True, blank=True)
    fetched_at = models.DateTimeField(_("fetched at"), null=True, blank=True)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), null=True, blank=True, on_delete=models.SET_NULL, related_name="callback_events"
    )
    payload_purged_at = models.DateTimeField(_("payload purged at"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["kakao_app", "kind", "status"])]
        verbose_name = _("callback event")
        verbose_name_plural = _("callback events")

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.status}"


class FetchAttempt(models.Model):
    """One GET of an OTP URL: retries and their errors are visible in the admin."""

    event = models.ForeignKey(CallbackEvent, verbose_name=_("event"), on_delete=models.CASCADE, related_name="fetch_attempts")
    number = models.PositiveIntegerField(_("number"))
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    http_status = models.PositiveIntegerField(_("http status"), null=True, blank=True)
    ok = models.BooleanField(_("ok"), default=False)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["event", "number"]
        constraints = [models.UniqueConstraint(fields=["event", "number"], name="fetch_attempt_unique_number")]
        verbose_name = _("fetch attempt")
        verbose_name_plural = _("fetch attempts")

    def __str__(self) -> str:
        return f"attempt {self.number} of event #{self.event_id}"


class MemberProfile(models.Model):
    """What a member told us through the personal-information plugin or Kakao Sync."""

    class Source(models.TextChoices):
        CALLBACK = "callback", _("personal-information plugin")
        KAKAOSYNC = "kakaosync", _("Kakao Sync")

    customer = models.OneToOneField(Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="profile")
    nickname = models.CharField(_("nickname"), max_length=100, blank=True)
    profile_image_url = models.URLField(_("profile image url"), max_length=1000, blank=True)
    phone_number = models.CharField(_("phone number"), max_length=40, blank=True)
    email = models.CharField(_("email"), max_length=254, blank=True)
    age_range = models.CharField(_("age range"), max_length=20, blank=True)
    birthyear = models.CharField(_("birthyear"), max_length=4, blank=True)
    birthday = models.CharField(_("birthday"), max_length=4, blank=True)
    gender = models.CharField(_("gender"), max_length=10, blank=True)
    # CONTRACTS section 1: never the raw CI, only HMAC-SHA256(CI_HASH_KEY, CI) for member matching.
    ci_hash = models.CharField(_("CI (keyed hash)"), max_length=64, blank=True, db_index=True)
    ci_authenticated_at = models.DateTimeField(_("ci authenticated at"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    collected_at = models.DateTimeField(_("collected at"), help_text=_("When personal data was last received (retention runs from it)."))
    purged_at = models.DateTimeField(_("purged at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("member profile")
        verbose_name_plural = _("member profiles")

    def __str__(self) -> str:
        return f"profile of {self.customer.app_user_id}"


class ShippingAddress(models.Model):
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="shipping_addresses")
    kakao_address_id = models.CharField(_("Kakao address id"), max_length=64, blank=True)
    base_address = models.CharField(_("base address"), max_length=300, blank=True)
    detail_address = models.CharField(_("detail address"), max_length=300, blank=True)
    receiver_name = models.CharField(_("receiver name"), max_length=100, blank=True)
    receiver_mobile_number = models.CharField(_("receiver mobile number"), max_length=40, blank=True)
    post_no = models.CharField(_("old zip (6)"), max_length=10, blank=True)
    zone_code = models.CharField(_("zip (5)"), max_length=10, blank=True)
    collected_at = models.DateTimeField(_("collected at"))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "kakao_address_id"],
                condition=~Q(kakao_address_id=""),
                name="shipping_address_unique_kakao_id",
            )
        ]
        verbose_name = _("shipping address")
        verbose_name_plural = _("shipping addresses")

    def __str__(self) -> str:
        return f"address {self.kakao_address_id or self.pk}"


class Consent(models.Model):
    """A service term the member agreed to (Kakao Sync), kept as proof of consent."""

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="consents")
    tag = models.CharField(_("tag"), max_length=100)
    agreed_at = models.DateTimeField(_("agreed at"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=10, default="kakaosync")
    recorded_at = models.DateTimeField(_("recorded at"), auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "tag"], name="consent_unique_tag")]
        ordering = ["tag"]
        verbose_name = _("consent")
        verbose_name_plural = _("consents")

    def __str__(self) -> str:
        return self.tag


class LocationRecord(models.Model):
    event = models.OneToOneField(CallbackEvent, verbose_name=_("event"), on_delete=models.CASCADE, related_name="location")
    kakao_app = models.ForeignKey(KakaoApp, verbose_name=_("kakao app"), on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), null=True, blank=True, on_delete=models.CASCADE, related_name="locations")
    relay_id = models.CharField(_("relay id"), max_length=200, blank=True, db_index=True)
    usable = models.BooleanField(_("usable"), default=True, help_text=_("False: Kakao answered is_usable_user=false."))
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)
    land_address = models.JSONField(_("land address"), default=dict, blank=True)
    road_address = models.JSONField(_("road address"), null=True, blank=True)
    land_address_name = models.CharField(_("land address name"), max_length=300, blank=True)
    road_address_name = models.CharField(_("road address name"), max_length=300, blank=True)
    zone_no = models.CharField(_("zone no"), max_length=10, blank=True)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("location record")
        verbose_name_plural = _("location records")

    def __str__(self) -> str:
        return f"location #{self.pk}" + ("" if self.usable else " (unusable)")


class SecureImageSet(models.Model):
    class Status(models.TextChoices):
        DOWNLOADING = "downloading", _("downloading")
        COMPLETE = "complete", _("complete")
        PARTIAL = "partial", _("partial (some not fetched in time)")
        EMPTY = "empty", _("no image kept")

    event = models.OneToOneField(CallbackEvent, verbose_name=_("event"), on_delete=models.CASCADE, related_name="image_set")
    kakao_app = models.ForeignKey(KakaoApp, verbose_name=_("kakao app"), on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), null=True, blank=True, on_delete=models.CASCADE, related_name="image_sets")
    relay_id = models.CharField(_("relay id"), max_length=200, blank=True, db_index=True)
    expire = models.DateTimeField(_("expire"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DOWNLOADING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    download_requested_at = models.DateTimeField(
        _("download requested at"),
        default=timezone.now,
        help_text=_("When a download was last queued, or last ran; a sweep queues it again when images are "
        "still pending long after this (a lost task), and marks them expired past `expire`"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("secure image set")
        verbose_name_plural = _("secure image sets")

    def __str__(self) -> str:
        return f"image set #{self.pk}"


def secure_image_path(instance: SecureImage, filename: str) -> str:
    return f"secure_images/{instance.image_set.kakao_app_id}/{uuid.uuid4().hex}{filename}"


class SecureImage(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        STORED = "stored", _("stored")
        FAILED = "failed", _("failed")
        EXPIRED = "expired", _("expired before it was fetched")

    class Size(models.TextChoices):
        ORIGINAL = "original", _("original")
        IMG_1M = "img_1m", _("1 MB")
        IMG_3M = "img_3m", _("3 MB")

    image_set = models.ForeignKey(SecureImageSet, verbose_name=_("image set"), on_delete=models.CASCADE, related_name="images")
    position = models.PositiveIntegerField(_("position"), help_text=_("Index in secure_urls"))
    size = models.CharField(_("size"), max_length=10, choices=Size.choices)
    source_url = models.CharField(_("source url"), max_length=2048, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    file = models.FileField(_("file"), upload_to=secure_image_path, max_length=300, blank=True)
    content_type = models.CharField(_("content type"), max_length=40, blank=True)
    bytes = models.PositiveIntegerField(_("bytes"), null=True, blank=True)
    sha256 = models.CharField(_("sha256"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    fetched_at = models.DateTimeField(_("fetched at"), null=True, blank=True)

    class Meta:
        ordering = ["image_set", "position", "size"]
        constraints = [
            models.UniqueConstraint(fields=["image_set", "position", "size"], name="secure_image_unique_slot")
        ]
        # The sweep's question, every minute: which sets still have images to fetch (few, whatever the total).
        indexes = [
            models.Index(fields=["image_set"], condition=Q(status="pending"), name="secure_image_pending"),
        ]
        verbose_name = _("secure image")
        verbose_name_plural = _("secure images")

    def __str__(self) -> str:
        return f"image {self.position}/{self.size} of set #{self.image_set_id}"


class KakaoSyncSignup(models.Model):
    """One visit of the Kakao Sync plugin redirect: the log staff read when a sign-up failed."""

    class Status(models.TextChoices):
        STARTED = "started", _("started")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    kakao_app = models.ForeignKey(KakaoApp, verbose_name=_("kakao app"), on_delete=models.PROTECT, related_name="+")
    code_hash = models.CharField(_("code hash"), max_length=64, unique=True, help_text=_("SHA-256 of the code: a code is used once"))
    state = models.CharField(_("state"), max_length=500, blank=True)
    continue_url = models.CharField(_("continue url"), max_length=2048, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.STARTED)
    error = models.TextField(_("error"), blank=True)
    kakao_user_id = models.CharField(_("kakao user id"), max_length=64, blank=True)
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_customer = models.BooleanField(_("created customer"), default=False)
    terms = models.JSONField(_("terms"), default=list, blank=True)
    replays = models.PositiveIntegerField(_("replays"), default=0, help_text=_("Visits again with the same (used) code"))
    source_ip = models.GenericIPAddressField(_("source ip"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("Kakao Sync sign-up")
        verbose_name_plural = _("Kakao Sync sign-ups")

    def __str__(self) -> str:
        return f"sign-up #{self.pk} {self.status}"


class PurgeRun(models.Model):
    """A retention purge: when, by whom, with which cut-offs, and how much it removed."""

    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    triggered_by = models.CharField(_("triggered by"), max_length=100)
    dry_run = models.BooleanField(_("dry run"), default=False)
    personal_cutoff = models.DateTimeField(_("personal cutoff"))
    raw_cutoff = models.DateTimeField(_("raw cutoff"))
    counts = models.JSONField(_("counts"), default=dict)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("retention purge")
        verbose_name_plural = _("retention purges")

    def __str__(self) -> str:
        return f"purge {self.started_at:%Y-%m-%d %H:%M}"
