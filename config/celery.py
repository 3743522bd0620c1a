"""The Celery app (``celery -A config``). Settings come from Django's (CELERY_* names); tasks live in
each app's tasks.py. Its main name stays ``kakaoplugin``, the name it had before the wiring moved
into ``config/`` (docs/architecture.md)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# DjangoTask gives every task delay_on_commit(): tasks are sent after the transaction commits.
app = Celery("kakaoplugin", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _redact_worker_logs(logger=None, **_kwargs):
    """The worker's log lines (task arguments in errors, tracebacks) are redacted like the web's."""
    from kakaoplugin.logging import redact_handlers

    if logger is not None:
        redact_handlers(logger)


from kakaoplugin.log_context import connect_task_context  # noqa: E402  (needs the app configured first)
from kakaoplugin.metrics import connect_task_signals  # noqa: E402
from kakaoplugin.worker_db import connect_worker_connections  # noqa: E402

connect_task_signals()
connect_task_context()
connect_worker_connections()
