"""Plugin views of the callbacks app (thin: parse, call a service, render).

- ``callbacks/profile|location|secure-image``: Kakao's OTP callbacks (CONTRACTS sections 1, 3, 4).
  Stored first, then answered ``{"status": 200}``; a body or OTP URL we refuse is a 400 envelope
  (stored as rejected, nothing fetched).
- ``/sync/<app id>/redirect``: Kakao Sync's plugin redirect URI, a browser page (CONTRACTS
  section 2). Outside the plugin key (a browser follows it) and fixed per app (it is registered in
  Kakao Developers); the ``state`` we issued (:func:`services.kakaosync_state_issue`) authorises
  each visit.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from kakaoplugin import browser_tokens, envelope
from kakaoplugin.gate import client_ip
from kakaoplugin.plugin_paths import kakaosync_redirect_url

from . import services
from .models import CallbackKind


def _callback_view(kind: str):
    @csrf_exempt
    @require_POST
    def view(request: HttpRequest, plugin_key: str) -> HttpResponse:
        received = services.callback_receive(
            kind=kind,
            kakao_app=request.kakao_app,
            body=request.body,
            headers=services.request_headers(request.META),
            relay_id=request.kakao.relay_id,
            app_user_id=request.kakao.app_user_id,
            source_ip=client_ip(request),
        )
        if received.error is not None:
            return envelope.fail(400, received.error, http_status=400)
        return envelope.ok()

    view.__name__ = f"callback_{kind}"
    return view


callback_profile = _callback_view(CallbackKind.PROFILE)
callback_location = _callback_view(CallbackKind.LOCATION)
callback_secure_image = _callback_view(CallbackKind.SECURE_IMAGE)


def _page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = TemplateResponse(request, template, context, status=status)
    response.render()
    response.keep_as_page = True  # a browser page: the plugin gate leaves it as HTML
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def kakaosync_redirect(request: HttpRequest, ref: str) -> HttpResponse:
    """Kakao sends the browser here with ``code`` (and ``state``, ``continue``) after consent."""
    app = request.kakao_app
    if request.GET.get("error"):
        reason = request.GET.get("error_description") or request.GET.get("error")
        return _page(request, "callbacks/kakaosync_error.html", {"message": "가입이 취소되었습니다.", "detail": reason[:200]}, 400)
    refused = services.kakaosync_state_refusal(kakao_app=app, state=request.GET.get("state", ""))
    if refused is not None:
        return _page(request, "callbacks/kakaosync_error.html", {"message": refused}, 400)
    code = request.GET.get("code", "")
    if not code or len(code) > 1000:
        return _page(request, "callbacks/kakaosync_error.html", {"message": "인증 코드가 없습니다 (no code)."}, 400)
    base = settings.PUBLIC_BASE_URL or request.build_absolute_uri("/")
    continue_url = request.GET.get("continue", "")
    try:
        services.kakaosync_signup(
            kakao_app=app,
            code=code,
            state=browser_tokens.state_reference(request.GET.get("state", "")),  # not the credential itself
            continue_url=continue_url,
            redirect_uri=kakaosync_redirect_url(base, app.pk),
            source_ip=client_ip(request),
        )
    except services.SignupRefused as exc:
        return _page(request, "callbacks/kakaosync_error.html", {"message": exc.message}, 400)
    target = services.continue_target(continue_url)
    if target is not None:
        response = HttpResponseRedirect(target)
        response.keep_as_page = True
        return response
    return _page(request, "callbacks/kakaosync_done.html", {})
