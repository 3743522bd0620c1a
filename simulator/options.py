"""What Kakao's option sheet sends as option T2, from option T1's tree: the buyer's choices.

Choices follow the tree the way the plugin shows it (CONTRACTS section 5): first-level groups in
order; a group that is the target of the related chain shows only the sub-group the previous pick
points to (``relate_option_groups``); other groups show all their sub-groups; groups added by a
picked option (``added_option_groups``) come after.  The buyer picks the first option still in
stock (or the one ``prefer`` names), answers required TEXT/NUMBERS/INTEGER/DATE questions with
valid values, and skips optional groups.  ``price``, ``add_price`` and ``extra`` are echoed exactly
as T1 served them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

ANSWER_TYPES = {"TEXT", "NUMBERS", "INTEGER", "DATE"}


class NoChoice(Exception):
    """The tree offers nothing the buyer can pick (e.g. every option is sold out)."""


@dataclass
class Choice:
    body: dict[str, Any]  # option T2's request body
    path: list[str] = field(default_factory=list)  # "group=value" per answered group, for printing
    unit_price: int = 0  # price + Σ add_price, as T1 showed it


def _answer(group: dict) -> str:
    kind = group.get("type")
    if kind == "NUMBERS":
        return "0" + "1" * max(0, int(group.get("min_length") or 1) - 1)
    if kind == "INTEGER":
        return str(group.get("min_value") if group.get("min_value") is not None else 1)
    if kind == "DATE":
        return (datetime.date.today() + datetime.timedelta(days=7)).strftime("%Y%m%d")
    return "카카오 시뮬레이터 주문입니다"


def _in_stock(option: dict, quantity: int) -> bool:
    return option.get("stock") is None or option["stock"] >= quantity


def choose(
    tree: dict,
    *,
    quantity: int | None = None,
    prefer: dict[str, str] | None = None,
    skip_sold_out: bool = True,
) -> Choice:
    """The T2 body for a buyer who picks through ``tree`` (option T1's ``data``).

    ``skip_sold_out=False``: pick even what T1 shows as sold out, and let option T2 (which reads
    the stock from the database) decide."""
    prefer = prefer or {}
    quantity = quantity or tree.get("default_quantity") or tree.get("min_quantity") or 1
    groups = list(tree.get("option_groups") or [])
    targets = {
        r["group_id"]
        for g in groups
        for s in g.get("option_sub_groups") or []
        for o in s.get("options") or []
        for r in o.get("relate_option_groups") or []
    }
    shown: dict[str, list[str]] = {}  # chain target group id → the sub-group id the last pick points to
    picks: list[dict] = []
    path: list[str] = []
    unit = int(tree.get("price") or 0)
    queue = [g for g in groups]
    while queue:
        group = queue.pop(0)
        name = group.get("name") or group["id"]
        if group.get("type") in ANSWER_TYPES:
            if group.get("required", True) is False:
                continue
            text = _answer(group)
            picks.append({"option_group_id": group["id"], "text": text})
            path.append(f"{name}={text}")
            continue
        if group.get("required", True) is False:
            continue
        subs = group.get("option_sub_groups") or []
        if group["id"] in targets:
            if group["id"] not in shown:
                continue  # not shown for the choices so far
            subs = [s for s in subs if s["id"] in shown[group["id"]]]
        for sub in subs:
            options = [o for o in sub.get("options") or [] if not skip_sold_out or _in_stock(o, quantity)]
            if group["id"] in prefer:
                options = [o for o in options if o["id"] == prefer[group["id"]]] or options
            want = max(1, int(sub.get("min_select") or 1))
            if len(options) < want:
                raise NoChoice(f"'{name}' ({sub['id']}): 품절 (nothing left to choose)")
            for option in options[:want]:
                pick = {
                    "option_group_id": group["id"],
                    "option_id": option["id"],
                    "add_price": int(option.get("add_price") or 0),
                }
                if option.get("extra") is not None:
                    pick["extra"] = option["extra"]
                picks.append(pick)
                path.append(f"{name}={option.get('value', option['id'])}")
                unit += int(option.get("add_price") or 0)
                for rel in option.get("relate_option_groups") or []:
                    shown[rel["group_id"]] = [rel["sub_group_id"]]
                queue.extend(option.get("added_option_groups") or [])
    body: dict[str, Any] = {
        "id": tree["id"],
        "name": tree.get("name"),
        "quantity": quantity,
        "option_groups": picks,
    }
    if tree.get("price") is not None:
        body["price"] = tree["price"]
    return Choice(body=body, path=path, unit_price=unit)
