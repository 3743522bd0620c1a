"""The browser tests' paid order, driven over HTTP against the live server."""

from __future__ import annotations

from urllib.parse import urljoin

import requests

from catalog.models import Option
from orders.models import Order
from tests.support.payments import Buyer, make_product, make_sheet


class LiveClient:
    """The part of Django's test client the buyer uses, over real HTTP to the live server (a
    connection per request, as Kakao's calls come: a kept-alive one would keep its server thread,
    and that thread's database connection, past the test)."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    @staticmethod
    def _headers(meta: dict) -> dict:
        # HTTP_X_KAKAO_APPUSERID → X-Kakao-AppUserId (header names are case-insensitive)
        return {k[5:].replace("_", "-"): v for k, v in meta.items() if k.startswith("HTTP_")}

    def get(self, path, params=None, **meta):
        return requests.get(
            urljoin(self.base_url, path), params=params, headers=self._headers(meta), timeout=30
        )

    def post(self, path, data=None, content_type="application/json", **meta):
        headers = self._headers(meta) | {"Content-Type": content_type}
        return requests.post(urljoin(self.base_url, path), json=data, headers=headers, timeout=30)


def paid_order(
    live_server, kakao_app, fake_kakao, *, relay_id: str, app_user_id: str, code: str, quantity: int = 2
):
    """A buyer in the chat ``relay_id`` pays for ``quantity`` × 10,000 KRW; the paid order and its option."""
    product, option = make_product(code=code, price=10000, option_stock=5)
    sheet = make_sheet(kakao_app, product, option, app_user_id=app_user_id, quantity=quantity)
    buyer = Buyer(
        f"/plugin/{kakao_app.plugin_key}/",
        fake_kakao.url,
        app_user_id=app_user_id,
        client=LiveClient(live_server.url),
    )
    assert buyer.t1(sheet.pk, relay_id=relay_id)["status"] == 200
    buyer.ready()
    buyer.authorize()
    assert buyer.t2() == {"status": 200}
    assert buyer.t3() == {"status": 200}  # the approval ran in the server's process
    assert buyer.t4() == {"status": 200, "data": {"order_status": "S"}}
    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    assert (
        order.status == Order.Status.PAID
        and order.relay_id == relay_id
        and order.approved_amount == 10000 * quantity
    )
    assert Option.objects.get(pk=option.pk).stock == 5 - quantity
    return order, option, buyer
