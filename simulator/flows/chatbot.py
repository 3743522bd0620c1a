"""The chatbot: Kakao i Open Builder calling our skills, and reading their answers."""

from __future__ import annotations

from ..http import Channel, Printer, ScenarioFailed, excerpt
from ..target import Target
from .buyer import Buyer


def chatbot_skill(
    openbuilder: Channel, target: Target, buyer: Buyer, name: str, *, utterance: str = "",
    params: dict | None = None, extra: dict | None = None, printer: Printer | None = None,
) -> dict:  # fmt: skip
    """Open Builder calls one of our skills for a chat user (``userRequest.user.properties``
    carries the app user id when the bot is linked to the Kakao app); returns the skill answer."""
    if not target.skill_key:
        raise ScenarioFailed("the Kakao app has no chatbot skills (admin › Chatbot skills): no skill URL to call")
    props = {"plusfriendUserKey": f"pf-{buyer.app_user_id or 'guest'}"}
    if buyer.app_user_id:
        props["appUserId"] = buyer.app_user_id
    payload = {
        "intent": {"id": "sim-intent", "name": name},
        "userRequest": {"utterance": utterance or name, "lang": "ko", "timezone": "Asia/Seoul",
                        "user": {"id": f"bot-user-{buyer.app_user_id}", "type": "botUserKey", "properties": props}},
        "bot": {"id": "sim-bot", "name": "상점 봇"},
        "action": {"id": "sim-action", "name": name, "params": params or {}, "clientExtra": extra or {},
                   "detailParams": {}},
    }  # fmt: skip
    ex = openbuilder.call(f"skill {name} (Open Builder)", "POST", target.skill_url(name), json_body=payload,
                          show_body=False, show_answer=False)  # fmt: skip
    body = ex.body if isinstance(ex.body, dict) else {}
    if ex.status != 200 or body.get("version") != "2.0":
        raise ScenarioFailed(f"skill {name} answered HTTP {ex.status}: {excerpt(ex.body)}")
    return body


def skill_cards(answer: dict) -> list[dict]:
    """The cards of a skill answer (carousel items or a single card), in order."""
    cards = []
    for output in answer.get("template", {}).get("outputs", []):
        if "carousel" in output:
            cards += output["carousel"].get("items", [])
        for kind in ("commerceCard", "basicCard"):
            if kind in output:
                cards.append(output[kind])
    return cards


def skill_texts(answer: dict) -> list[str]:
    return [o["simpleText"]["text"] for o in answer.get("template", {}).get("outputs", []) if "simpleText" in o]


def card_button(card: dict, label: str) -> dict | None:
    return next((b for b in card.get("buttons", []) if b.get("label") == label), None)
