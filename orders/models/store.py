"""Store rules per Kakao app: business hours, closed dates, shipping fees, remote-area surcharges."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kakaoplugin.models import KakaoApp


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
        for name in ("zip_from", "zip_to"):
            value = getattr(self, name)
            if not (value.isdigit() and len(value) == 5):
                raise ValidationError({name: gettext("a 5-digit zip code")})
        if self.zip_from > self.zip_to:
            raise ValidationError({"zip_to": gettext("must not be before zip_from")})
