"""Every plugin call (but the hot reads option T1 and T4) is stored before it is answered and
completed with the answer: refusals are visible to staff, bodies only with a permission."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission, User

from kakaoplugin.models import InboundCall
from kakaoplugin.services import inbound_calls_purge
from tests.support.options import GUIDE_OPTION_T2, guide, post_option_t2  # noqa: F401 (the guide fixture)


@pytest.mark.django_db
def test_a_refused_option_t2_is_stored_with_its_answer(client, plugin_base, kakao_app, guide):  # noqa: F811
    body = dict(GUIDE_OPTION_T2, option_groups=[{"option_group_id": "사이즈2", "option_id": "S"},
                                         {"option_group_id": "색상2", "option_id": "R23"}])  # fmt: skip
    r = post_option_t2(client, plugin_base, body)
    assert r.json()["status"] == 400
    call = InboundCall.objects.get()
    assert (call.kakao_app, call.endpoint, call.method) == (kakao_app, "option", "POST")
    assert (call.app_user_id, call.relay_id) == ("app-user-1", "relay-9")
    assert json.loads(call.body)["option_groups"][0]["option_id"] == "S"
    assert call.http_status == 200 and call.result_status == 400 and call.result_message == r.json()["message"]
    assert call.duration_ms is not None
    assert call.headers["HTTP_X_KAKAO_PLUGIN_RELAY_ID"] == "relay-9"


@pytest.mark.django_db
def test_a_call_is_stored_even_when_the_view_fails(client, plugin_base, kakao_app, settings):
    settings.ROOT_URLCONF = "tests.support.plugin_urls"
    client.raise_request_exception = False
    r = client.get(plugin_base + "boom")
    assert r.status_code == 500
    call = InboundCall.objects.get()
    assert call.endpoint == "unknown" and call.result_status == 500 and call.http_status == 500


@pytest.mark.django_db
def test_gate_refusals_are_stored_and_malformed_bodies_kept(client, plugin_base, kakao_app, settings):
    r = client.post(plugin_base + "order/approve", data="{not json", content_type="application/json")
    assert r.status_code == 400
    too_big = json.dumps({"x": "a" * (settings.PLUGIN_MAX_BODY_BYTES + 10)})
    assert client.post(plugin_base + "option", data=too_big, content_type="application/json").status_code == 413
    nul = client.post(plugin_base + "option", data='{"id": "a\\u0000b"}', content_type="application/json")
    assert nul.status_code == 400
    calls = list(InboundCall.objects.order_by("received_at", "id"))
    assert [(c.endpoint, c.result_status) for c in calls] == [("order_approve", 400), ("option", 413), ("option", 400)]
    assert calls[0].body == "{not json"
    assert calls[1].body == ""  # over the limit: not read, not stored
    assert "NUL" in calls[2].result_message


@pytest.mark.django_db
def test_hot_reads_are_not_stored_and_kakao_sync_codes_are_masked(client, plugin_base, kakao_app):
    client.get(plugin_base + "order/status", {"order_id": "po_x"})
    client.get(plugin_base + "options", {"id": "nothing"})
    assert not InboundCall.objects.exists()
    client.get(f"/sync/{kakao_app.pk}/redirect", {"code": "one-time-secret-code", "state": "s"})
    call = InboundCall.objects.get()
    assert call.endpoint == "kakaosync_redirect" and call.query == {"code": "***", "state": "***"}


@pytest.mark.django_db
def test_admin_lists_failures_and_hides_bodies_without_the_permission(client, plugin_base, kakao_app, guide):  # noqa: F811
    post_option_t2(client, plugin_base, dict(GUIDE_OPTION_T2, quantity=0))
    post_option_t2(client, plugin_base, GUIDE_OPTION_T2)
    staff = User.objects.create_user("staff", password="pw-0123456789", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_inboundcall"))
    client.force_login(staff)
    failed = client.get("/admin/kakaoplugin/inboundcall/", {"outcome": "failed"}).content.decode()
    refused = InboundCall.objects.get(result_status=400)
    assert failed.count('class="field-endpoint"') == 1  # only the refused call
    assert refused.result_message[:40] in failed
    call = refused
    page = client.get(f"/admin/kakaoplugin/inboundcall/{call.pk}/change/").content.decode()
    assert "윈터펠테스트11" not in page and "“수신 호출 본문 보기” 권한이 필요합니다" in page
    staff.user_permissions.add(Permission.objects.get(codename="view_inbound_body"))
    staff = User.objects.get(pk=staff.pk)
    client.force_login(staff)
    page = client.get(f"/admin/kakaoplugin/inboundcall/{call.pk}/change/").content.decode()
    assert "윈터펠테스트11" in page


@pytest.mark.django_db
def test_purge_empties_old_bodies_only(client, plugin_base, kakao_app, guide):  # noqa: F811
    from datetime import timedelta

    from django.utils import timezone

    post_option_t2(client, plugin_base, GUIDE_OPTION_T2)
    post_option_t2(client, plugin_base, GUIDE_OPTION_T2)
    old, new = InboundCall.objects.order_by("id")
    InboundCall.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=31))
    assert inbound_calls_purge(older_than_days=30) == 1
    old.refresh_from_db()
    new.refresh_from_db()
    assert old.body == "" and old.body_purged_at is not None and old.result_status == 200
    assert new.body and new.body_purged_at is None
    assert inbound_calls_purge(older_than_days=30) == 0


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_each_write_is_one_statement_committed_without_a_flush(client, plugin_base, kakao_app, guide):  # noqa: F811
    """On PostgreSQL the gate's two writes are one statement each (no BEGIN / SET LOCAL / COMMIT
    round trips), commit asynchronously, leave the connection's own setting alone, and store what
    the ORM stored."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from kakaoplugin.services import inbound_call_finish, inbound_call_start

    if connection.vendor != "postgresql":
        pytest.skip("the one-statement call log is PostgreSQL's (SQLite writes through the ORM)")
    meta = {"HTTP_X_KAKAO_APPUSERID": "u-1", "CONTENT_TYPE": "application/json", "HTTP_COOKIE": "not kept"}
    with CaptureQueriesContext(connection) as queries:
        call = inbound_call_start(kakao_app=kakao_app, endpoint="order_approve", method="POST", meta=meta,
                                  query={"relay_id": "r-1", "pg_token": "secret-token"}, body=b'{"a":"\x00b"}',
                                  source_ip="10.0.0.1", app_user_id="u-1", relay_id="r-1")  # fmt: skip
        inbound_call_finish(call=call, http_status=200, content=b'{"status":300,"message":"no"}', is_json=True, duration_ms=7)
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT", "UPDATE"]
    assert all("set_config('synchronous_commit', 'off', true)" in q["sql"] for q in queries.captured_queries)
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
    stored = InboundCall.objects.get(pk=call.pk)
    assert (stored.kakao_app, stored.endpoint, stored.method, stored.source_ip) == (kakao_app, "order_approve", "POST", "10.0.0.1")
    assert stored.query == {"relay_id": "r-1", "pg_token": "***"}
    assert stored.headers == {"HTTP_X_KAKAO_APPUSERID": "u-1", "CONTENT_TYPE": "application/json"}
    assert stored.body == '{"a":"\ufffdb"}' and (stored.app_user_id, stored.relay_id) == ("u-1", "r-1")
    assert stored.received_at is not None and stored.body_purged_at is None
    assert (stored.http_status, stored.result_status, stored.result_message, stored.duration_ms) == (200, 300, "no", 7)
