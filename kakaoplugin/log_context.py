"""Structured logs: every line carries what ties it to a chat session, in the web and the worker.

- :class:`LogContextMiddleware` gives each request a ``request_id`` (answered as ``X-Request-ID``)
  and binds the plugin context it can read without parsing a body: the relay id
  (``X-Kakao-Plugin-Relay-Id`` or ``relay_id``) and a partner order id in the query. The gate binds
  the Kakao app; services bind what they learn (``bind(partner_order_id=..., callback_event_id=...)``).
- Tasks sent while a context is bound carry it in their headers; the worker binds it again before
  the task runs, so a T2's ``request_id`` and relay id are on the approval's lines too.
- :class:`StructuredFormatter` renders every stdlib record with that context: JSON in production
  (``LOG_JSON``, default on when ``DEBUG`` is off), ``key=value`` for people in development.

Only these fields are bound, never a request body, header or secret: the redaction filter of
:mod:`kakaoplugin.logging` still runs on every message.
"""

from __future__ import annotations

import logging
import os
import re
import time

import structlog
from structlog.contextvars import bind_contextvars, clear_contextvars, get_contextvars, merge_contextvars

from .logging import redact
from .plugin_paths import HOT_READS

FIELDS = ("request_id", "kakao_app", "relay_id", "partner_order_id", "callback_event_id")
_SAFE = re.compile(r"[^A-Za-z0-9._:@\-]")
_MAX = 100

logger = logging.getLogger("kakaoplugin.requests")


def _clean(value) -> str:
    """Context values come from callers: printable id characters only, bounded (no log injection)."""
    return _SAFE.sub("", str(value))[:_MAX]


def bind(**fields) -> None:
    """Bind context fields for the rest of this request or task (empty values are skipped)."""
    bind_contextvars(**{k: _clean(v) for k, v in fields.items() if v not in (None, "")})


def current() -> dict:
    return {k: v for k, v in get_contextvars().items() if k in FIELDS}


class LogContextMiddleware:
    """Outermost middleware: a request id per request, the plugin context, one line per request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        clear_contextvars()
        # 32 random hex digits, as uuid4().hex but without building a UUID (a sixth of the cost)
        request_id = _clean(request.META.get("HTTP_X_REQUEST_ID", "")) or os.urandom(16).hex()
        query = request.GET
        bind(
            request_id=request_id,
            relay_id=request.META.get("HTTP_X_KAKAO_PLUGIN_RELAY_ID") or query.get("relay_id"),
            partner_order_id=query.get("partner_order_id") or query.get("order_id"),
        )
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            self._log(request, response, started)
            return response
        finally:
            clear_contextvars()

    @staticmethod
    def _log(request, response, started: float) -> None:
        """One line per plugin call the gate took (by endpoint name: the path holds the key) but
        the hot reads."""
        endpoint = getattr(request, "plugin_endpoint", None)
        if endpoint is None or endpoint in HOT_READS:
            return
        app = getattr(request, "kakao_app", None)
        if app is not None:
            bind(kakao_app=app.pk)
        logger.info(
            "plugin %s %s answered %s in %d ms", request.method, endpoint, response.status_code,
            (time.monotonic() - started) * 1000,
        )  # fmt: skip


def connect_task_context() -> None:
    """Carry the bound context from the sender to the task (Celery message headers)."""
    from celery.signals import before_task_publish, task_postrun, task_prerun

    def publish(headers=None, **kwargs):
        if headers is not None:
            context = current()
            if context:
                headers["log_context"] = context

    def prerun(task_id=None, task=None, **kwargs):
        clear_contextvars()
        context = getattr(task.request, "log_context", None) or {}
        if isinstance(context, dict):
            bind(**{k: v for k, v in context.items() if k in FIELDS})
        bind_contextvars(task=task.name, task_id=task_id)

    def postrun(**kwargs):
        clear_contextvars()

    before_task_publish.connect(publish, weak=False)
    task_prerun.connect(prerun, weak=False)
    task_postrun.connect(postrun, weak=False)


class StructuredFormatter(structlog.stdlib.ProcessorFormatter):
    """Any stdlib record, with the bound context: JSON lines, or ``key=value`` for a terminal; the
    whole line (message, context, traceback) through :func:`kakaoplugin.logging.redact`."""

    def format(self, record):
        return redact(super().format(record))

    def __init__(self, json: bool = True, **kwargs):
        renderer = (
            structlog.processors.JSONRenderer(ensure_ascii=False)
            if json
            else structlog.dev.ConsoleRenderer(colors=False)
        )
        super().__init__(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[
                merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.format_exc_info,
            ],
            **kwargs,
        )
