"""Kakao apps: secrets encrypted at rest and never shown, the plugin key rotated, the ``kakao_app``
and ``plugin_urls`` commands."""

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection

from kakaoplugin.fields import Secret
from kakaoplugin.models import KakaoApp

pytestmark = pytest.mark.urls("tests.support.plugin_urls")


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

    with pytest.raises(CommandError, match=r"IP 네트워크\(CIDR\)가 아닙니다"):
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
