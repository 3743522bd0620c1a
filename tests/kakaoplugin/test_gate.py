"""The gate on plugin paths (kakaoplugin.gate, envelope): plugin keys, bodies, errors as envelopes,
allowed networks, the hot reads it answers itself; plugin keys kept out of logs."""

import json
import logging

import pytest

pytestmark = pytest.mark.urls("tests.support.plugin_urls")


@pytest.mark.django_db
def test_unknown_plugin_key_is_404_envelope_and_not_logged(client, caplog):
    secret_looking = "x" * 43
    with caplog.at_level(logging.DEBUG):
        r = client.post(f"/plugin/{secret_looking}/echo", data="{}", content_type="application/json")
    assert r.status_code == 404
    assert r["Content-Type"].startswith("application/json")
    assert r.json()["status"] == 404
    assert secret_looking not in caplog.text


def test_log_filter_redacts_plugin_keys():
    from kakaoplugin.logging import RedactPluginKeyFilter

    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"GET %s HTTP/1.1" 200', ("/plugin/abcDEF123/order/status?order_id=1",), None)
    RedactPluginKeyFilter().filter(record)
    assert "abcDEF123" not in record.getMessage()
    assert "/plugin/<key>/order/status" in record.getMessage()


@pytest.mark.django_db
def test_echo_passes_context_and_keeps_korean_utf8(client, kakao_app, plugin_base):
    r = client.post(
        plugin_base + "echo",
        data=json.dumps({"name": "윈터펠"}, ensure_ascii=False).encode(),
        content_type="application/json",
        HTTP_X_KAKAO_APPUSERID="1234",
        HTTP_X_KAKAO_PLUGIN_RELAY_ID="relay-9",
    )
    assert r.status_code == 200
    assert "윈터펠".encode() in r.content  # UTF-8, not \\u escapes
    assert r.json() == {
        "status": 200,
        "data": {"body": {"name": "윈터펠"}, "app": "test-app", "app_user_id": "1234", "relay_id": "relay-9"},
    }


@pytest.mark.django_db
def test_relay_id_from_query_when_no_header(client, plugin_base):
    r = client.post(plugin_base + "echo?relay_id=q-relay", data='{"name":"a"}', content_type="application/json")
    assert r.json()["data"]["relay_id"] == "q-relay"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, fragment",
    [("{not json", "JSON"), ("[1, 2]", "JSON 객체"), ('{"other": 1}', "name"), ('{"name": 5}', "name")],
)
def test_bad_bodies_are_400_envelopes(client, plugin_base, body, fragment):
    r = client.post(plugin_base + "echo", data=body, content_type="application/json")
    assert r.status_code == 400
    payload = r.json()
    assert payload["status"] == 400 and fragment in payload["message"]


@pytest.mark.django_db
def test_oversized_body_is_413_envelope(client, plugin_base, settings):
    body = json.dumps({"name": "a" * (settings.PLUGIN_MAX_BODY_BYTES + 1)})
    r = client.post(plugin_base + "echo", data=body, content_type="application/json")
    assert r.status_code == 413
    assert r.json()["status"] == 413


@pytest.mark.django_db
def test_contract_outcome_is_http_200_with_code(client, plugin_base):
    r = client.get(plugin_base + "refuse")
    assert r.status_code == 200
    assert r.json() == {"status": 301, "message": "영업시간이 아닙니다"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["boom", "plain-boom"])
def test_exceptions_become_500_envelopes(client, plugin_base, path):
    client.raise_request_exception = False
    r = client.get(plugin_base + path)
    assert r.status_code == 500
    assert r["Content-Type"].startswith("application/json")
    assert r.json()["status"] == 500


@pytest.mark.django_db
def test_unknown_path_and_wrong_method_are_envelopes(client, plugin_base):
    r = client.get(plugin_base + "no-such-endpoint")
    assert r.status_code == 404 and r.json()["status"] == 404
    r = client.get(plugin_base + "echo")
    assert r.status_code == 405 and r.json()["status"] == 405


@pytest.mark.django_db
def test_cidr_allow_list(client, kakao_app, plugin_base):
    kakao_app.allowed_networks = "10.0.0.0/8\n192.168.1.0/24"
    kakao_app.save()
    r = client.post(plugin_base + "echo", data='{"name":"a"}', content_type="application/json")
    assert r.status_code == 403 and r.json()["status"] == 403
    r = client.post(
        plugin_base + "echo", data='{"name":"a"}', content_type="application/json", REMOTE_ADDR="10.1.2.3"
    )
    assert r.status_code == 200


@pytest.mark.django_db
def test_cidr_uses_trusted_proxy_hop(client, kakao_app, plugin_base, settings):
    settings.TRUSTED_PROXY_CIDRS = ["127.0.0.1/32"]  # the test client's socket is our proxy
    kakao_app.allowed_networks = "203.0.113.0/24"
    kakao_app.save()
    ok = client.post(
        plugin_base + "echo", data='{"name":"a"}', content_type="application/json",
        HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.5",
    )  # fmt: skip
    spoofed = client.post(
        plugin_base + "echo", data='{"name":"a"}', content_type="application/json",
        HTTP_X_FORWARDED_FOR="203.0.113.5, 198.51.100.7",
    )  # fmt: skip
    assert ok.status_code == 200 and spoofed.status_code == 403


@pytest.mark.django_db
def test_inactive_app_and_rotated_key_stop_working(client, kakao_app, plugin_base):
    from kakaoplugin.services import kakao_app_rotate_plugin_key

    assert client.post(plugin_base + "echo", data='{"name":"a"}', content_type="application/json").status_code == 200
    new_key = kakao_app_rotate_plugin_key(kakao_app=kakao_app)
    assert client.post(plugin_base + "echo", data='{"name":"a"}', content_type="application/json").status_code == 404
    assert len(new_key) >= 43
    r = client.post(f"/plugin/{new_key}/echo", data='{"name":"a"}', content_type="application/json")
    assert r.status_code == 200


@pytest.mark.django_db
def test_the_gate_answers_hot_reads_itself(client, plugin_base):
    """T4 and option T1 skip URL resolving and the middleware below the gate (no X-Frame-Options,
    which Django's clickjacking middleware adds to everything else); other methods still resolve."""
    from kakaoplugin.gate import FAST_PATHS

    assert set(FAST_PATHS) == {"order_status", "options"}
    t4 = client.get(plugin_base + "order/status", {"order_id": "po_none"})
    assert t4.json()["status"] == 300
    assert t4["X-Content-Type-Options"] == "nosniff" and "X-Frame-Options" not in t4
    assert t4["Content-Length"] == str(len(t4.content))  # keep-alive clients need it
    t1 = client.get(plugin_base + "options", {"id": "no-such-product"})
    assert t1.status_code == 404 and "X-Frame-Options" not in t1
    posted = client.post(plugin_base + "order/status", {"order_id": "po_none"})
    assert posted.status_code == 405 and posted.json()["status"] == 405


def test_only_hot_reads_may_skip_the_inbound_call_log():
    from kakaoplugin.gate import register_fast_path

    with pytest.raises(ValueError, match="inbound call"):
        register_fast_path("order_approve", lambda request, plugin_key: None)


@pytest.mark.django_db
def test_a_failing_hot_read_is_still_an_envelope(client, plugin_base, monkeypatch):
    """The gate calls hot-read views outside Django's handler: their failures must become the
    500 envelope too, never Django's HTML error page."""
    from kakaoplugin import gate

    def broken(request, plugin_key):
        raise RuntimeError("database is down")

    monkeypatch.setitem(gate.FAST_PATHS, "order_status", broken)
    client.raise_request_exception = False
    r = client.get(plugin_base + "order/status", {"order_id": "po_x"})
    assert r.status_code == 500 and r["Content-Type"].startswith("application/json")
    assert r.json()["status"] == 500


@pytest.mark.django_db
def test_an_app_looked_up_by_a_payment_link_is_never_a_plugin_key(client, kakao_app, fake_kakao):
    """The buyer's /pay/ links resolve the order's app by its id (kept per process): that lookup
    must not make ``/plugin/<anything>/`` a valid key for the app."""
    from tests.support.payments import Buyer, make_product, make_sheet

    product, option = make_product()
    buyer = Buyer(f"/plugin/{kakao_app.plugin_key}/", fake_kakao.url)
    assert buyer.t1(make_sheet(kakao_app, product, option).pk)["status"] == 200
    assert client.get(f"/pay/{buyer.partner_order_id}/approval/not-the-token").json()["status"] == 404
    for key in (f"pk:{kakao_app.pk}", str(kakao_app.pk)):
        r = client.get(f"/plugin/{key}/order/status", {"order_id": buyer.partner_order_id},
                       HTTP_X_KAKAO_APPUSERID="user-1")  # fmt: skip
        assert r.status_code == 404 and r.json()["status"] == 404, (key, r.content)
