"""Structured logs: a plugin call's lines carry its request id, Kakao app and relay id, in the web
and in the worker that runs the task the call sent; nothing secret is bound."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest
from django.test import Client

from kakaoplugin.log_context import StructuredFormatter
from tests.conftest import ARTIFACTS, wait_until
from tests.support.payments import ADDRESS, Buyer, make_product, make_sheet


@pytest.fixture
def json_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(StructuredFormatter(json=True))
    root = logging.getLogger()
    root.addHandler(handler)
    old = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    root.removeHandler(handler)
    root.setLevel(old)


@pytest.mark.django_db
def test_a_plugin_calls_lines_carry_its_context(json_lines, fake_kakao, kakao_app, plugin_base):
    product, option = make_product(option_stock=5)
    sheet = make_sheet(kakao_app, product, option)
    buyer = Buyer(plugin_base, fake_kakao.url)
    buyer.t1(sheet.pk)
    buyer.ready()
    buyer.authorize()
    r = buyer.client.post(
        plugin_base + "order/approve",
        {"partner_order_id": buyer.partner_order_id, "tid": buyer.tid, "shipping_address": {}},
        content_type="application/json", HTTP_X_KAKAO_APPUSERID="user-1", HTTP_X_KAKAO_PLUGIN_RELAY_ID="relay-log-1",
    )  # fmt: skip
    request_id = r["X-Request-ID"]
    assert len(request_id) == 32
    lines = [line for line in json_lines() if line.get("request_id") == request_id]
    answered = [line for line in lines if line["event"].startswith("plugin POST order_approve answered")]
    assert answered, json_lines()
    line = answered[0]
    assert line["relay_id"] == "relay-log-1" and line["kakao_app"] == str(kakao_app.pk)
    assert line["level"] == "info" and line["timestamp"].endswith("Z")
    text = json.dumps(json_lines(), ensure_ascii=False)
    assert kakao_app.plugin_key not in text

    buyer.t4()  # the hot reads write no line of their own
    assert not [x for x in json_lines() if "order_status" in x["event"]]


@pytest.mark.django_db
def test_context_values_are_cleaned(json_lines, client):
    r = client.get("/healthz", HTTP_X_REQUEST_ID="abc\n{\"forged\": 1}", HTTP_X_KAKAO_PLUGIN_RELAY_ID="r" * 500)
    assert r["X-Request-ID"] == "abcforged:1"  # id characters only: no newline, quote or brace reaches a line


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_the_worker_continues_the_request_id_and_relay_id(celery_worker, fake_kakao, kakao_app, plugin_base):
    log_path = ARTIFACTS / "celery-worker.log"
    start = log_path.stat().st_size
    product, option = make_product(option_stock=5)
    sheet = make_sheet(kakao_app, product, option)
    buyer = Buyer(plugin_base, fake_kakao.url, client=Client())
    buyer.t1(sheet.pk)
    buyer.ready()
    buyer.authorize()
    assert buyer.t3()["status"] == 200  # T3 first: T2 is the call that sends the approval
    r = buyer.client.post(
        plugin_base + "order/approve",
        {"partner_order_id": buyer.partner_order_id, "tid": buyer.tid, "relay_id": "relay-w-1",
         "shipping_address": ADDRESS},
        content_type="application/json", HTTP_X_KAKAO_APPUSERID="user-1", HTTP_X_KAKAO_PLUGIN_RELAY_ID="relay-w-1",
    )  # fmt: skip
    assert r.json()["status"] == 200, r.json()
    request_id = r["X-Request-ID"]
    wait_until(lambda: buyer.t4()["data"]["order_status"] == "S", timeout=30, message="S")

    def worker_lines():
        with open(log_path, "rb") as f:
            f.seek(start)
            out = []
            for raw in f.read().decode("utf-8", "replace").splitlines():
                try:
                    out.append(json.loads(raw))
                except ValueError:
                    continue
            return out

    def approval_lines():
        found = [x for x in worker_lines() if x.get("task") == "orders.tasks.approve_order"]
        return found or None

    found = wait_until(approval_lines, timeout=10, message="the worker's lines of the approval")
    assert all(x.get("request_id") == request_id and x.get("relay_id") == "relay-w-1" for x in found), found
    time.sleep(0.2)
    assert kakao_app.plugin_key not in log_path.read_text(errors="replace")[start:]
