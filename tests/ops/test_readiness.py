"""/readyz: database, cache, broker and the worker's heartbeat, each reported on its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kakaoplugin.models import WorkerHeartbeat
from tests.conftest import wait_until


@pytest.mark.django_db
def test_readyz_reports_each_dependency(client):
    r = client.get("/readyz")
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body["checks"]) == {"database", "cache", "broker", "worker"}
    assert body["checks"]["database"]["ok"] and body["checks"]["cache"]["ok"]


@pytest.mark.django_db
def test_a_broker_outage_is_reported_but_keeps_the_web_ready(client, settings):
    """The web still answers Kakao truthfully without a broker (the outbox keeps the work): not a 503."""
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    r = client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["ok"] is False and body["checks"]["broker"]["error"]
    assert any(p.startswith("broker") for p in body["problems"])


@pytest.mark.django_db
def test_a_stale_or_missing_heartbeat_shows_the_worker_down(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = settings.CELERY_BROKER_URL or "memory://"
    worker = client.get("/readyz").json()["checks"]["worker"]
    assert worker["ok"] is False and "no heartbeat" in worker["error"]

    WorkerHeartbeat.objects.create(worker="celery@old", seen_at=timezone.now() - timedelta(minutes=10))
    worker = client.get("/readyz").json()["checks"]["worker"]
    assert worker["ok"] is False and worker["last_heartbeat_seconds"] >= 600

    WorkerHeartbeat.objects.create(worker="celery@new", seen_at=timezone.now())
    body = client.get("/readyz").json()
    assert body["checks"]["worker"]["ok"] is True


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_the_heartbeat_task_run_by_a_real_worker_makes_it_ready(celery_worker, client):
    from kakaoplugin.tasks import heartbeat

    heartbeat.delay()
    wait_until(lambda: WorkerHeartbeat.objects.exists(), timeout=20, message="a worker heartbeat")
    body = client.get("/readyz").json()
    assert body["checks"]["worker"]["ok"] is True, body
    assert "@" in WorkerHeartbeat.objects.get().worker  # the hostname of the worker that ran it
