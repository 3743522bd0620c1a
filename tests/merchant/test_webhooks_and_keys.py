"""Merchant API keys (hashed, scoped, revocable) and signed order webhooks with retries."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from kakaoplugin import signing
from kakaoplugin.models import WebhookDelivery
from kakaoplugin.services import webhook_emit, webhook_endpoint_create, webhook_resend
from merchant.models import MerchantApiKey
from merchant.services import api_key_authenticate, api_key_create, api_key_revoke
from tests.conftest import wait_until
from tests.support.webhooks import Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.mark.django_db
def test_api_keys_are_hashed_scoped_and_revocable(kakao_app):
    key, plain = api_key_create(kakao_app=kakao_app, name="erp", scopes=["orders"])
    assert plain.startswith("kp_") and len(plain) > 50
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM kakaoplugin_merchantapikey")
        stored = " ".join(str(v) for row in cursor.fetchall() for v in row)
    assert plain not in stored and plain.split("_", 2)[2] not in stored
    found = api_key_authenticate(plain=plain)
    assert found == key and found.kakao_app == kakao_app and found.last_used_at is not None
    assert api_key_authenticate(plain=plain[:-1] + ("A" if plain[-1] != "A" else "B")) is None
    assert api_key_authenticate(plain="kp_nothing_here") is None
    api_key_revoke(api_key=key)
    assert api_key_authenticate(plain=plain) is None
    with pytest.raises(ValueError):
        api_key_create(kakao_app=kakao_app, name="x", scopes=["everything"])


@pytest.mark.django_db
def test_admin_shows_new_key_once(admin_client, kakao_app):
    r = admin_client.post(
        "/admin/merchant/merchantapikey/add/",
        {"kakao_app": kakao_app.pk, "name": "fulfilment", "scopes": ["orders", "members"]},
        follow=True,
    )
    assert r.status_code == 200
    key = MerchantApiKey.objects.get(name="fulfilment")
    page = r.content.decode()
    shown = page.split("<code>", 1)[1].split("</code>", 1)[0]
    assert shown.startswith(f"kp_{key.prefix}_")
    assert api_key_authenticate(plain=shown) == key
    assert key.scopes == ["orders", "members"]
    later = admin_client.get(f"/admin/merchant/merchantapikey/{key.pk}/change/").content.decode()
    assert shown not in later


def test_signature_verifies_and_rejects_tampering():
    body = b'{"id":"evt_1"}'
    header = signing.signature("whsec_x", 1_700_000_000, body)
    assert signing.verify("whsec_x", header, body, now=1_700_000_010)
    assert not signing.verify("whsec_x", header, body + b" ", now=1_700_000_010)
    assert not signing.verify("whsec_y", header, body, now=1_700_000_010)
    assert not signing.verify("whsec_x", header, body, now=1_700_001_000)  # too old: a replay
    assert not signing.verify("whsec_x", "garbage", body)


@pytest.mark.django_db
def test_emit_delivers_one_signed_event_per_endpoint(
    kakao_app, receiver, django_capture_on_commit_callbacks, eager_tasks
):
    endpoint = webhook_endpoint_create(kakao_app=kakao_app, url=receiver.url)
    webhook_endpoint_create(kakao_app=kakao_app, url=receiver.url + "/other", event_types=["order.cancelled"])
    with django_capture_on_commit_callbacks(execute=True):
        event = webhook_emit(
            kakao_app=kakao_app, event_type="order.paid", data={"partner_order_id": "o1", "total": 1000},
            idempotency_key="order.paid:o1",
        )  # fmt: skip
        again = webhook_emit(
            kakao_app=kakao_app, event_type="order.paid", data={"partner_order_id": "o1"},
            idempotency_key="order.paid:o1",
        )  # fmt: skip
    assert again is None
    assert len(receiver.received) == 1  # the other endpoint only wants cancellations
    got = receiver.received[0]
    assert signing.verify(endpoint.secret, got["headers"]["X-Webhook-Signature"], got["body"])
    payload = json.loads(got["body"])
    assert payload["id"] == event.id == got["headers"]["X-Webhook-Id"]
    assert payload["type"] == "order.paid" and payload["data"] == {"partner_order_id": "o1", "total": 1000}
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status == "delivered" and delivery.attempts == 1
    assert delivery.attempt_log.get().status_code == 204


@pytest.mark.django_db
def test_failed_delivery_is_recorded_and_resend_works(kakao_app, django_capture_on_commit_callbacks, eager_tasks):
    receiver = Receiver(fail_first=1)
    try:
        webhook_endpoint_create(kakao_app=kakao_app, url=receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            event = webhook_emit(kakao_app=kakao_app, event_type="order.failed", data={}, idempotency_key="k1")
        delivery = WebhookDelivery.objects.get(event=event)
        assert delivery.status == "pending" and delivery.last_status_code == 500 and delivery.last_error == "HTTP 500"
        assert delivery.next_attempt_at is not None
        with django_capture_on_commit_callbacks(execute=True):
            webhook_resend(delivery=delivery)
        delivery.refresh_from_db()
        assert delivery.status == "delivered" and delivery.attempts == 2
        assert [a.status_code for a in delivery.attempt_log.all()] == [500, 204]
    finally:
        receiver.close()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_receiver_failing_twice_gets_the_event_on_the_third_attempt(kakao_app, celery_worker):
    receiver = Receiver(fail_first=2)
    try:
        endpoint = webhook_endpoint_create(kakao_app=kakao_app, url=receiver.url)
        event = webhook_emit(kakao_app=kakao_app, event_type="order.paid", data={"n": 1}, idempotency_key="k3")
        delivery = wait_until(
            lambda: WebhookDelivery.objects.filter(event=event, status="delivered").first(),
            timeout=30, message="delivery after retries",
        )  # fmt: skip
        assert delivery.attempts == 3
        assert len(receiver.received) == 3
        assert all(r["headers"]["X-Webhook-Id"] == event.id for r in receiver.received)
        last = receiver.received[-1]
        assert signing.verify(endpoint.secret, last["headers"]["X-Webhook-Signature"], last["body"])
    finally:
        receiver.close()
