"""The worker's database connections: kept between tasks, checked before each task uses them.

Celery's Django fix-up closes every database connection before and after every task unless
``CELERY_DB_REUSE_MAX`` is set, so each task paid for a new PostgreSQL connection (a backend
started, authentication, the session's time zone): about 4 ms on the approval's path (T3 → S),
more than any of its statements.  Instead (the settings set ``CELERY_DB_REUSE_MAX`` so that the
fix-up leaves them alone), the worker treats a task like Django treats a request:

- before and after each task, :func:`django.db.close_old_connections` closes the task thread's
  connections that had an error and no longer answer, or that are older than ``CONN_MAX_AGE``;
- the worker's connections run Django's health check (``CONN_HEALTH_CHECKS``) before a task's
  first query: a connection the database dropped while the worker was idle (a restart, a
  failover) is replaced instead of failing the task.  One ``SELECT 1`` per task, where a new
  connection cost a dozen round trips.  (The web process does not pay it on every T4 poll: its
  plugin gate reconnects and answers once more, kakaoplugin.dbfaults.)
"""

from __future__ import annotations

from django.db import close_old_connections, connections


def _check_before_use() -> None:
    for alias in connections:
        connections.settings[alias]["CONN_HEALTH_CHECKS"] = True
        if connections[alias].connection is not None:  # a connection opened before the worker started
            connections[alias].health_check_enabled = True


def _task_boundary(sender=None, **_kwargs) -> None:
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return  # run in the caller's process (and maybe inside its transaction): not a worker's task
    close_old_connections()  # this thread's: each task runs in one thread of the pool


def connect_worker_connections() -> None:
    """Wire the above to the worker's signals (config/celery.py)."""
    from celery.signals import task_postrun, task_prerun, worker_init

    worker_init.connect(lambda **_kwargs: _check_before_use(), weak=False)
    task_prerun.connect(_task_boundary, weak=False)
    task_postrun.connect(_task_boundary, weak=False)
