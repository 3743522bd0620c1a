"""The orders app's one domain error: :class:`OrderError`, with a code saying what was refused.

Services raise it and never speak the wire protocol; the plugin views (``orders.apis``) turn its
code into the envelope status Kakao expects (``apis.ENVELOPE_STATUS``), the admin shows its message
to staff.  :class:`RefundError` and :class:`SubscriptionError` are the same type for staff actions.
"""

from __future__ import annotations


class OrderError(Exception):
    """A refusal with a ``code`` (one of the constants below) and a ``message`` for the person."""

    INVALID_ORDER = "invalid_order"  # unknown, expired, closed or already settled sheet / order
    BAD_USER = "bad_user"  # not the sheet's or the order's buyer
    BLOCKED = "blocked"  # a blocked member
    STORE_CLOSED = "store_closed"  # outside business hours, a closed date
    NOT_CONFIGURED = "not_configured"  # the app cannot take this payment (no subscription CID)
    TID_TAKEN = "tid_taken"  # the tid belongs to another order
    OVER_LIMIT = "over_limit"  # the order total is over ORDER_MAX_AMOUNT
    REFUND = "refund"  # a staff refund that did not happen (or whose outcome is unknown)
    SUBSCRIPTION = "subscription"  # a staff action on a subscription that did not (fully) happen

    default_code = INVALID_ORDER

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class RefundError(OrderError):
    """A refund that did not happen (or whose outcome is unknown), with a message for staff."""

    default_code = OrderError.REFUND


class SubscriptionError(OrderError):
    """A staff action on a subscription that did not (fully) happen, with a message for staff."""

    default_code = OrderError.SUBSCRIPTION
