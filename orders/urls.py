"""Plugin URLs of the orders app, mounted under /plugin/<plugin_key>/ (see kakaoplugin.plugin_paths).
KakaoPay's browser redirects (T3, cancel, fail) are in orders.browser_urls, outside the plugin key."""

from django.urls import path

from kakaoplugin.plugin_paths import PATHS

from . import apis
from .option_apis import OptionSelect

urlpatterns: list = [
    path(PATHS["option"], OptionSelect.as_view(), name="option"),
    path(PATHS["ordersheet"], apis.OrderSheetApi.as_view(), name="ordersheet"),
    path(PATHS["order_approve"], apis.OrderApproveApi.as_view(), name="order_approve"),
    path(PATHS["order_status"], apis.order_status, name="order_status"),
]
