"""The member page: what we know of a member (profile, consents, addresses, locations, secure
images, orders, subscriptions) on one page, each section shown to staff who may view its rows,
personal data masked as everywhere else (:mod:`kakaoplugin.masking`) without
``kakaoplugin.view_personal_data``. A fixed number of queries: the lists show the latest rows and
link to the whole list, filtered on the member."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from callbacks.selectors import member_record
from kakaoplugin.masking import can_see_personal_data, mask_leaf, mask_number
from kakaoplugin.models import Customer
from orders.selectors import member_orders, member_subscriptions

LATEST = 10
PROFILE_FIELDS = (
    ("nickname", _("Nickname")), ("phone_number", _("Phone")), ("email", _("Email")),
    ("age_range", _("Age range")), ("birthyear", _("Birth year")), ("birthday", _("Birthday")),
    ("gender", _("Gender")),
)  # fmt: skip
ADDRESS_FIELDS = ("receiver_name", "receiver_mobile_number", "zone_code", "base_address", "detail_address")
ADDRESS_PERSONAL = {"receiver_name", "receiver_mobile_number", "base_address", "detail_address"}  # as callbacks' admin


def _shown(full: bool, key: str, value: Any) -> Any:
    if full or value in (None, ""):
        return value
    if isinstance(value, float):
        return mask_number(value)
    return mask_leaf(key, value)


def _list(name: str, **params) -> str:
    return reverse(f"admin:{name}_changelist") + "?" + urlencode(params)


def member_page(customer: Customer, user) -> dict[str, Any]:
    """The member page's sections for ``user`` (a section is None when ``user`` may not view it)."""
    full = can_see_personal_data(user)
    may = user.has_perm
    page: dict[str, Any] = {"member": customer, "full": full}
    record = member_record(customer=customer, limit=LATEST) if may("callbacks.view_memberprofile") else None
    if record is not None:
        profile = record["profile"]
        page["profile"] = profile and {
            "fields": [(label, _shown(full, key, getattr(profile, key))) for key, label in PROFILE_FIELDS
                       if getattr(profile, key)],  # fmt: skip
            "ci": bool(profile.ci_hash), "source": profile.get_source_display(),
            "collected_at": profile.collected_at, "purged_at": profile.purged_at,
        }  # fmt: skip
        page["has_profile_section"] = True
        if may("callbacks.view_consent"):
            page["consents"] = record["consents"]
        if may("callbacks.view_shippingaddress"):
            page["addresses"] = [
                {
                    "fields": [_shown(full or k not in ADDRESS_PERSONAL, k, getattr(a, k)) for k in ADDRESS_FIELDS],
                    "collected_at": a.collected_at,
                }
                for a in record["addresses"]
            ]
        if may("callbacks.view_locationrecord"):
            page["locations"] = [
                {
                    "at": loc.created_at, "usable": loc.usable,
                    "address": _shown(full, "land_address_name", loc.road_address_name or loc.land_address_name),
                    "detail": _shown(full, "detail", loc.detail),
                    "where": (_shown(full, "latitude", loc.latitude), _shown(full, "longitude", loc.longitude)),
                    "url": reverse("admin:callbacks_locationrecord_change", args=[loc.pk]),
                }  # fmt: skip
                for loc in record["locations"]
            ]
            page["locations_url"] = _list("callbacks_locationrecord", customer__id__exact=customer.pk)
        if may("callbacks.view_secureimageset"):
            page["image_sets"] = [
                {
                    "set": s, "url": reverse("admin:callbacks_secureimageset_change", args=[s.pk]),
                    "images": [
                        {"image": i, "src": reverse("admin:callbacks_secureimage_file", args=[i.pk])
                         if full and i.status == "stored" and i.file else ""}  # fmt: skip
                        for i in s.images.all()
                    ],
                }  # fmt: skip
                for s in record["image_sets"]
            ]
    if may("orders.view_order"):
        totals, orders = member_orders(kakao_app_id=customer.kakao_app_id, app_user_id=customer.app_user_id, limit=LATEST)
        page["orders"] = {
            "totals": totals, "latest": orders,
            "url": _list("orders_order", app_user_id=customer.app_user_id, kakao_app__id__exact=customer.kakao_app_id),
        }  # fmt: skip
    if may("orders.view_subscription"):
        page["subscriptions"] = {
            "latest": member_subscriptions(kakao_app_id=customer.kakao_app_id, app_user_id=customer.app_user_id, limit=LATEST),
            "url": _list("orders_subscription", app_user_id=customer.app_user_id, kakao_app__id__exact=customer.kakao_app_id),
        }  # fmt: skip
    return page
