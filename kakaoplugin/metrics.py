"""Prometheus metrics: what operators watch from outside the admin.

Two kinds:
- **events** counted or timed where they happen (plugin requests, KakaoPay calls, payment outcomes,
  callback fetches, webhook deliveries, tasks). Under gunicorn and the Celery worker every process
  writes into ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode), so one scrape
  sees every process of the host; without it (runserver, tests) they live in the process.
- **state** read from the database at scrape time (orders by state, stuck money, webhook backlog,
  task queue depth). Apps register their sources with :func:`register_state_source` in their
  ``AppConfig.ready()``: the shared layer names no app.

``GET /metrics`` needs ``Authorization: Bearer <METRICS_TOKEN>``; with no token set it answers 404
(metrics off). The worker can also serve them on its own port (``METRICS_WORKER_PORT``), meant for
an internal network only. Labels never carry a plugin key, an order id or anything personal: only
endpoint names, operations and outcomes from fixed sets.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client.core import GaugeMetricFamily

from .envelope import fail

logger = logging.getLogger(__name__)

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # metric files are created as metrics are defined
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SLOW = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)

PLUGIN_REQUESTS = Counter(
    "kakaoplugin_plugin_requests_total",
    "Plugin and browser-facing requests by endpoint, HTTP status and envelope status",
    ["endpoint", "http_status", "status"],
)
PLUGIN_LATENCY = Histogram(
    "kakaoplugin_plugin_request_seconds", "Time to answer a plugin request", ["endpoint"], buckets=_FAST
)
KAKAOPAY_CALLS = Counter(
    "kakaoplugin_kakaopay_calls_total",
    "KakaoPay calls by operation and outcome (ok, refused, unknown)",
    ["operation", "outcome"],
)
KAKAOPAY_LATENCY = Histogram(
    "kakaoplugin_kakaopay_call_seconds", "KakaoPay call duration", ["operation"], buckets=_SLOW
)
PAYMENT_OUTCOMES = Counter(
    "kakaoplugin_payment_outcomes_total",
    "Approval outcomes: approved, declined, unknown (settled later by inquiry), compensated, mismatch",
    ["outcome"],
)
APPROVAL_SECONDS = Histogram(
    "kakaoplugin_t3_to_paid_seconds", "From the approval callback (T3) to the order paid (T4 S)", buckets=_SLOW
)
CALLBACK_FETCHES = Counter(
    "kakaoplugin_callback_fetches_total", "OTP / secure-image fetches by kind and outcome", ["kind", "outcome"]
)
WEBHOOK_DELIVERIES = Counter(
    "kakaoplugin_webhook_deliveries_total", "Webhook delivery attempts by outcome", ["outcome"]
)
TASKS = Counter("kakaoplugin_tasks_total", "Celery tasks finished, by task and state", ["task", "state"])

StateSource = Callable[[], Iterable[GaugeMetricFamily]]
STATE_SOURCES: list[StateSource] = []


def register_state_source(source: StateSource) -> None:
    """Add a function yielding gauges read at scrape time (called once per process, in ready())."""
    if source not in STATE_SOURCES:
        STATE_SOURCES.append(source)


class StateCollector:
    """Gauges read from the database (and the broker) when Prometheus scrapes."""

    def collect(self):
        failed = 0
        for source in STATE_SOURCES:
            try:
                yield from source()
            except Exception:  # the database is down: say so instead of failing the scrape
                failed += 1
                logger.warning("metrics state source %s failed", getattr(source, "__name__", source), exc_info=True)
        errors = GaugeMetricFamily("kakaoplugin_state_source_errors", "State sources that failed in this scrape")
        errors.add_metric([], failed)
        yield errors


def gauge(name: str, documentation: str, values: dict[tuple[str, ...], float] | float, labels=()) -> GaugeMetricFamily:
    """A gauge family from ``{label values: value}`` (or one unlabelled value)."""
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    if isinstance(values, dict):
        for key, value in values.items():
            family.add_metric(list(key), value)
    else:
        family.add_metric([], values)
    return family


def exposition() -> bytes:
    """Every metric of this host (multiprocess mode) or process, then the state gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        events = CollectorRegistry()
        multiprocess.MultiProcessCollector(events)
    else:
        events = PROCESS_REGISTRY
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector())
    return generate_latest(events) + generate_latest(state)


def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        return fail(404, "metrics are off (set METRICS_TOKEN)", http_status=404)
    given = request.META.get("HTTP_AUTHORIZATION", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = fail(401, "metrics need Authorization: Bearer <METRICS_TOKEN>", http_status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


# --- requests --------------------------------------------------------------------------------

EndpointOf = Callable[[str], str | None]
_ENDPOINT_RESOLVERS: list[EndpointOf] = []


def register_endpoint_resolver(resolver: EndpointOf) -> None:
    """Name the metric label of a path (``None``: not ours to count)."""
    if resolver not in _ENDPOINT_RESOLVERS:
        _ENDPOINT_RESOLVERS.append(resolver)


def _envelope_status(response: HttpResponse) -> str:
    """The envelope's ``status`` without parsing the body: our envelopes start ``{"status":NNN``."""
    if getattr(response, "streaming", False):
        return ""
    head = response.content[:14]
    if head.startswith(b'{"status":'):
        return head[10:13].decode("ascii", "replace")
    return ""


class RequestMetricsMiddleware:
    """Counts and times every plugin call (the endpoint the gate named) and every request a
    registered resolver names (the gate's refusals before it knew the endpoint, chatbot skills).

    Sits above the plugin gate, so the gate's own answers (404 unknown key, 403, 413, fast paths)
    are counted too. Cost on a hot read: an attribute read, a counter and a histogram update."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        endpoint = getattr(request, "plugin_endpoint", None)
        if endpoint is None:
            for resolve in _ENDPOINT_RESOLVERS:
                if (endpoint := resolve(request.path_info)) is not None:
                    break
            else:
                return response
        latency = _children.get(endpoint)
        if latency is None:
            latency = _children[endpoint] = PLUGIN_LATENCY.labels(endpoint)
        latency.observe(time.perf_counter() - started)
        key = (endpoint, response.status_code, _envelope_status(response))
        counter = _children.get(key)
        if counter is None:
            counter = _children[key] = PLUGIN_REQUESTS.labels(endpoint, str(key[1]), key[2])
        counter.inc()
        return response


# Labelled children by their label values (a dict lookup per request instead of ``labels()``'s lock
# and checks; the label sets are small and fixed: endpoint names, status codes).
_children: dict = {}


# --- tasks -----------------------------------------------------------------------------------


def connect_task_signals() -> None:
    """Count finished tasks (the worker), and serve the worker's metrics on METRICS_WORKER_PORT."""
    from celery.signals import task_postrun, task_retry, worker_ready

    def finished(sender=None, state=None, **kwargs):
        TASKS.labels(getattr(sender, "name", "unknown"), state or "unknown").inc()

    def retried(sender=None, **kwargs):
        TASKS.labels(getattr(sender, "name", "unknown"), "RETRY").inc()

    def serve(**kwargs):
        port = int(os.environ.get("METRICS_WORKER_PORT") or 0)
        if not port:
            return
        from prometheus_client import start_http_server

        registry = CollectorRegistry()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = PROCESS_REGISTRY
        start_http_server(port, addr=os.environ.get("METRICS_WORKER_ADDR", "127.0.0.1"), registry=registry)
        logger.info("worker metrics on port %s", port)

    task_postrun.connect(finished, weak=False)
    task_retry.connect(retried, weak=False)
    worker_ready.connect(serve, weak=False)
