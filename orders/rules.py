"""Store rules (reads): is the store open, what shipping costs, what the amounts are.

Business hours and closed dates are in the store's time zone (``settings.STORE_TIME_ZONE``,
Asia/Seoul); timestamps are stored in UTC.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from kakaoplugin.generations import LocalCopies, generation_current
from kakaoplugin.models import KakaoApp

from .models import BusinessHours, ClosedDate, RemoteAreaRange, StoreRules

# Payment T1 and T2 read the store's rules on every call (four queries): each process keeps them
# under the app's generation (kakaoplugin.generations), renewed after any change of the rules, their
# hours, closed dates or remote areas commits (:func:`watch_store_rules`); a minute at most if a
# renewal is lost. The copy is shared by the process's threads: read it, never change it.
_COPIES = LocalCopies(limit=256, max_age=60.0)


def _generation_key(kakao_app_id: int) -> str:
    return f"orders:rules:{kakao_app_id}"


def store_rules(kakao_app: KakaoApp) -> StoreRules | None:
    """The app's store rules with their hours, closed dates and remote areas (None: no rules)."""
    token = generation_current(_generation_key(kakao_app.pk))  # None while the cache is unavailable
    kept = _COPIES.get(kakao_app.pk, token)
    if kept is not None:
        return kept[0]
    rules = (
        StoreRules.objects.filter(kakao_app=kakao_app)
        .prefetch_related("hours", "closed_dates", "remote_areas")
        .first()
    )
    _COPIES.keep(kakao_app.pk, token, (rules,))
    return rules


def _renew(app_ids) -> None:
    for app_id in set(app_ids) - {None}:
        _COPIES.renew_after_commit(app_id, _generation_key(app_id))


def _before_save(sender, instance, **kwargs) -> None:
    """Remember the parent a row had (a row moved to other rules changes both apps' answers)."""
    field = "kakao_app_id" if sender is StoreRules else "rules_id"
    instance._parent_before = (
        None if instance.pk is None else sender.objects.filter(pk=instance.pk).values_list(field, flat=True).first()
    )


def _rules_saved(sender, instance, **kwargs) -> None:
    _renew([instance.kakao_app_id, getattr(instance, "_parent_before", None)])


def _part_saved(sender, instance, **kwargs) -> None:
    rules_ids = {instance.rules_id, getattr(instance, "_parent_before", None)} - {None}
    _renew(StoreRules.objects.filter(pk__in=rules_ids).values_list("kakao_app_id", flat=True))


def watch_store_rules() -> None:
    """Connect the renewals (OrdersConfig.ready)."""
    from django.db.models.signals import post_delete, post_save, pre_save

    for model in (StoreRules, BusinessHours, ClosedDate, RemoteAreaRange):
        handler = _rules_saved if model is StoreRules else _part_saved
        pre_save.connect(_before_save, sender=model, dispatch_uid=f"store-rules-{model.__name__}-before")
        post_save.connect(handler, sender=model, dispatch_uid=f"store-rules-{model.__name__}-saved")
        post_delete.connect(handler, sender=model, dispatch_uid=f"store-rules-{model.__name__}-deleted")


def _in_window(opens: time, closes: time, at: time) -> bool | None:
    """True/False for a same-day window; None when the window runs past midnight (see caller)."""
    if closes > opens:
        return opens <= at < closes
    return None


def store_is_open(rules: StoreRules | None, *, now: datetime | None = None) -> bool:
    if rules is None:
        return True
    local = (now or timezone.now()).astimezone(ZoneInfo(settings.STORE_TIME_ZONE))
    if any(c.date == local.date() for c in rules.closed_dates.all()):
        return False
    if not rules.enforce_business_hours:
        return True
    today, at = local.weekday(), local.time()
    yesterday = (today - 1) % 7
    for h in rules.hours.all():
        same_day = _in_window(h.opens, h.closes, at)
        if same_day is not None:
            if h.weekday == today and same_day:
                return True
            continue
        # closes <= opens: opens on h.weekday and runs into the next day (00:00–00:00: all day)
        if h.weekday == today and at >= h.opens:
            return True
        if h.weekday == yesterday and at < h.closes:
            # the day before's window may itself be "yesterday"'s closed date: still open, it began then
            return True
    return False


def remote_surcharge(rules: StoreRules | None, zip_code: str | None) -> tuple[int, str]:
    """The 도서산간 surcharge for a 5-digit zip code, and the area's name."""
    code = (zip_code or "").strip().replace("-", "")
    if rules is None or not (code.isdigit() and len(code) == 5):
        return 0, ""
    for area in rules.remote_areas.all():
        if area.zip_from <= code <= area.zip_to:
            return area.surcharge, area.name
    return 0, ""


def shipping_fee(rules: StoreRules | None, *, goods_amount: int, use_shipping: bool, zip_code: str | None) -> int:
    """Base fee (waived from the free-shipping threshold) plus the remote-area surcharge."""
    if not use_shipping or rules is None:
        return 0
    base = rules.shipping_base_fee
    if rules.free_shipping_threshold and goods_amount >= rules.free_shipping_threshold:
        base = 0
    return base + remote_surcharge(rules, zip_code)[0]


def vat_of(taxable_amount: int) -> int:
    """KakaoPay's rule: (total - tax free) / 11, rounded half up (sent explicitly in T1)."""
    return (taxable_amount + 5) // 11 if taxable_amount > 0 else 0


def local_now() -> datetime:
    return timezone.now().astimezone(ZoneInfo(settings.STORE_TIME_ZONE))

