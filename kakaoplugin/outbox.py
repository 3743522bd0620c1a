"""The transactional outbox: work that must follow a commit is recorded in the same transaction and
dispatched once the transaction committed.

Why: a broker or a cache that is down just after the commit must neither turn a call that took
effect into an error answer (Kakao told 500 for a T2 that holds stock, for a T3 whose pg_token is
stored) nor lose the work (an approval nobody starts, a T1 tree cached with yesterday's stock).

- :func:`outbox_add` inserts an :class:`~kakaoplugin.models.OutboxMessage` (a Celery task by its
  import path, JSON arguments) in the caller's transaction and dispatches it after the commit:
  sent to the broker (``inline=True``: run by this process, for a cache renewal), then deleted.
  A failure is logged and counted on the row, never raised to the caller.
- :func:`outbox_dispatch_due` (``kakaoplugin.tasks.dispatch_outbox``, on the beat schedule every
  ``OUTBOX_DISPATCH_EVERY_SECONDS``) dispatches what is still there when due: a message whose
  dispatch failed, or whose process died between the commit and the dispatch.
- After a failed dispatch a process does not try the same kind again in-request for
  ``OUTBOX_PAUSE_SECONDS`` (a request does not wait on a dead broker; the dispatcher catches up).

At least once: the tasks dispatched this way are idempotent (an approval claims its order, a cache
renewal only renews).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import OutboxMessage

logger = logging.getLogger(__name__)

# Publishing after a commit: one reconnect, no long retry loop (the row is the retry).
RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}

_paused_until: dict[bool, float] = {}  # inline → monotonic time until which requests leave it be
_pause_lock = threading.Lock()


def outbox_add(*, task: Any, args: Sequence[Any] = (), inline: bool = False) -> OutboxMessage:
    """Owe ``task(*args)`` once the current transaction commits (call it inside that transaction).

    ``task`` is a Celery task (or its import path); ``args`` must be JSON (ids, not objects).
    """
    name = task if isinstance(task, str) else task.name
    message = OutboxMessage.objects.create(
        task=name, args=list(args), inline=inline,
        next_attempt_at=timezone.now() + timedelta(seconds=settings.OUTBOX_GRACE_SECONDS),
    )  # fmt: skip
    transaction.on_commit(partial(_dispatch_committed, message), robust=True)
    return message


def send_after_commit(*, task: Any, args: Sequence[Any] = ()) -> None:
    """Send ``task(*args)`` after the commit, best effort, with no row: for work whose own rows are
    swept again anyway (a webhook delivery).  A broker that is down is logged, never raised."""
    name = task if isinstance(task, str) else task.name
    transaction.on_commit(partial(_dispatch_committed, OutboxMessage(task=name, args=list(args))), robust=True)


def _dispatch_committed(message: OutboxMessage) -> None:
    if _paused_until.get(message.inline, 0.0) > time.monotonic():
        return  # failed a moment ago: the dispatcher sends it when due
    if _dispatch(message) and message.pk is not None:
        _delete(message.pk)


def _delete(pk: int) -> None:
    """One ``DELETE`` (the ORM's ``delete()`` wraps it in a transaction of its own, three round
    trips, for cascades and signals a message has none of): after every dispatch, on the paths
    T3 → S and payment T2 take."""
    table = connection.ops.quote_name(OutboxMessage._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [pk])  # noqa: S608


def _dispatch(message: OutboxMessage) -> bool:
    """Send (or run) one message; on failure log it, note it on the row and return False."""
    try:
        task = import_string(message.task)
        if message.inline:
            with transaction.atomic():  # a savepoint inside the dispatcher's transaction
                task(*message.args)
        else:
            task.apply_async(args=message.args, retry=True, retry_policy=RETRY_POLICY)
    except Exception as exc:
        with _pause_lock:
            _paused_until[message.inline] = time.monotonic() + settings.OUTBOX_PAUSE_SECONDS
        error = f"{exc.__class__.__name__}: {exc}"[:300]
        logger.warning("outbox: %s not dispatched (%s); it is retried", message, error)
        if message.pk is None:
            return False
        attempts = message.attempts + 1
        backoff = min(settings.OUTBOX_GRACE_SECONDS * 2 ** (attempts - 1), 60)
        try:
            OutboxMessage.objects.filter(pk=message.pk).update(
                attempts=F("attempts") + 1, last_error=error,
                next_attempt_at=timezone.now() + timedelta(seconds=backoff),
            )  # fmt: skip
        except Exception:  # the database is gone as well: the row stays due as it was
            logger.warning("outbox: could not note the failure of %s", message)
        return False
    return True


def outbox_dispatch_due(*, limit: int = 200) -> dict[str, int]:
    """Dispatch the messages that are due (the beat's dispatcher); ``{"sent": n, "failed": n}``.

    Rows are locked while they are dispatched (SKIP LOCKED): two dispatchers never send one twice.
    """
    sent = failed = 0
    with transaction.atomic():
        due = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(next_attempt_at__lte=timezone.now())
            .order_by("next_attempt_at")[:limit]
        )
        done = []
        for message in due:
            if _dispatch(message):
                done.append(message.pk)
                sent += 1
            else:
                failed += 1
        OutboxMessage.objects.filter(pk__in=done).delete()
    if due:
        logger.info("outbox: dispatched %s, %s failed", sent, failed)
    return {"sent": sent, "failed": failed}
