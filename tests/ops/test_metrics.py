"""Prometheus metrics: behind a bearer token, and the values move when orders move."""

from __future__ import annotations

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.support.payments import Buyer, make_product, make_sheet

TOKEN = "metrics-token-for-tests-0123456789"


def scrape(client: Client) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert r.status_code == 200, r.content
    samples = {}
    for family in text_string_to_metric_families(r.content.decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.django_db
def test_metrics_need_the_token(settings, client):
    settings.METRICS_TOKEN = ""
    off = client.get("/metrics")
    assert off.status_code == 404 and off.json()["status"] == 404
    settings.METRICS_TOKEN = TOKEN
    for auth in (None, "Bearer wrong", f"Basic {TOKEN}"):
        r = client.get("/metrics", **({"HTTP_AUTHORIZATION": auth} if auth else {}))
        assert r.status_code == 401 and r["WWW-Authenticate"].startswith("Bearer")
        assert r.json()["status"] == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


@pytest.mark.django_db
def test_request_and_order_metrics_move_with_the_flow(settings, fake_kakao, kakao_app, plugin_base):
    settings.METRICS_TOKEN = TOKEN
    client = Client()
    before = scrape(client)
    product, option = make_product(option_stock=5)
    sheet = make_sheet(kakao_app, product, option)
    buyer = Buyer(plugin_base, fake_kakao.url)
    assert buyer.t1(sheet.pk)["status"] == 200
    mid = scrape(client)
    assert value(mid, "kakaoplugin_orders", state="pending") == value(before, "kakaoplugin_orders", state="pending") + 1
    buyer.ready()
    buyer.authorize()
    assert buyer.t2()["status"] == 200
    for _ in range(3):
        assert buyer.t4()["data"]["order_status"] == "W"
    buyer.client.get(plugin_base + "order/status", {"order_id": "no-such-order"}, HTTP_X_KAKAO_APPUSERID="user-1")
    Client().get("/plugin/not-a-key/order/status")
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert value(after, "kakaoplugin_orders", state="held") == value(mid, "kakaoplugin_orders", state="held") + 1
    assert value(after, "kakaoplugin_orders", state="pending") == value(before, "kakaoplugin_orders", state="pending")
    assert delta("kakaoplugin_plugin_requests_total", endpoint="ordersheet", http_status="200", status="200") == 1
    assert delta("kakaoplugin_plugin_requests_total", endpoint="order_approve", http_status="200", status="200") == 1
    assert delta("kakaoplugin_plugin_requests_total", endpoint="order_status", http_status="200", status="200") == 3
    assert delta("kakaoplugin_plugin_requests_total", endpoint="order_status", http_status="200", status="300") == 1
    # the gate's own refusal is counted too (unknown key), and no label carries a key or an order id
    assert delta("kakaoplugin_plugin_requests_total", endpoint="order_status", http_status="404", status="404") == 1
    assert delta("kakaoplugin_plugin_request_seconds_count", endpoint="order_status") == 5
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert kakao_app.plugin_key not in text and buyer.partner_order_id not in text
    assert value(after, "kakaoplugin_stuck_orders", kind="held_past_expiry") == 0
    assert value(after, "kakaoplugin_state_source_errors") == 0


@pytest.mark.django_db
def test_alert_rules_and_dashboard_use_only_metrics_we_export(settings, client):
    """A typo in ops/ would leave an alert silent for ever: every name must be one we export."""
    import json
    import re

    import yaml
    from prometheus_client import REGISTRY

    from tests.conftest import ROOT

    settings.METRICS_TOKEN = TOKEN
    exported = set(REGISTRY._names_to_collectors)  # counters and histograms, with their suffixes
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    exported |= set(re.findall(r"^# TYPE (kakaoplugin_\w+)", text, re.M))  # the state gauges

    rules = yaml.safe_load((ROOT / "ops/prometheus/alerts.yml").read_text())
    expressions = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dashboard = json.loads((ROOT / "ops/grafana/dashboard.json").read_text())
    expressions += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(expressions) > 20
    used = {name for e in expressions for name in re.findall(r"\bkakaoplugin_\w+", e)}
    assert used and used <= exported, used - exported
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    runbook = (ROOT / "docs/operations.md").read_text()
    assert all(f"### {alert}" in runbook for alert in alerts), [a for a in alerts if f"### {a}" not in runbook]


@pytest.mark.django_db
def test_callback_fetch_outcomes_are_counted(settings, client, plugin_base, kakao_app, fake_kakao):
    from fakekakao.kakao import seed_otp_url
    from tests.support.callbacks import PROFILE_SAMPLE, post_callback, run_fetch

    settings.METRICS_TOKEN = TOKEN
    before = scrape(client)
    url = seed_otp_url(fake_kakao.url, "onetimeprofile", PROFILE_SAMPLE, rest_api_key=kakao_app.rest_api_key)
    assert post_callback(client, plugin_base, "onetimeprofile", url).json() == {"status": 200}
    from callbacks.models import CallbackEvent

    run_fetch(CallbackEvent.objects.order_by("-id").first().pk)
    after = scrape(client)
    name, labels = "kakaoplugin_callback_fetches_total", {"kind": "onetimeprofile", "outcome": "ok"}
    assert value(after, name, **labels) == value(before, name, **labels) + 1
    state = {"kind": "onetimeprofile", "state": "processed"}
    assert value(after, "kakaoplugin_callbacks_24h", **state) == value(before, "kakaoplugin_callbacks_24h", **state) + 1
