"""Liveness and readiness for the load balancer, compose and operators.

``/healthz``: the process answers. ``/readyz``: every dependency checked separately, as JSON:

- ``database`` — without it nothing can be served: **503**;
- ``cache``, ``broker``, ``worker`` — reported (``"status": "degraded"``, HTTP 200) but not a reason
  to take the web out of the load balancer: the hot reads fall back to the database, work that must
  follow a commit waits in the outbox until the broker is back, and Kakao is still told the truth.
  ``worker`` is the age of the last heartbeat task (beat → broker → worker → database), so a dead
  worker or beat is visible here and in ``kakaoplugin_worker_heartbeat_age_seconds``.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .envelope import json_response
from .models import WorkerHeartbeat

Check = dict[str, object]


class OperatorEndpointsMiddleware:
    """Answers ``/healthz``, ``/readyz`` and ``/metrics`` before any Host or https check.

    Container healthchecks and Prometheus reach the web process by its internal name (``web:8000``,
    ``127.0.0.1``), which production's ``ALLOWED_HOSTS`` rightly refuses, over plain http, which
    ``SECURE_SSL_REDIRECT`` would redirect. These three build no URL from the Host header, so they
    need neither check; ``/metrics`` has its own bearer token. The URL patterns stay for reverse().
    """

    def __init__(self, get_response):
        from .metrics import metrics_view

        self.get_response = get_response
        self.views = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics_view}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = self.views.get(request.path_info)
        if view is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        return view(request)


def healthz(request: HttpRequest) -> HttpResponse:
    return json_response({"status": "ok"})


def _failed(exc: Exception) -> Check:
    return {"ok": False, "error": exc.__class__.__name__}


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return _failed(exc)
    return {"ok": True, "vendor": connection.vendor}


def check_cache() -> Check:
    try:
        cache.set("readyz:probe", 1, 10)
        if cache.get("readyz:probe") != 1:
            return {"ok": False, "error": "cache lost a value it was just given"}
    except Exception as exc:
        return _failed(exc)
    return {"ok": True}


def check_broker() -> Check:
    name = settings.CELERY_BROKER_URL.split(":", 1)[0]
    if name == "filesystem":  # the embedded default: a folder
        queue = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in", "")
        writable = os.access(queue, os.W_OK)
        return {"ok": writable, "broker": name} | ({} if writable else {"error": "queue folder not writable"})
    try:
        from kombu import Connection

        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return _failed(exc)
    return {"ok": True, "broker": name}


def heartbeat_age() -> float | None:
    """Seconds since any worker last ran the heartbeat task (``None``: never)."""
    last = WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
    return None if last is None else (timezone.now() - last).total_seconds()


def check_worker() -> Check:
    try:
        age = heartbeat_age()
    except Exception as exc:
        return _failed(exc)
    stale = settings.HEARTBEAT_STALE_SECONDS
    if age is None:
        return {"ok": False, "error": "no heartbeat yet (worker or beat not started)"}
    return {"ok": age <= stale, "last_heartbeat_seconds": round(age, 1), "stale_after_seconds": stale}


def readyz(request: HttpRequest) -> HttpResponse:
    checks = {
        "database": check_database(),
        "cache": check_cache(),
        "broker": check_broker(),
    }
    checks["worker"] = check_worker() if checks["database"]["ok"] else {"ok": False, "error": "database"}
    if not checks["database"]["ok"]:
        status, http_status = "unavailable", 503
    elif all(c["ok"] for c in checks.values()):
        status, http_status = "ok", 200
    else:
        status, http_status = "degraded", 200
    problems = [f"{name}: {c.get('error')}" for name, c in checks.items() if not c["ok"]]
    return json_response({"status": status, "checks": checks, "problems": problems}, http_status=http_status)
