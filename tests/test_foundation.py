import io
import json
import logging
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db import connection

from kakaoplugin.fields import Secret
from kakaoplugin.models import KakaoApp

pytestmark = pytest.mark.urls("tests.plugin_test_urls")


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_and_broker(client):
    r = client.get("/readyz")
    assert r.status_code == 200, r.content
    checks = r.json()["checks"]  # the worker's heartbeat: tests/test_readiness.py
    assert checks["database"]["ok"] and checks["broker"]["ok"] and checks["cache"]["ok"]




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
def test_secrets_encrypted_at_rest_and_masked(kakao_app):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT kakaopay_admin_key, cid_secret FROM kakaoplugin_kakaoapp WHERE id = %s", [kakao_app.pk]
        )
        admin_key, cid_secret = cursor.fetchone()
    assert admin_key.startswith("fernet:") and "test-admin-key" not in admin_key
    assert cid_secret.startswith("fernet:")
    app = KakaoApp.objects.get(pk=kakao_app.pk)
    assert app.kakaopay_admin_key == "test-admin-key-0123456789"
    assert isinstance(app.cid_secret, Secret)
    assert "cidsecret" not in repr(app.cid_secret)
    assert "test-admin-key" not in repr(app) and "test-admin-key" not in repr(app.__dict__)


@pytest.mark.django_db
def test_admin_does_not_show_secrets_and_blank_keeps_them(admin_client, kakao_app):
    url = f"/admin/kakaoplugin/kakaoapp/{kakao_app.pk}/change/"
    page = admin_client.get(url).content.decode()
    for secret in ("test-admin-key-0123456789", "cidsecret0123456789abcd", "test-secret-key-0123456789"):
        assert secret not in page
    # the plugin key is shown only inside the URLs staff must register with Kakao
    assert "••••" in page
    form = {
        "name": "test-app", "environment": "production", "kakao_app_id": "", "rest_api_key": "new-rest",
        "kakao_client_secret": "", "kakaopay_api": "legacy", "kakaopay_admin_key": "", "kakaopay_secret_key": "",
        "cid": "TC0ONETIME", "cid_secret": "replaced-cid-secret", "subscription_cid": "TCSUBSCRIP",
        "wrap_approval_url": "on", "order_agreements": "[]", "available_cards": "[]", "payment_method_type": "",
        "allowed_networks": "", "is_active": "on",
    }  # fmt: skip
    r = admin_client.post(url, form)
    assert r.status_code == 302, r.content.decode()[:3000]
    app = KakaoApp.objects.get(pk=kakao_app.pk)
    assert app.rest_api_key == "new-rest" and app.environment == "production"
    assert app.kakaopay_admin_key == "test-admin-key-0123456789"  # blank kept it
    assert app.cid_secret == "replaced-cid-secret"


@pytest.mark.django_db
def test_admin_rotate_action(admin_client, kakao_app):
    old = kakao_app.plugin_key
    r = admin_client.post(
        "/admin/kakaoplugin/kakaoapp/", {"action": "rotate_plugin_key", "_selected_action": [kakao_app.pk]}
    )
    assert r.status_code == 302
    kakao_app.refresh_from_db()
    assert kakao_app.plugin_key != old and kakao_app.plugin_key_rotated_at is not None


@pytest.mark.django_db
def test_kakao_app_command_json():
    out = io.StringIO()
    call_command(
        "kakao_app", "--name", "shop", "--rest-api-key", "rk", "--admin-key", "adminkey-0123456789",
        "--cid", "CID0000001", "--environment", "production", "--allowed-networks", "10.0.0.0/8,::1/128",
        "--base-url", "https://shop.example.com", stdout=out,
    )  # fmt: skip
    data = json.loads(out.getvalue())
    app = KakaoApp.objects.get(name="shop")
    assert data["created"] is True and data["cid"] == "CID0000001" and data["environment"] == "production"
    assert data["kakaopay_admin_key"] == "••••6789"
    assert data["allowed_networks"] == ["10.0.0.0/8", "::1/128"]
    assert data["plugin_urls"]["order_status"] == f"https://shop.example.com/plugin/{app.plugin_key}/order/status"
    out = io.StringIO()
    call_command("kakao_app", "--name", "shop", "--cid", "CID0000002", stdout=out)
    data = json.loads(out.getvalue())
    assert data["created"] is False and data["cid"] == "CID0000002" and data["rest_api_key"] == "rk"


@pytest.mark.django_db
def test_kakao_app_command_sets_and_clears_plugin_ids():
    out = io.StringIO()
    call_command(
        "kakao_app", "--name", "shop", "--rest-api-key", "rk", "--option-plugin-id", "opt-123",
        "--payment-plugin-id", "pay-456", stdout=out,
    )  # fmt: skip
    data = json.loads(out.getvalue())
    assert data["option_plugin_id"] == "opt-123" and data["payment_plugin_id"] == "pay-456"
    app = KakaoApp.objects.get(name="shop")
    assert (app.option_plugin_id, app.payment_plugin_id) == ("opt-123", "pay-456")
    call_command("kakao_app", "--name", "shop", "--cid", "CID0000002", stdout=io.StringIO())  # unchanged
    call_command("kakao_app", "--name", "shop", "--option-plugin-id", "", stdout=io.StringIO())  # cleared
    app.refresh_from_db()
    assert (app.option_plugin_id, app.payment_plugin_id) == ("", "pay-456")


@pytest.mark.django_db
def test_kakao_app_command_rejects_bad_cidr():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"IP 네트워크\(CIDR\)가 아닙니다"):  # Korean: the default
        call_command("kakao_app", "--name", "x", "--rest-api-key", "rk", "--allowed-networks", "nonsense")


@pytest.mark.django_db
def test_plugin_urls_command_json(kakao_app):
    out = io.StringIO()
    call_command("plugin_urls", "--base-url", "https://shop.example.com", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert [a["app"] for a in data] == ["test-app"]
    scenarios = {s["scenario"]: s["urls"] for s in data[0]["scenarios"]}
    base = f"https://shop.example.com/plugin/{kakao_app.plugin_key}/"
    assert scenarios["9.2.1"] == {"options": base + "options", "option": base + "option"}
    assert scenarios["9.2.3"]["order_approve"] == base + "order/approve"
    assert set(scenarios["9.2.4"]) == {"kakaosync_redirect", "options", "option", "ordersheet", "order_approve", "order_status"}
    # Kakao Sync's redirect URI: fixed per app, without the plugin key; payment redirects are per order
    assert scenarios["9.2.2"]["kakaosync_redirect"] == f"https://shop.example.com/sync/{kakao_app.pk}/redirect"
    assert data[0]["payment_redirects"]["kakaopay_approval"] == (
        "https://shop.example.com/pay/<partner_order_id>/approval/<order token>"
    )
    assert kakao_app.plugin_key not in json.dumps(data[0]["payment_redirects"]) + scenarios["9.2.2"]["kakaosync_redirect"]


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    from cryptography.fernet import Fernet

    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL")
    } | {
        "DEBUG": "false",
        "SECRET_KEY": "prod-" + "k3y!" * 16,
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "shop.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path}/prod.sqlite3",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "VAR_DIR": str(tmp_path),
    }
    r = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)),
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no issues" in r.stdout


def test_production_refuses_missing_secrets(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY")} | {
        "DEBUG": "false",
        "VAR_DIR": str(tmp_path),
    }
    r = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )  # fmt: skip
    assert r.returncode != 0 and "SECRET_KEY must be set" in r.stderr


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_tasks_against_the_test_database(celery_worker):
    from celery import current_app

    assert celery_worker.poll() is None
    replies = current_app.control.inspect(timeout=2).registered() or {}
    assert replies, "the worker answered no inspect call"


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
