"""Payment T4 from a status cache (issue 18; docs/payment-flow.md, "T4 status cache").

Kakao polls T4 every 0.5 s per buyer in checkout. Each order's T4 answer (its app, owner, W/S/F/C
and F's message) is kept in the shared cache (``django.core.cache``: Redis under ``CACHE_URL``,
files in the embedded default), so a warm poll costs one cache read and no database query.

- **Published after commit.** Every write that can change what T4 answers goes through
  :class:`OrderQuerySet.update` (``UPDATE … RETURNING`` names the rows it changed) or
  ``Model.save``/``delete`` (signals, :func:`watch`); after the transaction commits
  (``transaction.on_commit``) the order is read again from the database and that row is
  published. Nothing reads or fills the cache inside a transaction, so no entry ever shows a state
  that is not committed.
- **Versioned.** Each order has a counter beside its entry (``t4v:<partner_order_id>``). A
  publisher bumps it *after* the commit and then reads the row; a poll that misses reads the
  counter, then the row. An entry is written only while the counter still holds the writer's
  version and no entry of that version or newer exists (one atomic step: a Lua script on Redis, a
  lock elsewhere). So entries only move forward in commit order: a late, stale write (a slow
  publisher, a poll that read the row before a commit) can never replace a newer one. A
  publication finds out in the same step whether the order has an entry; when it has none
  (never polled, or expired: a flash sale's refused buyers, whom Kakao does not poll) the bump is
  all it does. Nothing stale is there to replace, a fill that began before the bump carries an
  older version and is refused, and the next poll misses and reads the committed row.
- **Bounded.** An entry lives ``T4_STATUS_CACHE_SECONDS`` (default 5 s) counted from the database
  read it holds. A lost publication (the process died after the commit, the cache was unreachable,
  an entry deleted or corrupted) leaves polls at the previous committed state for at most that
  long after the commit; then a poll misses and reads the database.
- Cache trouble never fails T4: a cache error is logged and the poll reads the database (the cache
  is skipped for ``_BACKOFF_SECONDS`` in that process).
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import orjson
from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.db import connection, connections, models, transaction
from django.db.models import sql
from django.db.models.signals import post_delete, post_save

logger = logging.getLogger(__name__)

# What T4 reads: a write touching none of these cannot change a T4 answer.
WATCHED = frozenset({"status", "failure_message", "app_user_id", "kakao_app", "kakao_app_id", "partner_order_id"})
_COUNTER_SECONDS = 24 * 3600  # the version counter outlives its entry by far
_BACKOFF_SECONDS = 5.0
_ENTRY, _COUNTER = "t4:", "t4v:"


def ttl_seconds() -> float:
    return float(getattr(settings, "T4_STATUS_CACHE_SECONDS", 5.0))


# --- the model layer: every write that may change T4 is published after its commit -------------


class OrderQuerySet(models.QuerySet):
    """``Order.objects``: an ``update()`` of a field T4 reads publishes the rows it changed."""

    def update(self, **kwargs):
        if _stays_waiting(self.model, kwargs):
            return super().update(**kwargs)
        if WATCHED.isdisjoint(kwargs) or connections[self.db].vendor not in ("postgresql", "sqlite"):
            if not WATCHED.isdisjoint(kwargs):  # no UPDATE … RETURNING: name the rows first
                publish_on_commit(list(self.values_list("partner_order_id", flat=True)), using=self.db)
            return super().update(**kwargs)
        changed = self._update_returning(kwargs)
        publish_on_commit(changed, using=self.db)
        return len(changed)

    update.alters_data = True

    def update_returning(self, **kwargs) -> list:
        """:meth:`update` returning the rows it changed as the UPDATE left them (``RETURNING`` every
        column): one statement where an update and a read would be two (the approval's claim).
        Published like :meth:`update`. PostgreSQL and SQLite ≥ 3.35."""
        compiled = self._compiled_update(kwargs)
        if compiled is None:
            return []
        statement, params = compiled
        quote = connections[self.db].ops.quote_name
        columns = ", ".join(quote(f.column) for f in self.model._meta.concrete_fields)
        with transaction.mark_for_rollback_on_error(using=self.db):
            rows = list(self.model._default_manager.raw(f"{statement} RETURNING {columns}", params, using=self.db))
        if not _stays_waiting(self.model, kwargs) and not WATCHED.isdisjoint(kwargs):
            publish_on_commit([row.partner_order_id for row in rows], using=self.db)
        return rows

    update_returning.alters_data = True

    def _update_returning(self, kwargs) -> list[str]:
        """Django's ``QuerySet.update`` with ``RETURNING partner_order_id`` (PostgreSQL, SQLite ≥ 3.35)."""
        compiled = self._compiled_update(kwargs)
        if compiled is None:
            return []
        statement, params = compiled
        db = connections[self.db]
        column = db.ops.quote_name(self.model._meta.get_field("partner_order_id").column)
        with transaction.mark_for_rollback_on_error(using=self.db), db.cursor() as cursor:
            cursor.execute(f"{statement} RETURNING {column}", params)
            return [row[0] for row in cursor.fetchall()]

    def _compiled_update(self, kwargs) -> tuple[str, tuple] | None:
        """The SQL and parameters Django's ``QuerySet.update`` would run (None: nothing to update),
        on the database for writes."""
        self._not_support_combined_queries("update")
        if self.query.is_sliced:
            raise TypeError("Cannot update a query once a slice has been taken.")
        self._for_write = True
        query = self.query.chain(sql.UpdateQuery)
        query.add_update_values(kwargs)
        query.clear_select_clause()
        statement, params = query.get_compiler(self.db).as_sql()
        self._result_cache = None
        return (statement, params) if statement else None


def _stays_waiting(model, kwargs) -> bool:
    """True for a write that only moves orders between waiting states (T2's hold, the approval's
    claim and its release): T4 answers W before and after, since no order ever comes back to a W
    state once it left them (docs/payment-flow.md), so there is nothing to publish, and the
    approval does not wait for a publication before it calls KakaoPay."""
    touched = WATCHED.intersection(kwargs)
    return touched == {"status"} and isinstance(kwargs["status"], str) and model.T4_STATUS.get(kwargs["status"]) == "W"


def _saved(sender, instance, created=False, update_fields=None, **kwargs):
    if created:
        # A new order has no entry to replace: its partner_order_id is random and first told to
        # Kakao in payment T1's answer, after this commit; its first poll misses and reads the
        # row (payment T1 spends no cache round trips on it, a buyer who never polls none at all).
        return
    if update_fields is None or not WATCHED.isdisjoint(update_fields):
        publish_on_commit([instance.partner_order_id], using=kwargs.get("using") or "default")


def _deleted(sender, instance, **kwargs):
    publish_on_commit([instance.partner_order_id], using=kwargs.get("using") or "default")


# the Order model, handed over by watch() (models imports this module for its QuerySet)
_WATCHED: list = []


def watch(model) -> None:
    """Publish ``model``'s saves and deletes (called once, in ``OrdersConfig.ready()``)."""
    _WATCHED[:] = [model]
    post_save.connect(_saved, sender=model, dispatch_uid="orders.status_cache.saved")
    post_delete.connect(_deleted, sender=model, dispatch_uid="orders.status_cache.deleted")


def publish_on_commit(partner_order_ids: list[str], *, using: str = "default") -> None:
    ids = [p for p in dict.fromkeys(partner_order_ids) if _cacheable(p)]
    if ids:
        transaction.on_commit(lambda: publish(ids, using=using), using=using)


def publish(partner_order_ids: list[str], *, using: str = "default") -> None:
    """Bump each order's version; for those with an entry, read the committed row and write it
    (never raises)."""
    store = _store()
    if store is None or connections[using].in_atomic_block:
        return
    try:
        bumped = store.bump(partner_order_ids)
        held = [(p, version) for p, (version, entry) in zip(partner_order_ids, bumped, strict=True) if entry]
        if not held:
            return  # no entry to replace: the next poll reads the committed row
        started = time.monotonic()
        rows = _fetch_many([p for p, _ in held], using=using)
        left_ms = int((ttl_seconds() - (time.monotonic() - started)) * 1000)
        if left_ms > 0:
            store.put([(p, version, rows.get(p), left_ms) for p, version in held])
    except Exception:  # the cache is down: entries run out within the bound
        _trouble("publish")


# --- T4's read ---------------------------------------------------------------------------------


def t4_row(*, kakao_app_id: int, partner_order_id: str) -> tuple[str, str | None, str] | None:
    """(W/S/F/C, owner app user id, message) of the order, from the cache when it holds it."""
    store = _store() if not connection.in_atomic_block and _cacheable(partner_order_id) else None
    version = 0
    if store is not None:
        try:
            entry, version = store.read(partner_order_id)
        except Exception:
            _trouble("read")
            store, entry = None, None
        if entry is not None:
            try:
                app_id, t4, owner, message = orjson.loads(entry)
            except (orjson.JSONDecodeError, ValueError, TypeError):  # a corrupted entry: a miss
                logger.warning("unreadable T4 cache entry: reading the database")
            else:
                return (t4, owner or None, message) if app_id == kakao_app_id else None
    started = time.monotonic()
    payload = _fetch_one(partner_order_id)
    if store is not None and payload is not None:
        left_ms = int((ttl_seconds() - (time.monotonic() - started)) * 1000)
        try:
            if left_ms > 0:
                store.put([(partner_order_id, version, payload, left_ms)])
        except Exception:
            _trouble("fill")
    if payload is None:
        return None
    app_id, t4, owner, message = orjson.loads(payload)
    return (t4, owner or None, message) if app_id == kakao_app_id else None


def _cacheable(partner_order_id) -> bool:
    """Only what can be a partner_order_id is a cache key (printable ASCII, no space, ≤ 100)."""
    return (
        isinstance(partner_order_id, str) and 0 < len(partner_order_id) <= 100 and partner_order_id.isascii()
        and partner_order_id.isprintable() and " " not in partner_order_id
    )  # fmt: skip


def _table() -> str:
    return _WATCHED[0]._meta.db_table


_T4_STATUS: dict[str, str] = {}


def _payload(app_id, status, owner, message) -> bytes:
    if not _T4_STATUS:
        _T4_STATUS.update({str(k): v for k, v in _WATCHED[0].T4_STATUS.items()})
    return orjson.dumps([app_id, _T4_STATUS[status], owner or "", message or ""])


_ONE_SQL: list[str] = []
_ROW = "kakao_app_id, status, app_user_id, failure_message"  # what an entry is made of (_payload)


def _fetch_one(partner_order_id: str) -> bytes | None:
    # Plain SQL: the hottest miss in the system (the ORM's query building costs about as much as
    # the indexed lookup). No per-request health check: the plugin gate replaces a dropped
    # connection (kakaoplugin.dbfaults).
    if not _ONE_SQL:
        _ONE_SQL.append(
            f"SELECT {_ROW} FROM {_table()} WHERE partner_order_id = %s"  # noqa: S608
        )
    with connection.cursor() as cursor:
        cursor.execute(_ONE_SQL[0], [partner_order_id])
        row = cursor.fetchone()
    return None if row is None else _payload(*row)


def _fetch_many(partner_order_ids: list[str], *, using: str) -> dict[str, bytes]:
    # Plain SQL as in _fetch_one: every publication (the approval's, after its commit) runs it.
    marks = ", ".join(["%s"] * len(partner_order_ids))
    sql_text = f"SELECT partner_order_id, {_ROW} FROM {_table()} WHERE partner_order_id IN ({marks})"  # noqa: S608
    with connections[using].cursor() as cursor:
        cursor.execute(sql_text, partner_order_ids)
        return {p: _payload(*row) for p, *row in cursor.fetchall()}


# --- the stores ----------------------------------------------------------------------------------

_down_until = 0.0


def _trouble(what: str) -> None:
    global _down_until
    _down_until = time.monotonic() + _BACKOFF_SECONDS
    logger.warning("T4 status cache: %s failed; using the database for %.0f s", what, _BACKOFF_SECONDS, exc_info=True)


_stores: dict[int, object] = {}


def _store():
    """The store for the configured cache (``None`` while backing off after an error, or when
    ``T4_STATUS_CACHE_SECONDS`` is 0)."""
    if _down_until and time.monotonic() < _down_until or ttl_seconds() <= 0:
        return None
    backend = caches[DEFAULT_CACHE_ALIAS]  # one backend object per thread
    found = _stores.get(id(backend))
    if found is None or found.backend is not backend:
        found = _stores[id(backend)] = _make_store(backend)
    return found


def _make_store(backend):
    from django.core.cache.backends.dummy import DummyCache
    from django.core.cache.backends.filebased import FileBasedCache
    from django.core.cache.backends.redis import RedisCache

    if isinstance(backend, RedisCache):
        from .status_cache_redis import RedisStore

        return RedisStore(backend)
    if isinstance(backend, DummyCache):
        return _NoStore(backend)
    return LockedStore(backend, Path(backend._dir) if isinstance(backend, FileBasedCache) else None)  # noqa: SLF001


class _NoStore:
    def __init__(self, backend):
        self.backend = backend

    def read(self, partner_order_id):
        return None, 0

    def bump(self, partner_order_ids):
        return [(0, False) for _ in partner_order_ids]

    def put(self, items):
        pass


def _version_of(entry) -> int:
    if isinstance(entry, bytes | str):
        head = (entry.decode() if isinstance(entry, bytes) else entry).split(":", 1)[0]
        if head.isdigit():
            return int(head)
    return -1


class LockedStore:
    """Any other Django cache (files in the embedded default, process memory): the same protocol,
    each step under a lock (``fcntl`` on a file beside the cache's files, shared by every process of
    the host; a thread lock for an in-process cache)."""

    _thread_lock = threading.Lock()

    def __init__(self, backend, directory: Path | None):
        self.backend = backend
        self.lock_path = directory / "t4-status.lock" if directory is not None else None

    @contextmanager
    def _locked(self):
        with self._thread_lock:
            if self.lock_path is None:
                yield
                return
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.lock_path, "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def read(self, partner_order_id):
        got = self.backend.get_many([_ENTRY + partner_order_id, _COUNTER + partner_order_id])
        entry = got.get(_ENTRY + partner_order_id)
        version = _version_of(entry)
        counter = got.get(_COUNTER + partner_order_id) or 0
        if version < 0:
            return None, counter
        return entry.split(":", 1)[1].encode(), counter

    def bump(self, partner_order_ids):
        bumped = []
        with self._locked():
            for p in partner_order_ids:
                entry = _version_of(self.backend.get(_ENTRY + p))
                n = max((self.backend.get(_COUNTER + p) or 0) + 1, entry + 1)
                self.backend.set(_COUNTER + p, n, _COUNTER_SECONDS)
                bumped.append((n, entry >= 0))
        return bumped

    def put(self, items):
        with self._locked():
            for p, version, payload, left_ms in items:
                if (self.backend.get(_COUNTER + p) or 0) != version:
                    continue  # bumped since: a newer read is on its way
                if _version_of(self.backend.get(_ENTRY + p)) >= version:
                    continue
                if payload is None:
                    self.backend.delete(_ENTRY + p)
                else:
                    self.backend.set(_ENTRY + p, f"{version}:{payload.decode()}", left_ms / 1000)
