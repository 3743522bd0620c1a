"""Subscription payments (정기결제), by flow:

- :mod:`.signup`: payment T1 of a plan's product, the pending subscription, its activation when the
  approve engine marks the sign-up order paid;
- :mod:`.due` and :mod:`.charging`: what is due, claiming an installment, charging it exactly once,
  settling an unknown outcome;
- :mod:`.staff`: cancel, status, resume (the admin);
- :mod:`.state`: the schedule (Asia/Seoul), stopping a subscription, its events.

Imports run one way: ``state`` ← ``signup`` ← ``orders.payments.approve``; ``state`` ← ``due`` ←
``charging`` → ``orders.payments`` (plumbing, compensation).  This package's names for callers:
"""

from ..errors import SubscriptionError
from .charging import subscription_charge
from .due import subscriptions_due
from .signup import automatic_payment, subscription_activate, subscription_plan_for
from .staff import subscription_cancel, subscription_check_status, subscription_resume
from .state import ChargeOutcome, schedule, store_zone

__all__ = [
    "ChargeOutcome", "SubscriptionError", "automatic_payment", "schedule", "store_zone", "subscription_activate",
    "subscription_cancel", "subscription_charge", "subscription_check_status", "subscription_plan_for",
    "subscription_resume", "subscriptions_due",
]
