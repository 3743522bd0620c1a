"""Plugin URLs of the orders app, mounted under /plugin/<plugin_key>/ (see kakaoplugin.plugin_paths)."""

from django.urls import path

from kakaoplugin.plugin_paths import PATHS

from . import apis
from .option_apis import OptionSelect

urlpatterns: list = [
    path(PATHS["option"], OptionSelect.as_view(), name="option"),
    path(PATHS["ordersheet"], apis.OrderSheetApi.as_view(), name="ordersheet"),
    path(PATHS["order_approve"], apis.OrderApproveApi.as_view(), name="order_approve"),
    path(PATHS["order_status"], apis.order_status, name="order_status"),
    path(PATHS["kakaopay_approval"], apis.KakaoPayApprovalApi.as_view(), name="kakaopay_approval"),
    path(PATHS["kakaopay_cancel"], apis.KakaoPayCancelApi.as_view(), name="kakaopay_cancel"),
    path(PATHS["kakaopay_fail"], apis.KakaoPayFailApi.as_view(), name="kakaopay_fail"),
]
