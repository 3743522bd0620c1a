"""Store rules per Kakao app: business hours, closed dates, shipping fees, remote-area surcharges."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from kakaoplugin.models import KakaoApp


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
        for name in ("zip_from", "zip_to"):
            value = getattr(self, name)
            if not (value.isdigit() and len(value) == 5):
                raise ValidationError({name: "a 5-digit zip code"})
        if self.zip_from > self.zip_to:
            raise ValidationError({"zip_to": "must not be before zip_from"})
