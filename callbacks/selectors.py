"""Reads of the callbacks app."""

from __future__ import annotations

from kakaoplugin.masking import PERSONAL_DATA_PERMISSION, can_see_personal_data  # noqa: F401 (re-exported)
from kakaoplugin.models import Customer

from .models import CallbackEvent, MemberProfile


def member_profile_get(*, customer: Customer) -> MemberProfile | None:
    return MemberProfile.objects.filter(customer=customer).first()


def callback_events_for_relay(*, relay_id: str):
    """Every callback of one chat session (relay id), newest first."""
    return CallbackEvent.objects.filter(relay_id=relay_id).select_related("kakao_app")


def members_by_ci(*, kakao_app_id: int, ci: str):
    """Members of an app whose CI matches (by keyed hash; the CI itself is never stored)."""
    from .services import ci_hash

    return Customer.objects.filter(kakao_app_id=kakao_app_id, profile__ci_hash=ci_hash(ci))


def failed_callbacks_count(*, since) -> int:
    """Callbacks received since ``since`` that failed (every fetch attempt used)."""
    return CallbackEvent.objects.filter(status=CallbackEvent.Status.FAILED, received_at__gte=since).count()


def member_record(*, customer: Customer, limit: int = 10) -> dict:
    """What callbacks and Kakao Sync learnt about a member: profile, addresses, consents, the
    latest locations and image sets (with their images), in a fixed number of queries."""
    from django.db.models import Prefetch

    from .models import Consent, LocationRecord, SecureImage, SecureImageSet, ShippingAddress

    images = Prefetch("images", queryset=SecureImage.objects.order_by("position", "size"))
    return {
        "profile": MemberProfile.objects.filter(customer=customer).first(),
        "addresses": list(ShippingAddress.objects.filter(customer=customer).order_by("-collected_at")),
        "consents": list(Consent.objects.filter(customer=customer)),
        "locations": list(LocationRecord.objects.filter(customer=customer).order_by("-created_at")[:limit]),
        "image_sets": list(
            SecureImageSet.objects.filter(customer=customer).order_by("-created_at").prefetch_related(images)[:limit]
        ),
    }
