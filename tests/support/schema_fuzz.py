"""Helpers of the schema-fuzzing tests (not a test module): schemathesis against the WSGI app."""

from __future__ import annotations

from contextlib import contextmanager


def fuzz(operation, checks, app, *, headers: dict | None = None, max_examples: int = 15) -> None:
    """Call ``operation`` with bounded generated cases; raise on the first failed check."""
    from hypothesis import HealthCheck, Phase, given, settings

    @given(case=operation.as_strategy())
    @settings(max_examples=max_examples, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(case):
        response = case.call(app=app, headers=headers)
        case.validate_response(response, checks=checks)

    run()


@contextmanager
def keep_test_connection():
    """Like Django's test client: a request through the WSGI handler must not close the test's
    database connection (its transaction holds the fixtures)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
