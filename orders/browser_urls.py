"""The buyer's browser's payment URLs, mounted at /pay/ (see orders.pay_links): KakaoPay's approval
(T3), cancel and fail redirects. No plugin key: the order's token for each action authorises them."""

from django.urls import path

from . import apis

urlpatterns: list = [
    path("<str:ref>/approval/<str:token>", apis.PaymentT3Api.as_view(), name="kakaopay_approval"),
    path("<str:ref>/cancel/<str:token>", apis.KakaoPayCancelApi.as_view(), name="kakaopay_cancel"),
    path("<str:ref>/fail/<str:token>", apis.KakaoPayFailApi.as_view(), name="kakaopay_fail"),
]
