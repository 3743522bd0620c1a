"""Models of the orders app, one module per part (the app label and tables are the app's):

- :mod:`.sheets`: order sheets and their lines (option T2 / the merchant API create them);
- :mod:`.store`: store rules (hours, closed dates, shipping fees, remote areas);
- :mod:`.orders`: orders (one payment attempt each), their lines, their payment events;
- :mod:`.subscriptions`: subscriptions (정기결제) and their installments.
"""

from .orders import Order, OrderLine, PaymentEvent, new_partner_order_id
from .sheets import LIVEMODE_HELP, OrderSheet, OrderSheetLine, new_order_sheet_id
from .store import BusinessHours, ClosedDate, RemoteAreaRange, StoreRules
from .subscriptions import Subscription, SubscriptionInstallment

__all__ = [
    "LIVEMODE_HELP", "BusinessHours", "ClosedDate", "Order", "OrderLine", "OrderSheet", "OrderSheetLine",
    "PaymentEvent", "RemoteAreaRange", "StoreRules", "Subscription", "SubscriptionInstallment",
    "new_order_sheet_id", "new_partner_order_id",
]
