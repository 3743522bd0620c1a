"""Plugin paths through a PostgreSQL restart and outage, end to end (issue 12, item 1): gunicorn on
a PostgreSQL cluster of the test's own, stopped and started again (the shared one is never
touched).  Kakao must get JSON from every plugin path at every moment: 503 with Retry-After while
the database is down, and the contract answer from the very first request after it is back."""

from __future__ import annotations

import os

import psycopg2
import pytest
import requests

from tests.support.processes import OwnPostgres, free_port, gunicorn, manage, stop

KEY = "faults-test-plugin-key-0000000000000000000000"

# (method, path below /plugin/<key>/ or from the root, query, JSON body, the envelope status a
# healthy database gives)
CALLS = [
    ("GET", "order/status", {"order_id": "po_unknown"}, None, 300),  # T4
    ("GET", "ordersheet", {"ordersheet_id": "unknown"}, None, 300),  # payment T1
    ("POST", "order/approve", None, {"partner_order_id": "po_unknown", "tid": "T-1"}, 300),  # T2
    ("GET", "/pay/po_unknown/approval/not-a-token", {"pg_token": "pg"}, None, 404),  # T3 (the buyer's browser)
    ("GET", "options", {"id": "P-unknown"}, None, 404),  # option T1
]


@pytest.fixture(scope="module")
def own_postgres():
    if not OwnPostgres.available():
        pytest.skip("needs PostgreSQL's server binaries (initdb, pg_ctl)")
    pg = OwnPostgres().init()
    yield pg
    pg.remove()


@pytest.fixture(scope="module")
def server(own_postgres):
    admin = psycopg2.connect(dbname="postgres", user="postgres", host="127.0.0.1", port=own_postgres.port)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("CREATE DATABASE kp_faults")
    admin.close()
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": own_postgres.url("kp_faults"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PLUGIN_APP_CACHE_SECONDS": "0",  # the gate's app lookup is every request's first statement
        "CONN_MAX_AGE": "600",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
    }
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "kakao_app", "--name", "faults", "--plugin-key", KEY, "--rest-api-key", "faults-rest-api-key")
    web = gunicorn(env, port)
    yield f"http://127.0.0.1:{port}/plugin/{KEY}/"
    stop(web)


def send(base: str, call) -> requests.Response:
    method, path, query, body, _ = call
    url = base.split("/plugin/")[0] + path if path.startswith("/") else base + path
    return requests.request(method, url, params=query, json=body, timeout=30,
                            headers={"X-Kakao-AppUserId": "user-1"})  # fmt: skip


def answers(base: str, rounds: int) -> list[str]:
    """Every call ``rounds`` times; what went wrong (empty: each got its contract answer)."""
    wrong = []
    for _ in range(rounds):
        for call in CALLS:
            r = send(base, call)
            if not r.headers.get("Content-Type", "").startswith("application/json"):
                wrong.append(f"{call[1]}: HTTP {r.status_code} {r.headers.get('Content-Type')}")
            elif r.status_code >= 500 or r.json()["status"] != call[4]:
                wrong.append(f"{call[1]}: HTTP {r.status_code} {r.json()}")
    return wrong


def test_plugin_paths_through_a_postgresql_restart_and_outage(own_postgres, server):
    assert answers(server, 3) == []

    # A restart between two requests: every kept connection is dead; nobody has noticed yet.
    own_postgres.stop()
    own_postgres.start()
    assert answers(server, 3) == []  # the first request after it included

    # Down: 503 envelope with Retry-After, nothing else.
    own_postgres.stop()
    for call in CALLS:
        for _ in range(2):
            r = send(server, call)
            assert r.status_code == 503, (call[1], r.status_code, r.text[:300])
            assert r.headers["Content-Type"].startswith("application/json")
            assert r.headers["Retry-After"] == "2"
            assert r.json()["status"] == 503 and "잠시 후 다시 시도해 주세요" in r.json()["message"]

    own_postgres.start()
    assert answers(server, 3) == []
