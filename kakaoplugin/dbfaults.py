"""Database faults on plugin paths: what the gate (kakaoplugin.gate) does about them.

- A persistent connection (``CONN_MAX_AGE``) the database dropped (a restart, a failover, a killed
  backend) is only noticed when a request uses it: that request's first statement fails.  Nothing
  was done then, so the gate closes the connection and runs the request once more: no per-request
  health check (``CONN_HEALTH_CHECKS``, one more round trip on every T4) is needed.
  :class:`StatementCount` tells "the first statement failed" from "something went through".
- A database that cannot be reached is answered with a 503 envelope and ``Retry-After``
  (:func:`unavailable`): the transaction did not commit, so Kakao may simply call again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse

from . import envelope

DB_FAULTS = (InterfaceError, OperationalError)

MSG_UNAVAILABLE = "일시적으로 처리할 수 없습니다. 잠시 후 다시 시도해 주세요. (temporarily unavailable: retry)"


class StatementCount:
    """An execute wrapper (``connection.execute_wrapper``) counting the statements that succeeded."""

    __slots__ = ("succeeded",)

    def __init__(self) -> None:
        self.succeeded = 0

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        self.succeeded += 1
        return result


def unavailable() -> HttpResponse:
    """503 envelope with Retry-After: nothing was done, call again shortly."""
    response = envelope.fail(503, MSG_UNAVAILABLE, http_status=503)
    response["Retry-After"] = str(settings.PLUGIN_RETRY_AFTER_SECONDS)
    return response
