"""Shared fixtures.

- ``kakao_app``: a Kakao app whose plugin URLs are under ``plugin_base`` (``/plugin/<key>/``).
- ``fake_kakao``: the fake Kakao/KakaoPay HTTP server (a thread of this process, reached over HTTP),
  with the project's Kakao and KakaoPay bases pointed at it.
- ``celery_worker``: a real Celery worker process against the test database, on the configured
  broker: Redis with PostgreSQL (.ci/run), the embedded broker (a folder) with SQLite (nothing set).
  Tests using it need ``@pytest.mark.django_db(transaction=True)``: the worker only sees committed
  rows.
- ``celery_beat``: a real beat process beside it (the production schedule, sweeps every second).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection

from fakekakao.control import FakeControl
from fakekakao.server import FakeKakaoServer
from kakaoplugin.selectors import forget_plugin_keys
from tests.support.processes import stop as stop_process

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(autouse=True)
def _fresh_process_state():
    forget_plugin_keys()
    cache.clear()
    yield
    forget_plugin_keys()


@pytest.fixture
def kakao_app(db):
    from kakaoplugin.models import KakaoApp

    return KakaoApp.objects.create(
        name="test-app",
        # production: its orders move the real stock (a test app's use test_stock: tests/orders/test_livemode.py)
        environment=KakaoApp.Environment.PRODUCTION,
        rest_api_key="test-rest-api-key",
        kakaopay_admin_key="test-admin-key-0123456789",
        kakaopay_secret_key="test-secret-key-0123456789",
        cid="TC0ONETIME",
        cid_secret="cidsecret0123456789abcd",
        kakao_client_secret="client-secret-0123456789",
    )


@pytest.fixture
def plugin_base(kakao_app) -> str:
    return f"/plugin/{kakao_app.plugin_key}/"


# --- the fake Kakao / KakaoPay -----------------------------------------------------------------


@pytest.fixture(scope="session")
def fake_kakao_server():
    server = FakeKakaoServer("127.0.0.1", 0).start()
    yield server
    server.stop()


def fake_environment(url: str) -> dict[str, str]:
    host = url.split("://", 1)[1]
    return {
        "KAKAOPAY_LEGACY_API_BASE": url,
        "KAKAOPAY_OPEN_API_BASE": url,
        "KAKAO_AUTH_BASE": url,
        "KAKAO_API_BASE": url,
        "KAKAO_OTP_HOSTS": host,
        "KAKAO_IMAGE_HOSTS": host,
        "KAKAO_ALLOW_HTTP": "true",
    }


@pytest.fixture
def fake_kakao(fake_kakao_server, settings) -> FakeControl:
    """The fake, reset, with this process's settings pointed at it."""
    control = FakeControl(fake_kakao_server.url)
    control.reset()
    for name, value in fake_environment(fake_kakao_server.url).items():
        if name in ("KAKAO_OTP_HOSTS", "KAKAO_IMAGE_HOSTS"):
            value = [value]
        elif name == "KAKAO_ALLOW_HTTP":
            value = True
        setattr(settings, name, value)
    control.url = fake_kakao_server.url
    return control


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in this process, even when a broker is configured (unit tests of flows)."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


# --- a real Celery worker ----------------------------------------------------------------------


def _database_url() -> str | None:
    s = connection.settings_dict
    if s["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{s['NAME']}"  # the test database is a file (settings: DATABASES TEST NAME)
    if s["ENGINE"] != "django.db.backends.postgresql":
        return None
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def worker_environment(fake_url: str, **extra: str) -> dict[str, str]:
    """The environment of a worker or beat the tests start: this process's database and broker."""
    with_redis = not django_settings.EMBEDDED_BROKER
    return os.environ | fake_environment(fake_url) | {
        "DATABASE_URL": _database_url(),
        "REDIS_URL": django_settings.REDIS_URL if with_redis else "",
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL if with_redis else "",
        "CACHE_URL": django_settings.CACHE_URL if with_redis else "",
        "VAR_DIR": str(django_settings.VAR_DIR),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
        "WEBHOOK_RETRY_BASE_SECONDS": "0.3",
        "LOG_JSON": "true",  # structured lines: tests read the worker's context from its log
        "WEBHOOK_ALLOW_LOCAL": "true",  # the tests' webhook receivers are on 127.0.0.1 (http)
    } | extra


def worker_command(hostname: str) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--loglevel", "INFO", "--concurrency", "4", "--pool", "threads",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--hostname", hostname,
    ]  # fmt: skip


def wait_for_worker(proc: subprocess.Popen, hostname_prefix: str, *, timeout: float = 60.0) -> None:
    from config.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"celery worker exited with {proc.returncode}: see artifacts/celery-worker.log")
        replies = app.control.ping(timeout=0.5)
        if any(hostname_prefix in name for reply in replies for name in reply):
            return
    proc.kill()
    pytest.fail(f"celery worker did not answer a ping within {timeout:.0f} s")


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, fake_kakao_server):
    """A `celery worker` process on the configured broker, using the test database."""
    with django_db_blocker.unblock():
        db_url = _database_url()
    if db_url is None:
        pytest.skip("a worker needs the test database on SQLite or PostgreSQL")
    from config.celery import app
    from kakaoplugin.brokers import forget_control_messages

    if django_settings.EMBEDDED_BROKER:
        forget_control_messages(django_settings.VAR_DIR / "broker")
    app.control.purge()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "celery-worker.log", "ab")  # noqa: SIM115
    hostname = f"test-worker-{os.getpid()}@%h"
    with socket.socket() as probe:  # the worker serves its metrics here: tests read them back
        probe.bind(("127.0.0.1", 0))
        metrics_port = probe.getsockname()[1]
    env = worker_environment(fake_kakao_server.url, METRICS_WORKER_PORT=str(metrics_port))
    proc = subprocess.Popen(
        worker_command(hostname), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    wait_for_worker(proc, f"test-worker-{os.getpid()}@")
    proc.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    yield proc
    stop_process(proc)
    log.close()


@pytest.fixture
def celery_beat(celery_worker, transactional_db, fake_kakao_server):
    """A `celery beat` process (the production schedule, django-celery-beat), its minute sweeps
    and subscription charging every second."""
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "celery-beat.log", "ab")  # noqa: SIM115
    env = worker_environment(
        fake_kakao_server.url, PERIODIC_SWEEP_SECONDS="1", SUBSCRIPTION_CHARGE_EVERY_SECONDS="1"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO", "--max-interval", "1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    yield proc
    stop_process(proc)
    log.close()


def wait_until(predicate, *, timeout: float = 15.0, interval: float = 0.05, message: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value (tests of asynchronous work)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture(autouse=True)
def _local_webhook_receivers(settings):
    """The tests' webhook receivers listen on 127.0.0.1 over http: the development setting lets
    them through (tests of the refusal turn it off)."""
    settings.WEBHOOK_ALLOW_LOCAL = True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Before a test that used the worker flushes the database (TRUNCATE of every table), let the
    worker finish what the test's last step owed after its commit (an order's ``order.paid``
    event, a cache renewal: outbox rows): a worker query racing the TRUNCATE can deadlock it, and a
    database left unflushed fails the next test. Bounded; never fails a test by itself."""
    if "celery_worker" in getattr(item, "fixturenames", ()):
        try:
            from kakaoplugin.models import OutboxMessage

            with item._request.getfixturevalue("django_db_blocker").unblock():
                deadline = time.monotonic() + 5.0
                while OutboxMessage.objects.exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
            time.sleep(0.2)  # the statements that follow a dispatch (the row's delete, a delivery)
        except Exception:  # noqa: BLE001 (a best effort: the flush decides)
            pass
    yield
