"""The option plugin's T2 (selection → order sheet) as Kakao posts it, and its refusals."""

from __future__ import annotations

import json

import pytest

from catalog.services import option_tree_import
from orders.models import OrderSheet
from tests.support.trees import guide_tree

GUIDE_OPTION_T2 = {
    "id": "101:10013529",
    "name": "윈터펠테스트11",
    "price": 0,
    "quantity": 1,
    "option_groups": [
        {"option_group_id": "사이즈2", "option_id": "S12"},
        {"option_group_id": "색상2", "option_id": "R23"},
        {"option_group_id": "추가옵션", "option_id": "A", "add_price": 0, "extra": "12848"},
    ],
}


def post_option_t2(client, plugin_base, body, **headers):
    return client.post(
        f"{plugin_base}option",
        data=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
        HTTP_X_KAKAO_APPUSERID="app-user-1",
        HTTP_X_KAKAO_PLUGIN_RELAY_ID="relay-9",
        **headers,
    )


def option_t2_refused(response, *needles):
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == 400 and "data" not in body, body
    for needle in needles:
        assert needle in body["message"], body["message"]
    assert not OrderSheet.objects.exists()
    return body["message"]


@pytest.fixture
def guide(db):
    return option_tree_import(data=guide_tree())
