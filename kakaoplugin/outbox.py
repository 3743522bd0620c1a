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
- ``deferred=True``: no dispatch after the commit; the dispatcher runs the message inline at a
  later round (normally its next one: seconds; longer under a backlog, after a failure, or while
  beat is down).  For work that may wait and costs less in bulk (the ``order.failed`` webhooks of
  a sale's thousands of refused buyers): when the task is declared with ``outbox_batched=True``
  (``@shared_task(outbox_batched=True)``), the dispatcher calls it once with the arguments of up to
  ``batch_size`` due messages of it, ``task([args, args, ...])``, in the transaction that deletes
  them (one per batch: short, also on SQLite's single writer).  If that call fails, each message
  is run alone, and a message that failed before is never batched again, so one bad message
  cannot hold back the others.  The dispatcher sends the other messages first, in a pass of their
  own: an approval never waits behind a sale's webhooks.
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


def outbox_add(*, task: Any, args: Sequence[Any] = (), inline: bool = False, deferred: bool = False) -> OutboxMessage:
    """Owe ``task(*args)`` once the current transaction commits (call it inside that transaction).

    ``task`` is a Celery task (or its import path); ``args`` must be JSON (ids, not objects).
    ``deferred``: run inline by the dispatcher's next round (within ``OUTBOX_DISPATCH_EVERY_SECONDS``),
    in one batch with the others due when the task is ``outbox_batched``; nothing after the commit.
    """
    name = task if isinstance(task, str) else task.name
    if not deferred and _batched(name):
        raise ValueError(f"{name} takes many messages' arguments at once: owe it deferred")
    now = timezone.now()
    due = now if deferred else now + timedelta(seconds=settings.OUTBOX_GRACE_SECONDS)
    message = OutboxMessage.objects.create(
        task=name, args=list(args), inline=inline or deferred, deferred=deferred, next_attempt_at=due
    )
    if not deferred:
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


def _batched(name: str) -> bool:
    """Whether the task named ``name`` takes the arguments of many messages at once."""
    try:
        return bool(getattr(import_string(name), "outbox_batched", False))
    except ImportError:
        return False  # dispatched alone: its failure is noted on its row


def _dispatch(message: OutboxMessage) -> bool:
    """Send (or run) one message; on failure log it, note it on the row and return False."""
    try:
        task = import_string(message.task)
        if message.inline:
            _run_inline(task, [message])
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


def _run_inline(task: Any, messages: list[OutboxMessage]) -> None:
    """Run ``task`` in this process, in a savepoint inside the dispatcher's transaction: once with
    every message's arguments when it is batched, else for its one message."""
    with transaction.atomic():
        if getattr(task, "outbox_batched", False):
            task([m.args for m in messages])
        else:
            (message,) = messages
            task(*message.args)


def _dispatch_batch(messages: list[OutboxMessage]) -> list[int]:
    """Run a batched task once for ``messages``; when that fails, each message alone.  The pks
    dispatched."""
    try:
        _run_inline(import_string(messages[0].task), messages)
    except Exception as exc:
        logger.warning("outbox: a batch of %s %s failed (%s); each is run alone", len(messages), messages[0].task,
                       f"{exc.__class__.__name__}: {exc}"[:300])  # fmt: skip
        return [m.pk for m in messages if _dispatch(m)]
    return [m.pk for m in messages]


def outbox_dispatch_due(*, limit: int = 200, deferred_limit: int = 1000, batch_size: int = 200) -> dict[str, int]:
    """Dispatch the messages that are due (the beat's dispatcher); ``{"sent": n, "failed": n}``.

    Rows are locked while they are dispatched (SKIP LOCKED): two dispatchers never send one twice.
    First up to ``limit`` messages owed after a commit (approvals, cache renewals: one transaction),
    then up to ``deferred_limit`` deferred ones, ``batch_size`` per transaction; a batched task's
    are run together, except those that failed before (alone).
    """
    with transaction.atomic():
        due = list(_due(deferred=False)[:limit])
        done = [message.pk for message in due if _dispatch(message)]
        OutboxMessage.objects.filter(pk__in=done).delete()
    sent, failed = len(done), len(due) - len(done)
    left = deferred_limit
    while left > 0:
        with transaction.atomic():
            due = list(_due(deferred=True)[: min(batch_size, left)])
            if not due:
                break
            left -= len(due)
            done = []
            batches: dict[str, list[OutboxMessage]] = {}
            for message in due:
                if not message.attempts and _batched(message.task):
                    batches.setdefault(message.task, []).append(message)
                elif _dispatch(message):
                    done.append(message.pk)
            for group in batches.values():
                done.extend(_dispatch_batch(group))
            OutboxMessage.objects.filter(pk__in=done).delete()
        sent, failed = sent + len(done), failed + len(due) - len(done)
        if len(due) < batch_size:
            break
    if sent or failed:
        logger.info("outbox: dispatched %s, %s failed", sent, failed)
    return {"sent": sent, "failed": failed}


def _due(*, deferred: bool):
    return (
        OutboxMessage.objects.select_for_update(skip_locked=True)
        .filter(deferred=deferred, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at", "pk")
    )
