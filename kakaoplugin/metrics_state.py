"""The shared layer's state gauges, read at scrape time: webhook backlog and task queue depth."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone

from .health import heartbeat_age
from .metrics import gauge
from .models import WebhookDelivery


def webhook_state():
    now = timezone.now()
    pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).aggregate(
        n=Count("pk"), oldest=Min("created_at")
    )
    yield gauge("kakaoplugin_webhook_backlog", "Webhook deliveries not yet delivered (retrying)", pending["n"])
    oldest = (now - pending["oldest"]).total_seconds() if pending["oldest"] else 0
    yield gauge("kakaoplugin_webhook_oldest_pending_seconds", "Age of the oldest undelivered webhook", oldest)
    failed = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.FAILED, created_at__gte=now - timedelta(hours=24)
    ).count()
    yield gauge("kakaoplugin_webhook_failed_24h", "Webhook deliveries given up in the last 24 hours", failed)


def queue_state():
    """Messages waiting in the task queue, as the broker counts them (the embedded broker: files)."""
    queue = getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")
    depth = {}
    if settings.EMBEDDED_BROKER:
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in", ""))
        depth[(queue,)] = sum(1 for _ in folder.glob(f"*.{queue}.msg")) if folder.is_dir() else 0
    else:
        from kombu import Connection
        from kombu.exceptions import ChannelError

        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            try:
                _, depth[(queue,)], _ = conn.default_channel.queue_declare(queue=queue, passive=True)
            except ChannelError:  # the queue does not exist yet: nothing was ever queued
                depth[(queue,)] = 0
    yield gauge("kakaoplugin_task_queue_depth", "Tasks waiting in the broker", depth, labels=("queue",))


def worker_state():
    """Seconds since a worker last ran the heartbeat task (-1: never)."""
    last = heartbeat_age()
    age = -1 if last is None else last
    yield gauge("kakaoplugin_worker_heartbeat_age_seconds", "Seconds since a worker ran the heartbeat task", age)
