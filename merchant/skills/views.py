"""``POST /skill/<skill_key>/<name>``: Open Builder calls a skill; we answer its response format.

The skill key (per Kakao app, :class:`merchant.models.ChatbotSkills`) is the only secret: Open
Builder's servers send it in the URL registered for the skill. Every call is stored as an inbound
call (the same log as plugin calls: bodies behind a permission, purged after the retention).
Refusals are JSON envelopes (404 unknown key, 405, 413, 400 malformed); what the merchant or buyer
can fix is a polite skill answer (``answers.py``).
"""

from __future__ import annotations

import logging
import time

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from kakaoplugin import envelope
from kakaoplugin.gate import client_ip
from kakaoplugin.services import inbound_call_finish, inbound_call_start

from ..models import ChatbotSkills
from .answers import SKILLS, Context, SkillRequest

logger = logging.getLogger(__name__)


def _skills_for_key(skill_key: str) -> ChatbotSkills | None:
    return (
        ChatbotSkills.objects.select_related("kakao_app")
        .filter(skill_key=skill_key, enabled=True, kakao_app__is_active=True)
        .first()
    )


def _absolute(request: HttpRequest):
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return (lambda path: base + path) if base else request.build_absolute_uri


@csrf_exempt
def skill(request: HttpRequest, skill_key: str, name: str) -> HttpResponse:
    skills = _skills_for_key(skill_key)
    if skills is None or name not in SKILLS:
        return envelope.fail(404, "알 수 없는 스킬 주소입니다 (unknown skill URL)", http_status=404)
    if request.method != "POST":
        return envelope.fail(405, "POST만 받습니다 (Open Builder POSTs skills)", http_status=405)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return envelope.fail(400, "Content-Length가 올바르지 않습니다", http_status=400)
    if length > settings.PLUGIN_MAX_BODY_BYTES:
        return envelope.fail(413, "요청 본문이 너무 큽니다 (body too large)", http_status=413)
    started = time.monotonic()
    body = request.body
    call = inbound_call_start(
        kakao_app=skills.kakao_app, endpoint=f"skill_{name}", method=request.method, meta=request.META,
        query=request.GET.dict(), body=body, source_ip=client_ip(request), app_user_id=None, relay_id=None,
    )  # fmt: skip
    response = _answer(request, skills, name, body)
    inbound_call_finish(
        call=call, http_status=response.status_code, content=response.content, is_json=True,
        duration_ms=int((time.monotonic() - started) * 1000),
    )  # fmt: skip
    return response


def _answer(request: HttpRequest, skills: ChatbotSkills, name: str, body: bytes) -> HttpResponse:
    try:
        payload = orjson.loads(body or b"null")
        parsed = SkillRequest.parse(payload)
    except orjson.JSONDecodeError:
        return envelope.fail(400, "JSON이 아닙니다 (the skill payload is not JSON)", http_status=400)
    except envelope.PluginError as exc:
        return envelope.from_error(exc)
    try:
        answer = SKILLS[name](Context(skills=skills, request=parsed, absolute=_absolute(request)))
    except Exception:
        logger.exception("skill %s failed", name)
        return envelope.fail(500, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해 주세요.", http_status=500)
    return envelope.json_response(answer)
