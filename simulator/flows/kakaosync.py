"""Kakao Sync: the merchant's chatbot asks for a launch, the buyer consents, Kakao Login's code reaches
our redirect URI and we send the buyer back to Kakao."""

from __future__ import annotations

from fakekakao.control import FakeControl

from ..http import Channel, Printer, ScenarioFailed, excerpt
from ..target import Target
from .buyer import Buyer, say

# Kakao Sync returns the buyer to Kakao when it is done (the plugin's `continue`).
CONTINUE_URL = "https://talk-plugin.kakao.com/kakaosync/continue"


def kakao_sync_launch(merchant: Channel, target: Target, printer: Printer | None = None) -> dict:
    """The merchant's chatbot asks the merchant API for a Kakao Sync launch: a ``state`` our server
    issued (its redirect URI admits no other) and the app's redirect URI (registered in Kakao
    Developers, fixed per app, without the plugin key)."""
    if not target.api_key:
        raise ScenarioFailed("no merchant API key: the merchant's chatbot needs one to launch Kakao Sync (a state)")
    ex = merchant.call(
        "merchant API: Kakao Sync launch (Bearer <api key>)", "POST", target.merchant_url("kakaosync/launch-link"),
        headers={"Authorization": f"Bearer {target.api_key}"}, show_answer=False,
    )  # fmt: skip
    if ex.status != 200 or not isinstance(ex.body, dict) or not ex.body.get("state"):
        message = ex.body.get("message", excerpt(ex.body)) if isinstance(ex.body, dict) else excerpt(ex.body)
        raise ScenarioFailed(f"merchant API: POST /api/v1/kakaosync/launch-link answered HTTP {ex.status}: {message}")
    redirect_uri = str(ex.body.get("redirect_uri") or "")
    if target.plugin_key in redirect_uri or "/plugin/" in redirect_uri:
        raise ScenarioFailed("Kakao Sync's redirect URI carries the plugin key: a browser follows it")
    say(printer, f"    ← a state for this launch; redirect URI {target.shown(redirect_uri)}")
    return ex.body


def kakao_sync_signup(
    kakao: Channel, browser: Channel, merchant: Channel, target: Target, buyer: Buyer, printer: Printer | None = None
) -> None:
    """The merchant's chatbot launches the Kakao Sync plugin with a state it got from our server;
    the buyer consents; Kakao Login issues a code and sends the browser to our redirect URI with
    the code and the state; we exchange the code and 302 back to Kakao's ``continue`` URL."""
    launch = kakao_sync_launch(merchant, target, printer)
    redirect_uri, state = launch["redirect_uri"], launch["state"]
    seeded = kakao.call(
        "Kakao Login: the buyer consents (fake)", "POST", target.fake("/fake/kakao_login/user"),
        json_body={
            "id": int(buyer.app_user_id or 0), "client_id": target.rest_api_key, "redirect_uri": redirect_uri,
            "kakao_account": {
                "profile": {"nickname": buyer.nickname}, "email": f"user{buyer.app_user_id}@example.com",
                "phone_number": "+82 10-1234-5678", "age_range": "30~39", "gender": "male",
            },
            "service_terms": [{"tag": "service", "required": True}, {"tag": "privacy", "required": True}, {"tag": "marketing"}],
        },
        show_answer=False,
    )  # fmt: skip
    if seeded.status != 200:
        raise ScenarioFailed(f"the fake did not issue a Kakao Login code: HTTP {seeded.status}")
    code = seeded.body["code"]
    answer = browser.call(
        "Kakao Sync redirect URI",
        "GET",
        redirect_uri,
        params={"code": code, "state": state, "continue": CONTINUE_URL},
    )
    if answer.status != 302 or answer.headers.get("Location") != CONTINUE_URL:
        raise ScenarioFailed(
            f"Kakao Sync: expected 302 to {CONTINUE_URL}, got HTTP {answer.status} {excerpt(answer.body, 200)}"
        )
    fake = FakeControl(target.fake_url)
    token_calls = [c for c in fake.calls("oauth_token") if c["params"].get("code") == code]
    if len(token_calls) != 1 or token_calls[0]["params"].get("client_id") != target.rest_api_key:
        raise ScenarioFailed(
            f"Kakao Sync: our server exchanged the code {len(token_calls)} times (expected once, with our REST API key)"
        )
    after = token_calls[0]["at"]
    me = [c for c in fake.calls("user_me") if c["at"] >= after]
    terms = [c for c in fake.calls("service_terms") + fake.calls("service_terms_v1") if c["at"] >= after]
    if not me or not terms:
        raise ScenarioFailed("Kakao Sync: our server did not read /v2/user/me and the service terms")
    say(
        printer,
        f"    ✓ signed up app user {buyer.app_user_id}: code exchanged once, user and terms read, back to Kakao",
    )
