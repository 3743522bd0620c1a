"""The option plugin: option T1 (the tree), option T2 (the buyer's choices → an order sheet), and the
merchant's chatbot making an order sheet through the merchant API for the payment plugin (9.2.3)."""

from __future__ import annotations

import urllib.parse

from ..http import Channel, Printer, ScenarioFailed, excerpt
from ..options import Choice, choose
from ..steps import Steps, call, drive
from ..target import Target
from .buyer import Buyer, Refused, say


def option_lookup_steps(
    target: Target, buyer: Buyer, product_id: str | None = None, *, label: str = "option T1",
    printer: Printer | None = None, via: str = "kakao",
) -> Steps[dict]:  # fmt: skip
    """Option T1: the tree Kakao shows in the option sheet."""
    ex = yield call(via, label, "GET", target.plugin_url("options"), params={"id": product_id or target.product_id},
                    headers=buyer.headers(), show_answer=False)  # fmt: skip
    if ex.envelope_status != 200 or not isinstance(ex.data, dict):
        raise Refused(label, ex.envelope_status or ex.status, excerpt(ex.body))
    tree = ex.data
    say(
        printer,
        f"    ← {tree.get('name')} ({tree.get('id')}), {tree.get('price', 0):,}원, "
        f"{len(tree.get('option_groups') or [])} option groups",
    )
    return tree


def option_lookup(
    kakao: Channel, target: Target, buyer: Buyer, product_id: str | None = None, *, label: str = "option T1"
) -> dict:
    return drive(option_lookup_steps(target, buyer, product_id, label=label, printer=kakao.printer), kakao=kakao)


def option_select_steps(target: Target, buyer: Buyer, choice: Choice, printer: Printer | None = None) -> Steps[str]:
    """Option T2: the buyer's choices; our answer is the order sheet id (temporary order id)."""
    say(printer, f"    buyer picks: {' → '.join(choice.path) or '(no options)'} × {choice.body['quantity']}")
    ex = yield call("kakao", "option T2", "POST", target.plugin_url("option"), json_body=choice.body,
                    headers=buyer.headers(), show_body=False)  # fmt: skip
    if ex.envelope_status != 200 or not isinstance(ex.data, str):
        raise Refused(
            "option T2", ex.envelope_status or ex.status, (ex.body or {}).get("message", excerpt(ex.body))
        )
    return ex.data


def option_select(kakao: Channel, target: Target, buyer: Buyer, choice: Choice) -> str:
    return drive(option_select_steps(target, buyer, choice, kakao.printer), kakao=kakao)


def option_plugin(
    kakao: Channel, target: Target, buyer: Buyer, product_id: str | None = None
) -> tuple[str, Choice]:
    tree = option_lookup(kakao, target, buyer, product_id)
    choice = choose(tree)
    return option_select(kakao, target, buyer, choice), choice


LAUNCH_LINK = ("kakaotalk", "bizplugin")  # kakaotalk://bizplugin?plugin_id=...&oneclick_id=...


def launch_link_oneclick_id(link: str) -> tuple[str, str]:
    """The payment plugin's launch link → (plugin id, oneclick id); ScenarioFailed when it is not one."""
    parts = urllib.parse.urlsplit(link)
    query = urllib.parse.parse_qs(parts.query)
    plugin_id = (query.get("plugin_id") or [""])[0]
    oneclick_id = (query.get("oneclick_id") or [""])[0]
    if (parts.scheme, parts.netloc) != LAUNCH_LINK or not plugin_id or not oneclick_id:
        raise ScenarioFailed(
            f"not a payment plugin launch link (kakaotalk://bizplugin?plugin_id=...&oneclick_id=...): {link!r}"
        )
    return plugin_id, oneclick_id


def order_sheet_for_payment_only(
    merchant: Channel, target: Target, buyer: Buyer, printer: Printer | None = None
) -> str:
    """Scenario 9.2.3 launches the payment plugin with an order sheet that exists before Kakao
    calls T1: the merchant's chatbot made it through the merchant API and sent the buyer its
    launch link.  The chatbot reads the product's options the only way the catalog is served
    over HTTP (option T1, a read), picks for the buyer, ``POST /api/v1/order-sheets`` with its
    API key (bound to the buyer's app user id and the chat's relay id), and answers the launch
    link ``kakaotalk://bizplugin?plugin_id=...&oneclick_id=<sheet id>``.  Returns the oneclick id:
    the ``ordersheet_id`` Kakao then sends payment T1."""
    if not target.api_key:
        raise ScenarioFailed(
            "no merchant API key: the merchant's chatbot needs one (scope orders) to make the order sheet"
        )
    # The chatbot is not Kakao: it reads the catalog without a buyer's Kakao headers.
    tree = option_lookup(
        merchant, target, Buyer(app_user_id=None), label="option T1 (the chatbot reads the product)"
    )
    choice = choose(tree)
    request = {
        "product_id": choice.body["id"],
        "quantity": choice.body["quantity"],
        "option_groups": choice.body["option_groups"],
    }
    if "price" in choice.body:
        request["price"] = choice.body["price"]  # refused if the catalog's price changed meanwhile
    if buyer.app_user_id:
        request["app_user_id"] = buyer.app_user_id  # only this buyer can pay the sheet
    if buyer.relay_id:
        request["relay_id"] = buyer.relay_id
    say(
        printer,
        f"    the chatbot offers: {' → '.join(choice.path) or '(no options)'} × {choice.body['quantity']}",
    )
    ex = merchant.call(
        "merchant API (Bearer <api key>)", "POST", target.merchant_url("order-sheets"), json_body=request,
        headers={"Authorization": f"Bearer {target.api_key}"}, show_answer=False,
    )  # fmt: skip
    if ex.status != 201 or not isinstance(ex.body, dict):
        message = ex.body.get("message", excerpt(ex.body)) if isinstance(ex.body, dict) else excerpt(ex.body)
        raise ScenarioFailed(f"merchant API: POST /api/v1/order-sheets answered HTTP {ex.status}: {message}")
    sheet = ex.body
    plugin_id, oneclick_id = launch_link_oneclick_id(str(sheet.get("launch_link") or ""))
    if oneclick_id != sheet.get("id"):
        raise ScenarioFailed(
            f"the launch link's oneclick_id {oneclick_id} is not the sheet's id {sheet.get('id')}"
        )
    say(
        printer,
        f"    ← order sheet {oneclick_id}: {sheet.get('goods_amount', 0):,}원 + shipping "
        f"{sheet.get('shipping_fee', 0):,}원 = {sheet.get('total_amount', 0):,}원, until {sheet.get('expires_at')}",
    )
    say(printer, f"    ← launch link {sheet['launch_link']}")
    say(
        printer,
        f"    the buyer taps it: Kakao launches payment plugin {plugin_id} with oneclick_id {oneclick_id}",
    )
    return oneclick_id
