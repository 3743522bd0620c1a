"""Liveness and readiness for the load balancer and docker compose."""

from __future__ import annotations

import os

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse

from .envelope import json_response


def healthz(request: HttpRequest) -> HttpResponse:
    return json_response({"status": "ok"})


def _database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"database: {exc.__class__.__name__}"
    return None


def _broker_name() -> str:
    return settings.CELERY_BROKER_URL.split(":", 1)[0]


def _broker() -> str | None:
    if _broker_name() == "filesystem":  # the embedded default: a folder
        queue = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in", "")
        return None if os.access(queue, os.W_OK) else "broker: queue folder not writable"
    try:
        from kombu import Connection

        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"broker: {exc.__class__.__name__}"
    return None


def readyz(request: HttpRequest) -> HttpResponse:
    problems = [p for p in (_database(), _broker()) if p]
    if problems:
        return json_response({"status": "unavailable", "problems": problems}, http_status=503)
    return json_response(
        {"status": "ok", "broker": _broker_name()}
    )
