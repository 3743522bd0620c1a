"""The beat scheduler: django-celery-beat's (schedules in the database, editable and pausable in the
admin), run by one beat at a time.

The periodic tasks are declared in ``settings.CELERY_BEAT_SCHEDULE`` (a plain dict the apps add to);
each beat start writes them into the database (``PeriodicTask`` rows: task, schedule, arguments),
keeping what staff set in the admin's "enabled" box, so a paused task stays paused.  Tasks added in
the admin run beside them.

Two beats would send every periodic task twice, so a beat first takes a lock that lives as long as
its process: PostgreSQL's session advisory lock (on a connection of its own), or on SQLite an
exclusive ``flock`` on a file beside the database.  A second beat (a restarted worker container, a
second ``bin/run``) waits for the lock and takes over when the first one dies: the lock goes with
the process, even on ``kill -9``.
"""

from __future__ import annotations

import fcntl
import logging
import signal
import threading
import time
from pathlib import Path

from django.db import connections
from django_celery_beat.schedulers import DatabaseScheduler

logger = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x6B70_6265  # "kpbe": one beat per database
WAIT_SECONDS = 5.0


def _exit(signum, frame):
    raise SystemExit(0)


class BeatLock:
    """Held by the running beat; ``acquire`` waits while another process holds it."""

    def __init__(self, alias: str = "default"):
        self.connection = connections[alias]
        self._pg = None
        self._file = None

    def _try(self) -> bool:
        if self.connection.vendor == "postgresql":
            import psycopg2

            if self._pg is None or self._pg.closed:
                self._pg = psycopg2.connect(**self.connection.get_connection_params())
                self._pg.autocommit = True
            with self._pg.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
                return bool(cursor.fetchone()[0])
        path = Path(str(self.connection.settings_dict["NAME"]) + ".beat.lock")
        if self._file is None:
            self._file = open(path, "a+")  # noqa: SIM115 - held open as long as the lock
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def acquire(self) -> None:
        # Stopping a beat that waits must just exit: celery's own SIGTERM handler would sync the
        # schedule, that is build the scheduler again, and wait for this same lock for ever.
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                handlers[signum] = signal.signal(signum, _exit)
        try:
            self._wait()
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)

    def _wait(self) -> None:
        waited = False
        while True:
            try:
                if self._try():
                    if waited:
                        logger.warning("beat: the schedule lock is free again; this beat runs the schedule now")
                    return
            except Exception as exc:  # the database is not reachable (yet): try again
                logger.warning("beat: cannot take the schedule lock (%s); trying again", exc.__class__.__name__)
                self._close_pg()
            if not waited:
                logger.warning("beat: another beat holds the schedule lock; waiting (standby)")
                waited = True
            time.sleep(WAIT_SECONDS)

    def held(self) -> bool:
        """False when the lock was lost with its connection (PostgreSQL restarted)."""
        if self._pg is None:
            return True
        try:
            with self._pg.cursor() as cursor:
                cursor.execute("SELECT 1")
            return True
        except Exception:
            self._close_pg()
            return False

    def _close_pg(self) -> None:
        if self._pg is not None:
            try:
                self._pg.close()
            except Exception:
                pass
            self._pg = None

    def release(self) -> None:
        self._close_pg()
        if self._file is not None:
            self._file.close()
            self._file = None


class SingleBeatScheduler(DatabaseScheduler):
    """django-celery-beat's scheduler, run only while this process holds the beat lock."""

    beat_lock: BeatLock | None = None

    def setup_schedule(self):
        # here, not in __init__: `celery beat` also builds a lazy instance just to print its banner
        if self.beat_lock is None:
            self.beat_lock = BeatLock()
            self.beat_lock.acquire()
        super().setup_schedule()

    def tick(self, *args, **kwargs):
        if self.beat_lock is not None and not self.beat_lock.held():
            # PostgreSQL restarted and took the lock with it: take it again (or wait for the beat
            # that took it meanwhile) before sending anything.
            logger.warning("beat: lost the schedule lock with its database connection; taking it again")
            self.beat_lock.acquire()
        return super().tick(*args, **kwargs)

    def close(self):
        try:
            super().close()
        finally:
            if self.beat_lock is not None:
                self.beat_lock.release()
