"""Kakao Sync: the ``state`` that authorises a redirect, then the sign-up (code → token → user and
terms → member, profile, consents)."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from kakaoplugin import browser_tokens
from kakaoplugin.clients import kakao_login, otp
from kakaoplugin.models import Customer, KakaoApp

from ..models import Consent, KakaoSyncSignup, MemberProfile
from .common import text_value, when_value
from .profiles import member_profile_upsert, profile_fields

logger = logging.getLogger(__name__)


class SignupRefused(Exception):
    def __init__(self, message: str, *, signup: KakaoSyncSignup | None = None):
        super().__init__(message)
        self.message = message
        self.signup = signup


KAKAOSYNC_STATE_PURPOSE = "kakaosync"


MSG_BAD_STATE = "가입 요청이 유효하지 않거나 만료되었습니다. 채팅방에서 다시 시도해 주세요. (invalid or expired sign-up request)"


def kakaosync_state_issue(*, kakao_app: KakaoApp) -> str:
    """A ``state`` for one launch of the app's Kakao Sync plugin: the redirect URI is fixed per
    app, so this is what authorises a visit (valid ``KAKAOSYNC_STATE_MAX_AGE_SECONDS``)."""
    return browser_tokens.state_issue(purpose=KAKAOSYNC_STATE_PURPOSE, app_id=kakao_app.pk)


def kakaosync_state_refusal(*, kakao_app: KakaoApp, state: str) -> str | None:
    """None when ``state`` is one we issued for this app and still valid; else the buyer's message."""
    why = browser_tokens.state_check(
        state, purpose=KAKAOSYNC_STATE_PURPOSE, app_id=kakao_app.pk, max_age=settings.KAKAOSYNC_STATE_MAX_AGE_SECONDS
    )
    if why is None:
        return None
    logger.info("Kakao Sync redirect refused for app %s: %s", kakao_app.pk, why)
    return MSG_BAD_STATE


def kakao_account_fields(me: dict[str, Any]) -> dict[str, Any]:
    """Kakao Login's ``/v2/user/me`` as the profile fields the OTP profile answer uses."""
    account = me.get("kakao_account") if isinstance(me.get("kakao_account"), dict) else {}
    profile = account.get("profile") if isinstance(account.get("profile"), dict) else {}
    flat: dict[str, Any] = {
        "nickname": profile.get("nickname"),
        "profile_image_url": profile.get("profile_image_url"),
    }
    for name in ("email", "phone_number", "age_range", "birthyear", "birthday", "gender", "ci", "ci_authenticated_at"):
        flat[name] = account.get(name)
    return profile_fields({k: v for k, v in flat.items() if v is not None})


def continue_target(url: str) -> str | None:
    """Where to send the browser after sign-up: ``continue`` rebuilt when it is an https URL on a
    Kakao host (KAKAO_CONTINUE_HOSTS), else None (no open redirect)."""
    if not url:
        return None
    try:
        return otp.validate_url_on_hosts(url, settings.KAKAO_CONTINUE_HOSTS, https_only=True).url()
    except otp.UrlRefused:
        return None


def kakaosync_signup(
    *,
    kakao_app: KakaoApp,
    code: str,
    state: str,
    continue_url: str,
    redirect_uri: str,
    source_ip: str | None,
) -> KakaoSyncSignup:
    """Exchange the code, read the user and their terms, then create or update the member, its
    profile and its consents in one transaction. Raises :class:`SignupRefused` (nothing made)."""
    code_hash = hashlib.sha256(code.encode()).hexdigest()
    try:
        with transaction.atomic():
            signup = KakaoSyncSignup.objects.create(
                kakao_app=kakao_app,
                code_hash=code_hash,
                state=state[:500],
                continue_url=continue_url[:2048],
                source_ip=source_ip or None,
            )
    except IntegrityError:
        KakaoSyncSignup.objects.filter(code_hash=code_hash).update(replays=F("replays") + 1)
        previous = KakaoSyncSignup.objects.filter(code_hash=code_hash).first()
        raise SignupRefused("이미 사용된 인증 코드입니다 (this sign-up code was already used)", signup=previous)

    try:
        token = kakao_login.exchange_code(
            rest_api_key=kakao_app.rest_api_key,
            code=code,
            redirect_uri=redirect_uri,
            client_secret=kakao_app.kakao_client_secret,
        )
        me = kakao_login.user_me(token)
        terms = kakao_login.service_terms(token)
    except kakao_login.KakaoLoginError as exc:
        _signup_failed(signup, f"Kakao Login: {exc} ({exc.error_code or exc.error or exc.http_status})")
        if exc.bad_code:
            raise SignupRefused("인증 코드가 유효하지 않거나 만료되었습니다 (invalid or expired code)", signup=signup)
        raise SignupRefused("카카오 로그인 서버와 통신하지 못했습니다 (Kakao Login unavailable)", signup=signup)

    app_user_id = text_value(me.get("id"), 64)
    try:
        with transaction.atomic():
            customer, created = Customer.objects.get_or_create(kakao_app=kakao_app, app_user_id=app_user_id)
            member_profile_upsert(
                customer=customer, fields=kakao_account_fields(me), source=MemberProfile.Source.KAKAOSYNC
            )
            for term in terms:
                Consent.objects.update_or_create(
                    customer=customer,
                    tag=term.tag[:100],
                    defaults={"agreed_at": when_value(term.agreed_at), "source": "kakaosync"},
                )
            signup.status = KakaoSyncSignup.Status.DONE
            signup.kakao_user_id = app_user_id
            signup.customer = customer
            signup.created_customer = created
            signup.terms = [{"tag": t.tag, "agreed_at": t.agreed_at} for t in terms]
            signup.finished_at = timezone.now()
            signup.save()
    except Exception as exc:
        logger.exception("Kakao Sync sign-up %s failed while saving", signup.pk)
        _signup_failed(signup, f"saving failed: {exc!r}")
        raise SignupRefused("가입 처리 중 오류가 발생했습니다 (sign-up could not be saved)", signup=signup)
    return signup


def _signup_failed(signup: KakaoSyncSignup, error: str) -> None:
    KakaoSyncSignup.objects.filter(pk=signup.pk).update(
        status=KakaoSyncSignup.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )
    signup.status = KakaoSyncSignup.Status.FAILED
    signup.error = error
