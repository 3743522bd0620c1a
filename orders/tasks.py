"""Celery tasks of the orders app: thin wrappers that take ids (the work is in orders.payments and
orders.subscriptions; the services owe these tasks by their import path, never importing this module)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.utils.dateparse import parse_datetime

from . import payments, subscriptions, webhooks

logger = logging.getLogger(__name__)

MAX_RETRIES = 8  # 1+2+4+...+60 s ≈ 3 min of retries; then the reconciler (every minute) takes over


def _backoff(retries: int) -> float:
    return min(settings.PAYMENT_RETRY_BASE_SECONDS * (2**retries), 60.0)


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES, ignore_result=True)
def approve_order(self, order_id: int) -> str:
    """Approve (or resume approving) one order: claims it, so running it twice is harmless."""
    outcome = payments.payment_approve(order_id=order_id)
    if outcome is payments.Outcome.RETRY:
        _retry(self, order_id)
    return outcome.value


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES, ignore_result=True)
def compensate_order(self, order_id: int) -> str:
    """Cancel at KakaoPay a payment we could not complete."""
    outcome = payments.payment_compensate(order_id=order_id)
    if outcome is payments.Outcome.RETRY:
        _retry(self, order_id)
    return outcome.value


def _retry(task, order_id: int) -> None:
    if task.request.is_eager:
        return  # no broker (embedded default): the reconciler settles it
    if task.request.retries >= task.max_retries:
        logger.warning("order %s: outcome still unknown after %s retries; left to the reconciler", order_id, task.request.retries)
        return
    raise task.retry(countdown=_backoff(task.request.retries))


@shared_task(ignore_result=True)
def emit_order_webhook(order_id: int, event_type: str) -> None:
    """An order event owed by a committed transition (``webhooks.order_webhook_emit_after_commit``;
    run inline by the outbox right after the commit, or by its dispatcher)."""
    webhooks.order_webhook_emit(order_id=order_id, event_type=event_type)


@shared_task(ignore_result=True, outbox_batched=True)
def emit_order_webhooks(items: list[list]) -> None:
    """Order events owed by committed transitions, ``[[order_id, event_type], ...]``
    (``webhooks.order_webhook_emit_soon``): the outbox's dispatcher runs it with every such
    message due, in one batch."""
    by_type: dict[str, list[int]] = {}
    for order_id, event_type in items:
        by_type.setdefault(event_type, []).append(int(order_id))
    for event_type, order_ids in by_type.items():
        webhooks.order_webhooks_emit(order_ids=order_ids, event_type=event_type)


@shared_task(ignore_result=True)
def sweep_expired_orders() -> int:
    return payments.payment_sweep()


@shared_task(ignore_result=True)
def reconcile_payments() -> dict:
    """Re-run approvals and refunds nobody owns any more (a lost task, a killed worker)."""
    found = payments.payment_reconcile_candidates()
    for order_id in found["approve"]:
        approve_order.delay(order_id)
    for order_id in found["compensate"]:
        compensate_order.delay(order_id)
    return {k: len(v) for k, v in found.items()}


# --- subscriptions (정기결제) ----------------------------------------------------------------------


def _moment(now: str | None):
    """Business time passed as ISO 8601 (tests, a manual catch-up run); None: the clock."""
    if not now:
        return None
    return parse_datetime(now)


@shared_task(ignore_result=True)
def charge_subscriptions(now: str | None = None) -> int:
    """Beat: one ``charge_subscription`` per subscription with something due (or to settle)."""
    due = subscriptions.subscriptions_due(now=_moment(now))
    for subscription_id in due:
        charge_subscription.delay(subscription_id, now)
    return len(due)


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES, ignore_result=True)
def charge_subscription(self, subscription_id: int, now: str | None = None) -> str:
    """Charge what is due of one subscription; claims each installment, so running it twice is harmless."""
    outcome = subscriptions.subscription_charge(subscription_id=subscription_id, now=_moment(now))
    if outcome is subscriptions.ChargeOutcome.RETRY:
        _retry(self, subscription_id)
    return outcome.value
