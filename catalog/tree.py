"""The one validator of option trees (CONTRACTS section 5), used by the admin, the importer and
the API.

A tree is the T1 ``OptionResponse`` as a plain dict (what ``export_option_tree`` writes and
``import_option_tree`` reads).  :func:`tree_errors` returns every problem found, each message naming
the group / sub-group / option in Korean with a short English gloss, so a merchant can fix them all
in one go.  Nothing here touches the database.

Rules (decisions of CONTRACTS section 5, and this module's own where the guide is silent):

- group ids unique within the product (added groups included), sub-group ids unique within the
  product, option ids unique within their sub-group;
- in a group whose sub-groups are all shown at once (any group that is not the target of a related
  chain), option ids are unique across the group too, so option T2's ``option_id`` is unambiguous;
- type-specific fields: NUMBERS needs ``min_length``/``max_length`` (1 ≤ min ≤ max), INTEGER needs
  ``min_value``/``max_value`` (min ≤ max); fields of another type are refused; ``placeholder`` only
  on NUMBERS, INTEGER, DATE;
- SELECT and MULTI_SELECT groups have sub-groups with options; answer groups (TEXT, NUMBERS, INTEGER,
  DATE) carry no sub-groups;
- prices, stock and quantities are whole, non-negative numbers; min ≤ default ≤ max;
- ``default_option_id`` names an option of its sub-group; a SELECT sub-group picks one option;
- related options (``relate_option_groups``): only between first-level groups, targets exist and
  lie in a later group, every option of a chain group (but the last) points to exactly one sub-group
  of the next group, every sub-group of a later chain group is reachable, one chain per product,
  never mixed with simple (independent) SELECT/MULTI_SELECT groups. Answer groups may sit beside a
  chain (the guide's sample has a TEXT group beside one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .tree_problems import Problem, TreeInvalid

TYPES = ("SELECT", "MULTI_SELECT", "TEXT", "NUMBERS", "INTEGER", "DATE")
CHOICE_TYPES = ("SELECT", "MULTI_SELECT")
ANSWER_TYPES = ("TEXT", "NUMBERS", "INTEGER", "DATE")

MAX_INT = 2_147_483_647  # quantities, stock (PositiveIntegerField)
MAX_PRICE = 10**12  # KRW
MAX_ADDED_DEPTH = 4

# Field lengths of catalog.models (an import must not fail at the database).
LEN = {
    "product_id": 100,
    "product_name": 200,
    "group_id": 100,
    "group_name": 200,
    "description": 500,
    "placeholder": 200,
    "sub_group_id": 200,
    "option_id": 100,
    "value": 200,
    "extra": 500,
    "default_option_id": 100,
}

TYPE_FIELDS = {
    "min_length": ("NUMBERS",),
    "max_length": ("NUMBERS",),
    "min_value": ("INTEGER",),
    "max_value": ("INTEGER",),
    "placeholder": ("NUMBERS", "INTEGER", "DATE"),
}


def check_tree(data: Any) -> None:
    problems = tree_problems(data)
    if problems:
        raise TreeInvalid([str(p) for p in problems], problems)


def tree_errors(data: Any) -> list[str]:
    return [str(p) for p in tree_problems(data)]


def tree_problems(data: Any) -> list[Problem]:
    return _Checker().run(data)


def group_label(group_id: Any) -> str:
    return f"그룹 '{group_id}'"


@dataclass
class _Group:
    data: dict
    label: str
    top_level: bool
    index: int  # position among first-level groups (-1 for added groups)


class _Checker:
    def __init__(self):
        self.errors: list[Problem] = []
        self.places: dict[str, tuple] = {}  # a place's label → (group id, sub-group id, option id)
        self.groups: list[_Group] = []
        self.group_ids: dict[str, _Group] = {}
        self.sub_group_ids: dict[str, str] = {}  # sub-group id → label of its place

    def error(self, where: str, message: str, field: str | None = None) -> None:
        self.errors.append(Problem(message, where, *self.places.get(where, ()), field=field))

    # --- scalars -------------------------------------------------------------------------------

    def text(self, obj: dict, key: str, where: str, *, required: bool, max_len: int) -> str | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.error(where, f"'{key}' 값이 필요합니다 ({key} is required)", key)
            return None
        if not isinstance(value, str):
            self.error(where, f"'{key}'는 문자열이어야 합니다 ({key} must be a string)", key)
            return None
        if "\x00" in value:
            self.error(where, f"'{key}'에 NUL 문자를 쓸 수 없습니다 ({key} must not contain NUL characters)", key)
        if required and not value.strip():
            self.error(where, f"'{key}' 값이 비어 있습니다 ({key} must not be empty)", key)
        if len(value) > max_len:
            self.error(where, f"'{key}'가 너무 깁니다 (최대 {max_len}자; {key} longer than {max_len})", key)
        return value

    def number(self, obj: dict, key: str, where: str, *, low: int = 0, high: int = MAX_INT) -> int | None:
        value = obj.get(key)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(where, f"'{key}'는 정수여야 합니다 ({key} must be a whole number)", key)
            return None
        if value < low:
            if low == 0:
                self.error(where, f"'{key}'는 0 이상이어야 합니다 ({key} must not be negative)", key)
            else:
                self.error(where, f"'{key}'는 {low} 이상이어야 합니다 ({key} must be at least {low})", key)
            return None
        if value > high:
            self.error(where, f"'{key}'가 너무 큽니다 ({key} above {high})", key)
            return None
        return value

    def bounds(self, where: str, low_key: str, low: int | None, high_key: str, high: int | None) -> None:
        if low is not None and high is not None and low > high:
            self.error(
                where, f"'{low_key}'({low})가 '{high_key}'({high})보다 큽니다 ({low_key} exceeds {high_key})", low_key
            )

    def items(self, obj: dict, key: str, where: str, *, required: bool) -> list:
        value = obj.get(key)
        if value is None:
            if required:
                self.error(where, f"'{key}' 목록이 필요합니다 ({key} is required)", key)
            return []
        if not isinstance(value, list):
            self.error(where, f"'{key}'는 목록이어야 합니다 ({key} must be a list)", key)
            return []
        good = [item for item in value if isinstance(item, dict)]
        if len(good) != len(value):
            self.error(where, f"'{key}'의 항목은 객체여야 합니다 ({key} items must be objects)", key)
        return good

    # --- the tree ------------------------------------------------------------------------------

    def run(self, data: Any) -> list[Problem]:
        if not isinstance(data, dict):
            return [Problem("옵션 트리는 JSON 객체여야 합니다 (the tree must be a JSON object: an OptionResponse)")]
        where = "상품"
        self.text(data, "id", where, required=True, max_len=LEN["product_id"])
        self.text(data, "name", where, required=True, max_len=LEN["product_name"])
        self.number(data, "price", where, high=MAX_PRICE)
        low = self.number(data, "min_quantity", where, low=1)
        high = self.number(data, "max_quantity", where, low=1)
        default = self.number(data, "default_quantity", where, low=1)
        low_, high_ = low or 1, high or 1
        self.bounds(where, "min_quantity", low_, "max_quantity", high_)
        if default is not None and not low_ <= default <= high_:
            self.error(
                where,
                f"'default_quantity'({default})가 최소~최대 수량({low_}~{high_}) 밖입니다 "
                "(default_quantity outside min..max)",
            )
        for index, group in enumerate(self.items(data, "option_groups", where, required=True)):
            self.group(group, top_level=True, index=index, depth=0)
        if not self.errors:
            targeted = self.chain()
            # Groups whose sub-groups are shown together need option ids unique across the group.
            for group in self.groups:
                if group.data["id"] not in targeted:
                    self.unique_across(group)
        return self.errors

    def group(self, group: dict, *, top_level: bool, index: int, depth: int) -> None:
        gid = group.get("id")
        where = group_label(gid) if isinstance(gid, str) and gid else f"{index + 1}번째 그룹"
        self.places[where] = (gid if isinstance(gid, str) else None,)
        gid = self.text(group, "id", where, required=True, max_len=LEN["group_id"])
        self.text(group, "name", where, required=True, max_len=LEN["group_name"])
        self.text(group, "description", where, required=False, max_len=LEN["description"])
        self.text(group, "placeholder", where, required=False, max_len=LEN["placeholder"])
        entry = _Group(group, where, top_level, index if top_level else -1)
        if gid:
            if gid in self.group_ids:
                self.error(where, "그룹 ID가 중복됩니다 (group ids must be unique within the product)", "id")
            else:
                self.group_ids[gid] = entry
        self.groups.append(entry)
        required = group.get("required")
        if required is not None and not isinstance(required, bool):
            self.error(where, "'required'는 true/false여야 합니다 (required must be a boolean)", "required")
        kind = group.get("type")
        if kind not in TYPES:
            self.error(where, f"'type'은 {', '.join(TYPES)} 중 하나여야 합니다 (unknown type {kind!r})", "type")
            return
        for key, types in TYPE_FIELDS.items():
            if group.get(key) is not None and kind not in types:
                self.error(where, f"'{key}'는 {'/'.join(types)} 그룹에만 씁니다 ({key} does not apply to {kind})", key)
        if kind == "NUMBERS":
            low = self.number(group, "min_length", where, low=1, high=100)
            high = self.number(group, "max_length", where, low=1, high=100)
            if group.get("min_length") is None or group.get("max_length") is None:
                missing = "min_length" if group.get("min_length") is None else "max_length"
                self.error(where, "NUMBERS 그룹에는 min_length와 max_length가 필요합니다 (NUMBERS needs both lengths)", missing)
            self.bounds(where, "min_length", low, "max_length", high)
        if kind == "INTEGER":
            low = self.number(group, "min_value", where, low=-MAX_PRICE, high=MAX_PRICE)
            high = self.number(group, "max_value", where, low=-MAX_PRICE, high=MAX_PRICE)
            if group.get("min_value") is None or group.get("max_value") is None:
                missing = "min_value" if group.get("min_value") is None else "max_value"
                self.error(where, "INTEGER 그룹에는 min_value와 max_value가 필요합니다 (INTEGER needs both bounds)", missing)
            self.bounds(where, "min_value", low, "max_value", high)
        if kind in ANSWER_TYPES:
            if group.get("option_sub_groups"):
                self.error(
                    where,
                    f"{kind} 그룹은 하위그룹(option_sub_groups)을 가질 수 없습니다 ({kind} groups carry no sub-groups)",
                    "type",
                )
            return
        sub_groups = self.items(group, "option_sub_groups", where, required=True)
        if not sub_groups:
            self.error(where, f"{kind} 그룹에는 하위그룹과 옵션이 필요합니다 ({kind} needs sub-groups with options)")
        for sub_group in sub_groups:
            self.sub_group(sub_group, where, kind, depth=depth)

    def sub_group(self, sub_group: dict, group_where: str, kind: str, *, depth: int) -> None:
        sid = sub_group.get("id")
        where = f"{group_where} › 하위그룹 '{sid}'"
        self.places[where] = (*self.places.get(group_where, (None,))[:1], sid if isinstance(sid, str) else None)
        sid = self.text(sub_group, "id", where, required=True, max_len=LEN["sub_group_id"])
        if sid:
            if sid in self.sub_group_ids:
                self.error(where, "하위그룹 ID가 중복됩니다 (sub-group ids must be unique within the product)", "id")
            else:
                self.sub_group_ids[sid] = where
        options = self.items(sub_group, "options", where, required=True)
        if not options:
            self.error(where, "옵션이 하나 이상 필요합니다 (a sub-group needs at least one option)")
        low = self.number(sub_group, "min_select", where)
        high = self.number(sub_group, "max_select", where, low=1)
        low_, high_ = 1 if low is None else low, 1 if high is None else high
        self.bounds(where, "min_select", low_, "max_select", high_)
        if kind == "SELECT" and high_ > 1:
            self.error(where, "SELECT는 하나만 고릅니다: max_select는 1이어야 합니다 (SELECT picks one)", "max_select")
        if kind == "MULTI_SELECT" and options and low_ > len(options):
            self.error(where, f"min_select({low_})가 옵션 수({len(options)})보다 큽니다 (min_select above option count)", "min_select")
        seen: set[str] = set()
        for option in options:
            oid = self.option(option, where, depth=depth)
            if oid is None:
                continue
            if oid in seen:
                self.error(f"{where} › 옵션 '{oid}'", "옵션 ID가 하위그룹 안에서 중복됩니다 (option ids must be unique within a sub-group)", "id")
            seen.add(oid)
        default = self.text(sub_group, "default_option_id", where, required=False, max_len=LEN["default_option_id"])
        if default is not None and default not in seen:
            self.error(where, f"default_option_id '{default}'는 이 하위그룹의 옵션이 아닙니다 (default_option_id must name an option here)", "default_option_id")

    def option(self, option: dict, sub_where: str, *, depth: int) -> str | None:
        oid = option.get("id")
        where = f"{sub_where} › 옵션 '{oid}'"
        self.places[where] = (*self.places.get(sub_where, (None, None))[:2], oid if isinstance(oid, str) else None)
        oid = self.text(option, "id", where, required=True, max_len=LEN["option_id"])
        self.text(option, "value", where, required=True, max_len=LEN["value"])
        self.text(option, "extra", where, required=False, max_len=LEN["extra"])
        self.number(option, "add_price", where, high=MAX_PRICE)
        self.number(option, "stock", where)
        low = self.number(option, "min_quantity", where, low=1)
        high = self.number(option, "max_quantity", where, low=1)
        self.bounds(where, "min_quantity", low or 1, "max_quantity", high or 1)
        for relation in self.items(option, "relate_option_groups", where, required=False):
            for key in ("group_id", "sub_group_id"):
                if not isinstance(relation.get(key), str) or not relation.get(key):
                    self.error(where, f"relate_option_groups의 '{key}'가 필요합니다 (relate_option_groups needs {key})", "relate_option_groups")
        added = self.items(option, "added_option_groups", where, required=False)
        if added and depth >= MAX_ADDED_DEPTH:
            self.error(where, f"added_option_groups는 {MAX_ADDED_DEPTH}단계까지만 중첩할 수 있습니다 (nested too deep)", "added_option_groups")
            return oid
        for group in added:
            self.group(group, top_level=False, index=-1, depth=depth + 1)
        return oid

    # --- related chain -------------------------------------------------------------------------

    def chain(self) -> dict[str, set[str]]:
        """Check the related chain; return the chain's target groups (id → sub-group ids shown)."""
        top = [g for g in self.groups if g.top_level]
        nexts: dict[str, str] = {}  # group id → the group its options point to
        targeted: dict[str, set[str]] = {}  # group id → sub-group ids some option points to
        for group in self.groups:
            for sub_group in group.data.get("option_sub_groups") or []:
                sub_where = f"{group.label} › 하위그룹 '{sub_group['id']}'"
                for option in sub_group["options"]:
                    relations = option.get("relate_option_groups") or []
                    if not relations:
                        continue
                    where = f"{sub_where} › 옵션 '{option['id']}'"
                    if not group.top_level:
                        self.error(where, "추가 그룹(added_option_groups) 안에서는 연관 옵션을 쓸 수 없습니다 (no relate_option_groups inside added groups)", "relate_option_groups")
                        continue
                    if len(relations) > 1:
                        self.error(where, "연관 옵션은 다음 그룹의 하위그룹 하나만 가리킬 수 있습니다 (one related sub-group per option: one chain only)", "relate_option_groups")
                        continue
                    tgid, tsid = relations[0]["group_id"], relations[0]["sub_group_id"]
                    target = self.group_ids.get(tgid)
                    if target is None:
                        self.error(where, f"연관 옵션이 가리키는 그룹 '{tgid}'이(가) 없습니다 (related group does not exist)", "relate_option_groups")
                        continue
                    if not target.top_level:
                        self.error(where, f"연관 옵션은 추가 그룹 '{tgid}'을(를) 가리킬 수 없습니다 (related target must be a first-level group)", "relate_option_groups")
                        continue
                    if tsid not in {s["id"] for s in target.data.get("option_sub_groups") or []}:
                        self.error(where, f"그룹 '{tgid}'에 하위그룹 '{tsid}'이(가) 없습니다 (related sub-group does not exist in that group)", "relate_option_groups")
                        continue
                    if target.index <= group.index:
                        self.error(where, f"연관 옵션은 뒤에 오는 그룹만 가리킬 수 있습니다: '{tgid}'은(는) '{group.data['id']}'보다 앞에 있습니다 (related target must be a later group)", "relate_option_groups")
                        continue
                    previous = nexts.setdefault(group.data["id"], tgid)
                    if previous != tgid:
                        self.error(group.label, f"옵션들이 서로 다른 그룹('{previous}', '{tgid}')을 가리킵니다: 연관 옵션은 한 묶음만 지원합니다 (one chain only)")
                    targeted.setdefault(tgid, set()).add(tsid)
        if not nexts:
            return targeted
        chain_ids = set(nexts) | set(targeted)
        heads = [g for g in top if g.data["id"] in nexts and g.data["id"] not in targeted]
        if len(heads) != 1:
            names = ", ".join(f"'{g.data['id']}'" for g in heads) or "없음"
            self.error("", f"연관 옵션은 한 묶음만 지원합니다: 시작 그룹이 {names}입니다 (exactly one related chain per product)")
            return targeted
        for group in top:
            gid = group.data["id"]
            if gid not in chain_ids:
                if group.data.get("type") in CHOICE_TYPES:
                    self.error(group.label, "단순 옵션 그룹과 연관 옵션(relate_option_groups)은 한 상품에 함께 쓸 수 없습니다 (simple and related options cannot be mixed)")
                continue
            if gid in nexts:  # every option must lead on
                for sub_group in group.data.get("option_sub_groups") or []:
                    for option in sub_group["options"]:
                        if not option.get("relate_option_groups"):
                            self.error(
                                f"{group.label} › 하위그룹 '{sub_group['id']}' › 옵션 '{option['id']}'",
                                f"연관 옵션이 없습니다: 이 그룹의 모든 옵션은 '{nexts[gid]}' 그룹의 하위그룹을 가리켜야 합니다 (every option of a chain group must point to the next group)",
                                "relate_option_groups",
                            )
            if gid in targeted:
                for sub_group in group.data.get("option_sub_groups") or []:
                    if sub_group["id"] not in targeted[gid]:
                        self.error(
                            f"{group.label} › 하위그룹 '{sub_group['id']}'",
                            "어떤 옵션도 이 하위그룹을 가리키지 않아 표시되지 않습니다 (no option points to this sub-group)",
                        )
        return targeted

    def unique_across(self, group: _Group) -> None:
        seen: dict[str, str] = {}
        for sub_group in group.data.get("option_sub_groups") or []:
            for option in sub_group["options"]:
                other = seen.setdefault(option["id"], sub_group["id"])
                if other != sub_group["id"]:
                    self.error(
                        group.label,
                        f"옵션 ID '{option['id']}'이(가) 함께 표시되는 하위그룹 '{other}'와 '{sub_group['id']}'에 모두 있습니다 (option ids must be unique within a group whose sub-groups are shown together)",
                    )

