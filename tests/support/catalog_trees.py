"""Option trees for tests of the catalog admin (T1 ``OptionResponse`` dicts)."""

from __future__ import annotations


def chain_tree() -> dict:
    """사이즈 (S, M) → 색상 (a sub-group per size), and a NUMBERS group beside the chain."""
    return {
        "id": "tree:1",
        "name": "트리 상품",
        "price": 10000,
        "option_groups": [
            {"id": "size", "name": "사이즈", "type": "SELECT", "option_sub_groups": [{"id": "size", "options": [
                {"id": "S", "value": "S", "relate_option_groups": [{"group_id": "color", "sub_group_id": "S:color"}]},
                {"id": "M", "value": "M", "relate_option_groups": [{"group_id": "color", "sub_group_id": "M:color"}]},
            ]}]},
            {"id": "color", "name": "색상", "type": "SELECT", "option_sub_groups": [
                {"id": "S:color", "options": [{"id": "R", "value": "빨강"}, {"id": "G", "value": "초록"}]},
                {"id": "M:color", "options": [{"id": "R", "value": "빨강", "stock": 3}]},
            ]},
            {"id": "phone", "name": "전화번호", "type": "NUMBERS", "min_length": 10, "max_length": 11},
        ],
    }  # fmt: skip
