"""Concurrent writers on the catalog API (PostgreSQL: real row locks and a real unique index).

Two writers holding the same ETag: one wins, the other gets 412. The same Idempotency-Key sent by
two threads at once: the write happens once, both get its answer."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection, connections
from django.test import Client

from catalog.models import Product
from merchant.services import api_key_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bearer(kakao_app):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks across threads): run by .ci/run")
    _, plain = api_key_create(kakao_app=kakao_app, name="erp", scopes=["catalog"])
    return {"HTTP_AUTHORIZATION": f"Bearer {plain}"}


def _together(*calls):
    """Run the calls in threads released at once; their responses in order."""
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            out[i] = call()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def _put(bearer, body, **headers):
    return lambda: Client().put("/api/v1/products/MUG", json.dumps(body), content_type="application/json", **bearer, **headers)


def test_two_writers_with_the_same_etag_one_wins(bearer):
    etag = Client().put("/api/v1/products/MUG", json.dumps({"name": "머그", "price": 8000}), content_type="application/json",
                        **bearer)["ETag"]  # fmt: skip
    for round_ in range(3):
        a, b = _together(
            _put(bearer, {"name": f"머그 A{round_}", "price": 8100}, HTTP_IF_MATCH=etag),
            _put(bearer, {"name": f"머그 B{round_}", "price": 8200}, HTTP_IF_MATCH=etag),
        )
        assert sorted([a.status_code, b.status_code]) == [200, 412]
        winner = a if a.status_code == 200 else b
        assert Product.objects.get(code="MUG").name == json.loads(winner.content)["name"]
        etag = winner["ETag"]


def test_the_same_idempotency_key_from_two_threads_writes_once(bearer):
    Client().put("/api/v1/products/MUG", json.dumps({"name": "머그", "price": 8000, "stock": 10}),
                 content_type="application/json", **bearer)  # fmt: skip
    for round_ in range(3):
        body = json.dumps({"rows": [{"product_id": "MUG", "adjust": 1}]})

        def patch(key=f"round-{round_}", body=body):
            return Client().patch("/api/v1/stock", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key, **bearer)

        answers = _together(patch, patch, patch)
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert len({r.content for r in answers}) == 1  # one answer, replayed
        assert sum(r.get("Idempotent-Replayed") == "true" for r in answers) == 2
        assert Product.objects.get(code="MUG").stock == 11 + round_
