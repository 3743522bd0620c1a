"""The merchant API as a merchant's system calls it: keys, a client, the demo product body."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from django.test import Client

from merchant.services import api_key_create


def key_for(kakao_app, *scopes: str) -> str:
    return api_key_create(kakao_app=kakao_app, name="erp", scopes=list(scopes or ["orders"]))[1]


class Api:
    """A merchant's system calling /api/v1/ with one key."""

    def __init__(self, key: str | None):
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}

    def get(self, path: str, params: dict | None = None):
        return self.client.get("/api/v1/" + path, params or {}, **self.headers)

    def post(self, path: str, body: dict):
        return self.client.post("/api/v1/" + path, body, content_type="application/json", **self.headers)


DEMO = json.loads((Path(__file__).resolve().parents[2] / "catalog/fixtures/demo_product.json").read_text())


PID = DEMO["id"]


def product_body(**commerce) -> dict:
    return (
        copy.deepcopy(DEMO)
        | {"on_sale": True, "tax_type": "taxable", "category": "의류", "list_price": 15000}
        | commerce
    )
