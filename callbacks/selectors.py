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
