"""Plugin URLs of the orders app, mounted under /plugin/<plugin_key>/ (see kakaoplugin.plugin_paths).
KakaoPay's browser redirects (T3, cancel, fail) are in orders.browser_urls, outside the plugin key."""

from django.urls import path

from kakaoplugin.plugin_paths import PATHS

from . import apis
from .option_t2 import OptionT2Api

urlpatterns: list = [
    path(PATHS["option"], OptionT2Api.as_view(), name="option"),
    path(PATHS["ordersheet"], apis.PaymentT1Api.as_view(), name="ordersheet"),
    path(PATHS["order_approve"], apis.PaymentT2Api.as_view(), name="order_approve"),
    path(PATHS["order_status"], apis.payment_t4, name="order_status"),
]
