"""Open Builder's skill response format (version 2.0): builders that respect its limits, and
:func:`problems`, which checks a whole answer against them (the tests run every answer through it).

Limits: 1–3 outputs; at most 10 quick replies; simpleText up to 1,000 characters; a carousel of
1–10 cards; a commerceCard has exactly one thumbnail, 1–3 buttons and a description up to 230
characters; a basicCard up to 3 buttons; a listCard up to 5 items and 2 buttons; a button or quick
reply label up to 14 characters.
"""

from __future__ import annotations

from typing import Any

MAX_OUTPUTS = 3
MAX_QUICK_REPLIES = 10
MAX_TEXT = 1000
MAX_CAROUSEL = 10
MAX_DESCRIPTION = 230
MAX_TITLE = 50
MAX_BUTTONS = 3
MAX_LIST_ITEMS = 5
MAX_LIST_BUTTONS = 2
MAX_LABEL = 14

Json = dict[str, Any]


def clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split()) if "\n" not in str(text) else str(text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def answer(*outputs: Json, quick_replies: list[Json] | None = None) -> Json:
    template: Json = {"outputs": list(outputs)[:MAX_OUTPUTS]}
    if quick_replies:
        template["quickReplies"] = quick_replies[:MAX_QUICK_REPLIES]
    return {"version": "2.0", "template": template}


def simple_text(text: str) -> Json:
    return {"simpleText": {"text": clip(text, MAX_TEXT)}}


def link_button(label: str, url: str) -> Json:
    """A button that opens ``url``: the plugins' ``kakaotalk://bizplugin`` links on every platform."""
    return {"action": "osLink", "label": clip(label, MAX_LABEL), "osLink": {"android": url, "ios": url, "pc": url}}


def block_button(label: str, block_id: str, extra: Json) -> Json:
    return {"action": "block", "label": clip(label, MAX_LABEL), "blockId": block_id, "extra": extra}


def message_reply(label: str, text: str) -> Json:
    return {"action": "message", "label": clip(label, MAX_LABEL), "messageText": text}


def commerce_card(*, description: str, price: int, discount: int, image_url: str, buttons: list[Json],
                  title: str = "") -> Json:  # fmt: skip
    card: Json = {
        "description": clip(description, MAX_DESCRIPTION),
        "price": int(price),
        "currency": "won",
        "thumbnails": [{"imageUrl": image_url}],
        "buttons": buttons[:MAX_BUTTONS],
    }
    if title:
        card["title"] = clip(title, MAX_TITLE)
    if discount > 0:
        card["discount"] = int(discount)
    return card


def basic_card(*, title: str, description: str, buttons: list[Json] | None = None) -> Json:
    card: Json = {"title": clip(title, MAX_TITLE), "description": clip(description, MAX_DESCRIPTION)}
    if buttons:
        card["buttons"] = buttons[:MAX_BUTTONS]
    return card


def carousel(kind: str, items: list[Json]) -> Json:
    return {"carousel": {"type": kind, "items": items[:MAX_CAROUSEL]}}


# --- the rules, checked ----------------------------------------------------------------------


def _label(where: str, item: Json, found: list[str]) -> None:
    label = item.get("label")
    if not isinstance(label, str) or not label or len(label) > MAX_LABEL:
        found.append(f"{where}: label must be 1–{MAX_LABEL} characters, got {label!r}")


def _button(where: str, button: Json, found: list[str]) -> None:
    _label(where, button, found)
    action = button.get("action")
    needs = {"osLink": "osLink", "webLink": "webLinkUrl", "block": "blockId", "message": "messageText"}
    if action not in needs:
        found.append(f"{where}: unknown action {action!r}")
    elif not button.get(needs[action]):
        found.append(f"{where}: action {action} needs {needs[action]}")
    if action == "osLink" and not all(button["osLink"].get(k) for k in ("android", "ios", "pc")):
        found.append(f"{where}: osLink needs android, ios and pc")


def _card(where: str, kind: str, card: Json, found: list[str]) -> None:
    buttons = card.get("buttons") or []
    if len(card.get("description") or "") > MAX_DESCRIPTION:
        found.append(f"{where}: description over {MAX_DESCRIPTION} characters")
    if len(card.get("title") or "") > MAX_TITLE:
        found.append(f"{where}: title over {MAX_TITLE} characters")
    if kind == "commerceCard":
        if len(card.get("thumbnails") or []) != 1 or not card["thumbnails"][0].get("imageUrl"):
            found.append(f"{where}: a commerceCard needs exactly one thumbnail with an imageUrl")
        if not 1 <= len(buttons) <= MAX_BUTTONS:
            found.append(f"{where}: a commerceCard needs 1–{MAX_BUTTONS} buttons")
        if not isinstance(card.get("price"), int) or card["price"] < 0:
            found.append(f"{where}: price must be a whole number of won")
        if card.get("discount", 0) and card["discount"] >= card["price"] + card["discount"]:
            found.append(f"{where}: discount larger than the price")
    elif len(buttons) > MAX_BUTTONS:
        found.append(f"{where}: more than {MAX_BUTTONS} buttons")
    for i, button in enumerate(buttons):
        _button(f"{where}.buttons[{i}]", button, found)


def problems(response: Json) -> list[str]:
    """Every way ``response`` breaks the skill response format's rules (empty: none)."""
    found: list[str] = []
    if response.get("version") != "2.0":
        found.append("version must be 2.0")
    template = response.get("template") or {}
    outputs = template.get("outputs") or []
    if not 1 <= len(outputs) <= MAX_OUTPUTS:
        found.append(f"1–{MAX_OUTPUTS} outputs, got {len(outputs)}")
    for i, output in enumerate(outputs):
        where = f"outputs[{i}]"
        if len(output) != 1:
            found.append(f"{where}: one component per output")
        if "simpleText" in output:
            text = output["simpleText"].get("text") or ""
            if not text or len(text) > MAX_TEXT:
                found.append(f"{where}: simpleText must be 1–{MAX_TEXT} characters")
        elif "carousel" in output:
            kind, items = output["carousel"].get("type"), output["carousel"].get("items") or []
            if kind not in ("commerceCard", "basicCard", "listCard"):
                found.append(f"{where}: carousel type {kind!r}")
            if not 1 <= len(items) <= MAX_CAROUSEL:
                found.append(f"{where}: a carousel holds 1–{MAX_CAROUSEL} cards, got {len(items)}")
            for j, item in enumerate(items):
                _card(f"{where}.items[{j}]", kind, item, found)
        elif "commerceCard" in output or "basicCard" in output:
            kind = next(iter(output))
            _card(where, kind, output[kind], found)
        elif "listCard" in output:
            card = output["listCard"]
            if not 1 <= len(card.get("items") or []) <= MAX_LIST_ITEMS:
                found.append(f"{where}: a listCard holds 1–{MAX_LIST_ITEMS} items")
            if len(card.get("buttons") or []) > MAX_LIST_BUTTONS:
                found.append(f"{where}: a listCard has at most {MAX_LIST_BUTTONS} buttons")
        else:
            found.append(f"{where}: unknown component {list(output)}")
    replies = template.get("quickReplies") or []
    if len(replies) > MAX_QUICK_REPLIES:
        found.append(f"at most {MAX_QUICK_REPLIES} quick replies")
    for i, reply in enumerate(replies):
        _label(f"quickReplies[{i}]", reply, found)
    return found
