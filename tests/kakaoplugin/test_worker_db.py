"""The worker keeps its database connections between tasks and checks them before a task uses
them (kakaoplugin.worker_db): no new PostgreSQL connection per task, and a connection the database
dropped while the worker was idle is replaced instead of failing the task."""

from __future__ import annotations

import psycopg2
import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection, connections

from config.celery import app
from kakaoplugin import worker_db
from kakaoplugin.tasks import heartbeat

pytestmark = pytest.mark.django_db(transaction=True)


class _WorkerTask:
    """What the task signals receive in a worker (not an eager run in the caller's process)."""

    name = "kakaoplugin.tasks.heartbeat"

    class request:  # noqa: N801
        is_eager = False


def _task_boundaries(fixup: DjangoWorkerFixup) -> None:
    """What a worker runs around a task: Celery's Django fix-up, then our handlers."""
    fixup.on_task_prerun(sender=_WorkerTask)
    worker_db._task_boundary(sender=_WorkerTask)


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminate(pid: int) -> None:
    s = connection.settings_dict
    admin = psycopg2.connect(dbname=s["NAME"], user=s["USER"] or "postgres", host=s["HOST"] or "127.0.0.1",
                             port=s["PORT"] or 5432)  # fmt: skip
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
    admin.close()


@pytest.fixture
def worker_connections():
    if connection.vendor != "postgresql":
        pytest.skip("persistent connections: PostgreSQL (SQLite's are closed after each task by CONN_MAX_AGE 0)")
    before = {alias: connections.settings[alias]["CONN_HEALTH_CHECKS"] for alias in connections}
    worker_db._check_before_use()  # what the worker_init signal does in a worker
    yield DjangoWorkerFixup(app)
    for alias, value in before.items():
        connections.settings[alias]["CONN_HEALTH_CHECKS"] = value
        connections[alias].health_check_enabled = value


def test_a_task_reuses_the_connection_the_previous_task_opened(worker_connections):
    pid = _backend_pid()
    for _ in range(3):
        _task_boundaries(worker_connections)
        heartbeat.run()
        worker_connections.on_task_postrun(sender=_WorkerTask)
        worker_db._task_boundary(sender=_WorkerTask)
        assert _backend_pid() == pid  # Celery's fix-up alone opened a new one every task


def test_a_connection_the_database_dropped_between_tasks_is_replaced(worker_connections):
    pid = _backend_pid()
    _terminate(pid)  # a database restart while the worker is idle
    _task_boundaries(worker_connections)
    heartbeat.run()  # the health check replaced the dead connection: the task runs
    assert _backend_pid() != pid


def test_an_eager_run_leaves_the_callers_connection_alone(worker_connections, settings):
    class Eager(_WorkerTask):
        class request:  # noqa: N801
            is_eager = True

    pid = _backend_pid()
    connection.close_at = 0  # obsolete: a worker's task boundary would close it
    worker_db._task_boundary(sender=Eager)
    assert connection.connection is not None and _backend_pid() == pid
