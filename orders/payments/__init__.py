"""The money path of a single payment, by flow (docs/payment-flow.md):

- :mod:`.payment_t1`, :mod:`.payment_t2`, :mod:`.payment_t3`: the payment plugin's steps (T4 is
  ``orders.apis.order_status`` over ``orders.selectors``);
- :mod:`.approve`: approve exactly once, settle an unknown outcome, complete;
- :mod:`.compensate`: cancel at KakaoPay what we could not complete;
- :mod:`.refund`: staff refunds and "check with KakaoPay";
- :mod:`.sweep`: the sweeper and the reconciler's candidates;

on top of

- :mod:`.transitions`: every change of ``Order.status``;
- :mod:`.calls`: KakaoPay call plumbing shared with the subscription charge (``orders.subscriptions``);
- :mod:`.answers`: KakaoPay's answers checked against the order;
- :mod:`.ledger`: the payment events and the failure messages.

Imports run one way, down this list (``approve`` also activates a paid subscription sign-up through
``orders.subscriptions.signup``, which sits below it).  The names callers use (tasks, admin):
"""

from ..errors import RefundError
from .approve import payment_approve
from .calls import Outcome
from .compensate import payment_compensate
from .refund import Refund, payment_check, payment_refund
from .sweep import payment_reconcile_candidates, payment_sweep

__all__ = [
    "Outcome", "Refund", "RefundError", "payment_approve", "payment_check", "payment_compensate",
    "payment_reconcile_candidates", "payment_refund", "payment_sweep",
]
