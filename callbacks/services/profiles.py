"""Members' profiles and shipping addresses from the OTP profile answer (and Kakao Sync); the raw
answer redacted before it is stored (the CI becomes its keyed hash)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from kakaoplugin.models import Customer, KakaoApp
from kakaoplugin.services import customer_get_or_create

from ..models import MemberProfile, ShippingAddress
from .common import ci_hash, text_value, when_value

PROFILE_FIELDS = {
    "nickname": 100,
    "profile_image_url": 1000,
    "phone_number": 40,
    "email": 254,
    "age_range": 20,
    "birthyear": 4,
    "birthday": 4,
    "gender": 10,
}


CI_HMAC_KEY = "_ci_hmac_sha256"  # where a redacted raw answer keeps the CI's keyed hash


def redact_raw_response(data: dict[str, Any]) -> dict[str, Any]:
    """Kakao's answer as we store it: everything, unknown keys included, except the raw CI
    (CONTRACTS section 1), which becomes its keyed hash before it ever reaches the database."""
    if "ci" not in data:
        return data
    redacted = {k: v for k, v in data.items() if k != "ci"}
    if isinstance(data["ci"], str) and data["ci"]:
        redacted[CI_HMAC_KEY] = ci_hash(data["ci"])
    return redacted


def profile_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The profile fields present in ``data`` (absent keys are left unchanged); CI → keyed hash."""
    fields: dict[str, Any] = {}
    for name, limit in PROFILE_FIELDS.items():
        if name in data and data[name] is not None:
            fields[name] = text_value(data[name], limit)
    ci = data.get("ci")
    if isinstance(ci, str) and ci:
        fields["ci_hash"] = ci_hash(ci)
    elif isinstance(data.get(CI_HMAC_KEY), str):
        fields["ci_hash"] = data[CI_HMAC_KEY][:64]
    if "ci_hash" in fields:
        fields["ci_authenticated_at"] = when_value(data.get("ci_authenticated_at"))
    return fields


def member_profile_upsert(*, customer: Customer, fields: dict[str, Any], source: str) -> MemberProfile:
    now = timezone.now()
    profile = MemberProfile.objects.select_for_update().filter(customer=customer).first()
    if profile is None:
        profile = MemberProfile(customer=customer)
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.source = source
    profile.collected_at = now
    profile.purged_at = None
    profile.save()
    return profile


def shipping_address_upsert(*, customer: Customer, data: Any) -> ShippingAddress | None:
    if not isinstance(data, dict) or not data:
        return None
    values = {
        "base_address": text_value(data.get("base_address"), 300),
        "detail_address": text_value(data.get("detail_address"), 300),
        "receiver_name": text_value(data.get("receiver_name"), 100),
        "receiver_mobile_number": text_value(data.get("receiver_mobile_number"), 40),
        "post_no": text_value(data.get("post_no"), 10),
        "zone_code": text_value(data.get("zone_code"), 10),
        "collected_at": timezone.now(),
    }
    kakao_id = text_value(data.get("id"), 64)  # a Long in the table, a string in the sample: keep as text
    if kakao_id:
        address, _ = ShippingAddress.objects.update_or_create(
            customer=customer, kakao_address_id=kakao_id, defaults=values
        )
        return address
    same = {k: v for k, v in values.items() if k != "collected_at"}
    address = ShippingAddress.objects.filter(customer=customer, kakao_address_id="", **same).first()
    if address is None:
        return ShippingAddress.objects.create(customer=customer, **values)
    address.collected_at = values["collected_at"]
    address.save(update_fields=["collected_at"])
    return address


def profile_apply_callback(*, kakao_app: KakaoApp, data: dict[str, Any]) -> Customer | None:
    """Upsert the member Kakao's profile answer names (by its ``app_user_id``).

    The callback's own X-Kakao-AppUserId header is not used here: anyone could POST someone
    else's id with their own valid OTP URL and overwrite that member's phone and address.
    """
    app_user_id = text_value(data.get("app_user_id"), 64)
    if not app_user_id:
        return None
    customer = customer_get_or_create(kakao_app=kakao_app, app_user_id=app_user_id)
    member_profile_upsert(customer=customer, fields=profile_fields(data), source=MemberProfile.Source.CALLBACK)
    shipping_address_upsert(customer=customer, data=data.get("shipping_address"))
    return customer
