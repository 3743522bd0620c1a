"""Celery tasks of the Kakao layer (thin wrappers taking ids)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> None:
    delivery = services.webhook_deliver(delivery_id=delivery_id)
    if delivery is not None and delivery.status == delivery.Status.PENDING and delivery.next_attempt_at:
        deliver_webhook.apply_async((delivery_id,), eta=delivery.next_attempt_at)


@shared_task(ignore_result=True)
def deliver_webhooks(delivery_ids: list[int]) -> None:
    """A burst of deliveries (one stock write crossing many thresholds): one message from the
    request, one per delivery from here."""
    for delivery_id in delivery_ids:
        deliver_webhook.delay(delivery_id)


@shared_task(ignore_result=True)
def sweep_webhooks() -> int:
    """Re-send deliveries whose retry is due (a retry message lost with a worker is not lost)."""
    ids = services.webhook_due_delivery_ids()
    for delivery_id in ids:
        deliver_webhook.delay(delivery_id)
    return len(ids)


@shared_task(ignore_result=True)
def purge_inbound_calls() -> int:
    """Empty stored plugin-call bodies past their retention (they may hold personal data)."""
    from django.conf import settings

    return services.inbound_calls_purge(older_than_days=settings.INBOUND_CALL_RETENTION_DAYS)


@shared_task(bind=True, ignore_result=True)
def heartbeat(self) -> None:
    """Run by beat every HEARTBEAT_SECONDS: the worker that runs it records that it is alive."""
    services.worker_heartbeat(worker=self.request.hostname or "in-process")


@shared_task(ignore_result=True)
def dispatch_outbox() -> dict:
    """Beat (every OUTBOX_DISPATCH_EVERY_SECONDS): send the outbox messages still owed."""
    from .outbox import outbox_dispatch_due

    return outbox_dispatch_due()
