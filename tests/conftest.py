"""Shared fixtures.

- ``kakao_app``: a Kakao app whose plugin URLs are under ``plugin_base`` (``/plugin/<key>/``).
- ``fake_kakao``: the fake Kakao/KakaoPay HTTP server (a thread of this process, reached over HTTP),
  with the project's Kakao and KakaoPay bases pointed at it.
- ``celery_worker``: a real Celery worker process on Redis against the test database (PostgreSQL).
  Tests using it need ``@pytest.mark.django_db(transaction=True)``: the worker only sees committed
  rows. Without PostgreSQL and Redis (the embedded default) they are skipped, saying why.
"""

from __future__ import annotations

import os
import signal
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
        # production: its orders move the real stock (a test app's use test_stock: tests/test_livemode.py)
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
    from kakaoplugin.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


# --- a real Celery worker ----------------------------------------------------------------------


def _database_url() -> str | None:
    s = connection.settings_dict
    if s["ENGINE"] != "django.db.backends.postgresql":
        return None
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, fake_kakao_server):
    """A `celery worker` process consuming from Redis, using the test database."""
    with django_db_blocker.unblock():
        db_url = _database_url()
    if db_url is None or not django_settings.CELERY_BROKER_URL:
        pytest.skip("needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL): run by .ci/run")
    from kakaoplugin.celery import app

    app.control.purge()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "celery-worker.log", "ab")  # noqa: SIM115
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        metrics_port = probe.getsockname()[1]
    env = os.environ | fake_environment(fake_kakao_server.url) | {
        "DATABASE_URL": db_url,
        "REDIS_URL": django_settings.REDIS_URL,
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
        "CACHE_URL": django_settings.CACHE_URL,
        "DJANGO_SETTINGS_MODULE": "kakaoplugin.settings",
        "PYTHONUNBUFFERED": "1",
        "WEBHOOK_RETRY_BASE_SECONDS": "0.3",
        "LOG_JSON": "true",  # structured lines: tests read the worker's context from its log
        "METRICS_WORKER_PORT": str(metrics_port),  # tests read the worker's metrics back
        "WEBHOOK_ALLOW_LOCAL": "true",  # the tests' webhook receivers are on 127.0.0.1 (http)
    }
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "kakaoplugin", "worker",
            "--loglevel", "INFO", "--concurrency", "4", "--pool", "threads",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--hostname", f"test-worker-{os.getpid()}@%h",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"celery worker exited with {proc.returncode}: see artifacts/celery-worker.log")
        replies = app.control.ping(timeout=0.5)
        if any(f"test-worker-{os.getpid()}@" in name for reply in replies for name in reply):
            break
    else:
        proc.kill()
        pytest.fail("celery worker did not answer a ping within 60 s")
    proc.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    yield proc
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
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
