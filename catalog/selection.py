"""Option T2's selection validator (CONTRACTS section 5): a buyer's choices checked against the
stored tree, never trusting the client, and priced on the server.

:func:`selection_validate` returns a plain :class:`Selection` (catalog knows nothing of orders:
``orders.sheets.order_sheet_create_from_choices`` turns it into an order sheet) or raises :class:`SelectionError` whose
message says what was wrong, naming the group and the rule.

How choices resolve: first-level groups are taken in order.  A group that is the target of the
related chain shows the one sub-group the previous chain group's pick points to; any other group
shows all its sub-groups at once.  Groups added by a picked option (``added_option_groups``) are
taken after the first-level groups, in the order their options were picked.  A group that is not
shown cannot be answered; a required group that is shown must be.

Pricing (Decision of CONTRACTS section 5): total = quantity × (price + Σ add_price of options picked
without their own quantity) + Σ add_price × quantity of options picked with one.

Limits (issue 11; docs/security.md, "Input limits"): every quantity is at most
``ORDER_MAX_QUANTITY`` and every line amount and the total between 0 and ``ORDER_MAX_AMOUNT``
(whatever the catalog allows: KakaoPay's amounts are 32-bit integers); ids, extras and answers have
length caps, and an INTEGER answer at most :data:`MAX_INTEGER_DIGITS` digits.  Past a limit the
selection is refused (a 400 envelope), never a 500.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from .hot_reads import tree_load_cached
from .selectors import LoadedTree, TGroup, TOption, TSubGroup
from .tree import ANSWER_TYPES

MAX_TEXT = 2000
MAX_ID = 200  # option_group_id, option_id
MAX_EXTRA = 500  # as stored (catalog Option.extra)
MAX_INTEGER_DIGITS = 18  # fits the BigInteger min/max of an INTEGER group
DIGITS = re.compile(r"[0-9]+")
INTEGER = re.compile(r"[+-]?[0-9]+")


class SelectionError(Exception):
    """The selection is refused; ``message`` says why.  ``malformed``: the request itself is not
    what the contract describes (a field of the wrong type), rather than a choice the rules refuse."""

    def __init__(self, message: str, *, malformed: bool = False):
        super().__init__(message)
        self.message = message
        self.malformed = malformed


@dataclass(frozen=True)
class SelectedLine:
    group_id: str
    group_name: str
    group_type: str
    sub_group_id: str = ""
    option_id: str = ""
    option_value: str = ""
    option_pk: int | None = None  # set when the option's stock (real or test) is limited: the row to hold stock on
    add_price: int = 0
    quantity: int | None = None  # the option's own quantity, when the buyer chose one
    amount: int = 0  # what the line adds to the total
    extra: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class Selection:
    product_pk: int
    product_code: str
    product_name: str
    unit_price: int
    quantity: int
    total_amount: int
    tax_free_amount: int
    use_shipping: bool
    product_url: str
    lines: list[SelectedLine] = field(default_factory=list)


@dataclass
class _Pick:
    index: int
    option_id: str | None
    add_price: int | None
    quantity: int | None
    extra: str | None
    text: str | None


def _field(obj: dict, key: str, kinds: tuple, where: str, *, max_length: int | None = None) -> Any:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, float) and int in kinds and value.is_integer() and abs(value) < 1e18:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise SelectionError(f"{where}의 '{key}' 형식이 올바르지 않습니다 ({key} has the wrong type)", malformed=True)
    if isinstance(value, int) and abs(value) >= 10**MAX_INTEGER_DIGITS:
        raise SelectionError(f"{where}의 '{key}' 값이 너무 큽니다 ({key} is too large)")
    if isinstance(value, str) and max_length is not None and len(value) > max_length:
        raise SelectionError(f"{where}의 '{key}'은(는) {max_length}자까지입니다 ({key} too long)")
    return value


def _check_amount(amount: int, what: str) -> None:
    limit = settings.ORDER_MAX_AMOUNT
    if amount < 0:
        raise SelectionError(f"{what}이(가) 0원보다 작습니다 (amount below zero)")
    if amount > limit:
        raise SelectionError(f"{what}이(가) 주문 한도 {limit:,}원을 넘습니다 (amount over the order limit of {limit} KRW)")


def _check_quantity(quantity: int, name: str) -> None:
    limit = settings.ORDER_MAX_QUANTITY
    if quantity > limit:
        raise SelectionError(f"{name} 수량은 최대 {limit:,}개입니다 (quantity over the order limit of {limit})")


def _group_name(group: TGroup) -> str:
    return f"'{group.name}'" if group.name == group.id else f"'{group.name}'({group.id})"


def selection_validate(*, payload: dict, livemode: bool) -> Selection:
    """Validate an option T2 body against the stored tree; raise SelectionError.

    Stock is checked against the counter of the mode (``livemode`` false: the test stock)."""
    if not isinstance(payload, dict):
        raise SelectionError("요청 본문은 JSON 객체여야 합니다 (body must be a JSON object)", malformed=True)
    code = payload.get("id")
    if not isinstance(code, str) or not code:
        raise SelectionError("필수 항목이 없습니다: id (missing product id)", malformed=True)
    price = _field(payload, "price", (int,), "상품")
    quantity = _field(payload, "quantity", (int,), "상품")
    raw_groups = payload.get("option_groups")
    if raw_groups is None:
        raw_groups = []
    if not isinstance(raw_groups, list) or not all(isinstance(g, dict) for g in raw_groups):
        raise SelectionError("option_groups는 객체의 목록이어야 합니다 (option_groups must be a list of objects)", malformed=True)

    tree = tree_load_cached(code=code[:200], livemode=livemode)
    if tree is None:
        raise SelectionError(f"상품 '{code}'을(를) 찾을 수 없습니다 (unknown product)")
    return _Validator(tree, price, quantity, raw_groups).run()


class _Validator:
    def __init__(self, tree: LoadedTree, price: int | None, quantity: int | None, raw_groups: list[dict]):
        self.tree = tree
        self.product = tree.product
        self.sent_price = price
        self.sent_quantity = quantity
        self.picks: dict[str, list[_Pick]] = {}
        for index, raw in enumerate(raw_groups):
            where = f"{index + 1}번째 선택"
            gid = _field(raw, "option_group_id", (str,), where, max_length=MAX_ID)
            if not gid:
                raise SelectionError(f"{where}: option_group_id가 없습니다 (missing option_group_id)", malformed=True)
            text = _field(raw, "text", (str, int), where, max_length=MAX_TEXT)
            self.picks.setdefault(gid, []).append(
                _Pick(
                    index=index,
                    option_id=_field(raw, "option_id", (str,), where, max_length=MAX_ID),
                    add_price=_field(raw, "add_price", (int,), where),
                    quantity=_field(raw, "quantity", (int,), where),
                    extra=_field(raw, "extra", (str,), where, max_length=MAX_EXTRA),
                    text=None if text is None else str(text),
                )
            )
        self.lines: list[SelectedLine] = []
        self.quantity = 1

    def run(self) -> Selection:
        p = self.product
        if not p["on_sale"]:
            raise SelectionError(f"'{p['name']}'은(는) 판매 중인 상품이 아닙니다 (product not on sale)")
        unit_price = p["price"] or 0
        if self.sent_price is not None and self.sent_price != unit_price:
            raise SelectionError(
                f"상품 가격이 변경되었습니다: 보낸 가격 {self.sent_price}원, 현재 가격 {unit_price}원 "
                "(price differs from the catalog: please reload the options)"
            )
        low, high = p["min_quantity"] or 1, p["max_quantity"] or 1
        quantity = self.sent_quantity if self.sent_quantity is not None else (p["default_quantity"] or low)
        _check_quantity(quantity, "구매")
        if not low <= quantity <= high:
            raise SelectionError(f"구매 수량은 {low}~{high}개입니다 (quantity {quantity} outside {low}..{high})")
        if p["stock"] is not None and quantity > p["stock"]:
            raise SelectionError(self._stock_message(f"'{p['name']}'", p["stock"], quantity))
        self.quantity = quantity

        shown: dict[str, list[TSubGroup]] = {}  # chain target group id → the sub-group shown
        targets = {s.group.id for g in self.tree.groups for s_ in g.sub_groups for o in s_.options for s in o.relations}
        queue: list[TGroup] = []
        for group in self.tree.groups:
            if group.id in targets:
                if group.id in shown:
                    self._group(group, shown[group.id], queue, shown)
                else:
                    self._not_shown(group)
            else:
                self._group(group, group.sub_groups, queue, shown)
        while queue:  # groups added by picked options
            group = queue.pop(0)
            self._group(group, group.sub_groups, queue, shown)
        for gid in self.picks:
            group = self.tree.all_groups.get(gid)
            if group is None:
                raise SelectionError(f"옵션 그룹 '{gid}'은(는) 이 상품에 없습니다 (unknown option group)")
            raise SelectionError(
                f"옵션 그룹 {_group_name(group)}은(는) 지금 선택으로는 표시되지 않아 고를 수 없습니다 "
                "(this group is not shown for the options chosen)"
            )

        _check_amount(quantity * unit_price, "상품 금액")
        total = quantity * unit_price + sum(line.amount for line in self.lines)
        _check_amount(total, "주문 금액")
        return Selection(
            product_pk=p["id"],
            product_code=p["code"],
            product_name=p["name"],
            unit_price=unit_price,
            quantity=quantity,
            total_amount=total,
            tax_free_amount=total if p["tax_type"] == "tax_free" else 0,
            use_shipping=p["needs_shipping"],
            product_url=p["product_url"],
            lines=self.lines,
        )

    def _not_shown(self, group: TGroup) -> None:
        if group.id in self.picks:
            raise SelectionError(
                f"옵션 그룹 {_group_name(group)}은(는) 앞 옵션을 고르지 않아 표시되지 않습니다 "
                "(the previous related option was not chosen)"
            )

    def _group(self, group: TGroup, sub_groups: list[TSubGroup], queue: list, shown: dict) -> None:
        picks = self.picks.pop(group.id, [])
        name = _group_name(group)
        if group.type in ANSWER_TYPES:
            self._answer(group, picks)
            return
        if not picks:
            if group.is_required:
                raise SelectionError(f"필수 옵션 {name}을(를) 선택해 주세요 (required group not answered)")
            return
        chosen: dict[int, list[tuple[TOption, _Pick]]] = {s.pk: [] for s in sub_groups}
        seen: set[tuple[int, str]] = set()
        for pick in picks:
            if not pick.option_id:
                raise SelectionError(f"{name}: option_id가 없습니다 (missing option_id)")
            option = next((o for s in sub_groups for o in s.options if o.id == pick.option_id), None)
            if option is None:
                raise SelectionError(self._not_here(group, sub_groups, pick.option_id))
            if (option.sub_group.pk, option.id) in seen:
                raise SelectionError(f"{name}: 옵션 '{option.value}'을(를) 두 번 골랐습니다 (option chosen twice)")
            seen.add((option.sub_group.pk, option.id))
            chosen[option.sub_group.pk].append((option, pick))
        for sub_group in sub_groups:
            got = len(chosen[sub_group.pk])
            low = 1 if sub_group.min_select is None else sub_group.min_select
            high = 1 if sub_group.max_select is None else sub_group.max_select
            if got < low or got > high:
                where = name if len(sub_groups) == 1 else f"{name}의 '{sub_group.id}'"
                if group.type == "MULTI_SELECT" or high > 1:
                    rule = f"{low}개" if low == high else f"{low}~{high}개"
                    raise SelectionError(
                        f"{where}에서는 {rule}를 골라야 합니다: {got}개를 골랐습니다 "
                        f"(choose {low}..{high} options, got {got})"
                    )
                if got > high:
                    raise SelectionError(f"{where}에서는 하나만 고를 수 있습니다 (choose one option, got {got})")
                raise SelectionError(f"필수 옵션 {where}을(를) 선택해 주세요 (required group not answered)")
            for option, pick in chosen[sub_group.pk]:
                self._option(group, option, pick)
                for target in option.relations:
                    shown[target.group.id] = [target]
                queue.extend(option.added_groups)

    def _not_here(self, group: TGroup, sub_groups: list[TSubGroup], option_id: str) -> str:
        name = _group_name(group)
        elsewhere = any(o.id == option_id for s in group.sub_groups for o in s.options)
        offered = ", ".join(o.value for s in sub_groups for o in s.options)
        if elsewhere:
            before = [line for line in self.lines if line.option_id]
            chosen = " → ".join(f"{line.group_name}={line.option_value}" for line in before) or "앞 선택"
            return (
                f"{name}의 옵션 '{option_id}'은(는) {chosen} 다음에는 고를 수 없습니다. "
                f"고를 수 있는 옵션: {offered} (option not offered after the previous choices)"
            )
        return f"{name}에 옵션 '{option_id}'이(가) 없습니다. 고를 수 있는 옵션: {offered} (unknown option)"

    def _option(self, group: TGroup, option: TOption, pick: _Pick) -> None:
        name = f"{_group_name(group)}의 '{option.value}'"
        add_price = option.add_price or 0
        if pick.add_price is not None and pick.add_price != add_price:
            raise SelectionError(
                f"{name} 추가 금액이 변경되었습니다: 보낸 값 {pick.add_price}원, 현재 {add_price}원 "
                "(add_price differs from the catalog: please reload the options)"
            )
        if pick.extra not in (None, "") and pick.extra != (option.extra or ""):
            raise SelectionError(f"{name}의 extra 값이 조회한 값과 다릅니다 (extra differs from what T1 served)")
        taken = self.quantity
        if pick.quantity is not None:
            _check_quantity(pick.quantity, name)
            low = option.min_quantity or 1
            high = option.max_quantity or 1
            if not low <= pick.quantity <= high:
                raise SelectionError(f"{name} 수량은 {low}~{high}개입니다 (option quantity {pick.quantity} outside {low}..{high})")
            taken = pick.quantity
        if option.stock is not None and taken > option.stock:
            raise SelectionError(self._stock_message(name, option.stock, taken))
        amount = add_price * (pick.quantity if pick.quantity is not None else self.quantity)
        if amount > settings.ORDER_MAX_AMOUNT:
            _check_amount(amount, f"{name} 금액")
        self.lines.append(
            SelectedLine(
                group_id=group.id,
                group_name=group.name,
                group_type=group.type,
                sub_group_id=option.sub_group.id,
                option_id=option.id,
                option_value=option.value,
                option_pk=option.pk if option.stocked else None,
                add_price=add_price,
                quantity=pick.quantity,
                amount=amount,
                extra=option.extra,
            )
        )

    @staticmethod
    def _stock_message(name: str, stock: int, wanted: int) -> str:
        if stock <= 0:
            return f"{name}은(는) 품절되었습니다 (sold out)"
        return f"{name}의 재고가 부족합니다: 남은 수량 {stock}개, 주문 수량 {wanted}개 (not enough stock)"

    def _answer(self, group: TGroup, picks: list[_Pick]) -> None:
        name = _group_name(group)
        if len(picks) > 1:
            raise SelectionError(f"{name}에는 답을 하나만 보낼 수 있습니다 (one answer per group)")
        text = (picks[0].text if picks else None) or ""
        text = text.strip()
        if not text:
            if group.is_required:
                raise SelectionError(f"필수 항목 {name}을(를) 입력해 주세요 (required answer missing)")
            return
        if group.type == "TEXT":
            if len(text) > MAX_TEXT:
                raise SelectionError(f"{name}은(는) {MAX_TEXT}자까지 입력할 수 있습니다 (text too long)")
        elif group.type == "NUMBERS":
            low, high = group.min_length or 1, group.max_length or MAX_TEXT
            if not DIGITS.fullmatch(text):
                raise SelectionError(f"{name}에는 숫자만 입력할 수 있습니다 (digits only)")
            if not low <= len(text) <= high:
                rule = f"{low}자리" if low == high else f"{low}~{high}자리"
                raise SelectionError(f"{name}은(는) {rule} 숫자여야 합니다: {len(text)}자리를 입력했습니다 (must be {low}..{high} digits)")
        elif group.type == "INTEGER":
            if not INTEGER.fullmatch(text):
                raise SelectionError(f"{name}에는 정수를 입력해 주세요 (a whole number)")
            if len(text.lstrip("+-")) > MAX_INTEGER_DIGITS:
                raise SelectionError(f"{name}의 숫자가 너무 깁니다: {MAX_INTEGER_DIGITS}자리까지 (at most {MAX_INTEGER_DIGITS} digits)")
            value = int(text)
            if group.min_value is not None and value < group.min_value or group.max_value is not None and value > group.max_value:
                raise SelectionError(
                    f"{name}은(는) {group.min_value}~{group.max_value} 사이의 숫자여야 합니다: {value} "
                    f"(must be within {group.min_value}..{group.max_value})"
                )
            text = str(value)
        elif group.type == "DATE":
            try:
                if not re.fullmatch(r"[0-9]{8}", text):
                    raise ValueError
                datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
            except ValueError:
                raise SelectionError(f"{name}: '{text}'은(는) 올바른 날짜가 아닙니다. YYYYMMDD 형식의 실제 날짜를 입력해 주세요 (not a valid date)") from None
        self.lines.append(SelectedLine(group_id=group.id, group_name=group.name, group_type=group.type, text=text))
