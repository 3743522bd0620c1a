"""Helpers of the payment tests (no tests here): catalog rows, order sheets, and a buyer who walks
the one-click payment flow the way Kakao and KakaoPay drive it, over HTTP to the fake."""

from __future__ import annotations

import urllib.parse

import requests
from django.test import Client

from catalog.models import Option, OptionGroup, OptionSubGroup, Product
from orders import payments
from orders.models import Order
from orders.sheets import SheetDraft, SheetLine, order_sheet_create

ADDRESS = {
    "base_address": "경기도 성남시 분당구 판교역로 235",
    "detail_address": "에이치스퀘어 엔동 6층",
    "post_no": "463400",
    "zone_code": "13494",
    "receiver_name": "수령인",
    "receiver_mobile_number": "01011112222",
}
JEJU_ADDRESS = ADDRESS | {"base_address": "제주특별자치도 제주시 첨단로 242", "zone_code": "63309"}


def make_product(
    *, code: str = "P-1", price: int = 10000, option_stock: int | None = 5, product_stock: int | None = None,
    tax_type: str = Product.TaxType.TAXABLE, needs_shipping: bool = True, with_option: bool = True,
) -> tuple[Product, Option | None]:  # fmt: skip
    product = Product.objects.create(
        code=code, name=f"상품 {code}", price=price, stock=product_stock, tax_type=tax_type,
        needs_shipping=needs_shipping, product_url=f"https://shop.example.com/p/{code}",
    )  # fmt: skip
    if not with_option:
        return product, None
    group = OptionGroup.objects.create(product=product, group_id="size", name="사이즈")
    sub = OptionSubGroup.objects.create(product=product, group=group, sub_group_id="size-1")
    option = Option.objects.create(product=product, sub_group=sub, option_id="L", value="L", stock=option_stock)
    return product, option


def make_sheet(kakao_app, product: Product, option: Option | None, *, app_user_id: str | None = "user-1",
               quantity: int = 1, tax_free_amount: int = 0):  # fmt: skip
    lines = []
    if option is not None:
        lines.append(
            SheetLine(group_id="size", group_name="사이즈", group_type="SELECT", sub_group_id="size-1",
                      option_id=option.option_id, option_value=option.value, option_pk=option.pk)  # fmt: skip
        )
    draft = SheetDraft(
        product_pk=product.pk, product_code=product.code, product_name=product.name, unit_price=product.price,
        quantity=quantity, total_amount=product.price * quantity, tax_free_amount=tax_free_amount,
        use_shipping=product.needs_shipping, product_url=product.product_url, lines=lines,
    )  # fmt: skip
    return order_sheet_create(kakao_app=kakao_app, draft=draft, app_user_id=app_user_id, relay_id="relay-1")


RELAY = ("talk-plugin.kakao.com", "/kakaopay/callback")


def browser_path(url: str, **extra: str) -> str:
    """What the buyer's browser requests of our server for ``url`` (KakaoPay's redirect, through
    Kakao's approval relay when wrapped, with ``extra`` query parameters): a path with its query."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    if (parts.hostname, parts.path) == RELAY:
        parts = urllib.parse.urlsplit(query.pop("approval_url"))
        query = dict(urllib.parse.parse_qsl(parts.query)) | query
    query |= extra
    return parts.path + ("?" + urllib.parse.urlencode(query) if query else "")


class Buyer:
    """Kakao (T1, ready, T2, T4) and KakaoPay (the buyer authenticates, T3) around one buyer."""

    def __init__(self, plugin_base: str, fake_url: str, *, app_user_id: str | None = "user-1",
                 client: Client | None = None, generation: str = "legacy", key: str = "test-admin-key-0123456789"):  # fmt: skip
        self.base = plugin_base
        self.fake = fake_url
        self.app_user_id = app_user_id
        self.client = client or Client()
        self.generation = generation
        self.key = key
        self.t1_data: dict = {}
        self.tid = ""
        self.pg_token = ""

    def _headers(self) -> dict:
        return {"HTTP_X_KAKAO_APPUSERID": self.app_user_id} if self.app_user_id else {}

    def t1(self, sheet_id: str, **query) -> dict:
        r = self.client.get(self.base + "ordersheet", {"ordersheet_id": sheet_id, **query}, **self._headers())
        body = r.json()
        if body["status"] == 200:
            self.t1_data = body["data"]
        return body

    def ready(self, **override) -> str:
        d = self.t1_data
        params = {
            k: d[k]
            for k in ("cid", "partner_order_id", "partner_user_id", "item_name", "quantity", "total_amount",
                      "tax_free_amount", "vat_amount", "approval_url", "cancel_url", "fail_url")
        } | override  # fmt: skip
        if self.generation == "open":
            r = requests.post(self.fake + "/online/v1/payment/ready", json=params,
                              headers={"Authorization": f"SECRET_KEY {self.key}"}, timeout=5)  # fmt: skip
        else:
            r = requests.post(self.fake + "/v1/payment/ready", data=params,
                              headers={"Authorization": f"KakaoAK {self.key}"}, timeout=5)  # fmt: skip
        r.raise_for_status()
        self.tid = r.json()["tid"]
        return self.tid

    def authorize(self, result: str = "ok") -> dict:
        r = requests.post(self.fake + "/kakaopay-sim/authorize", json={"tid": self.tid, "result": result}, timeout=5)
        r.raise_for_status()
        self.pg_token = r.json().get("pg_token") or ""
        return r.json()

    def t2(self, address: dict | None = ADDRESS, tid: str | None = None) -> dict:
        body = {"partner_order_id": self.t1_data["partner_order_id"], "tid": tid or self.tid, "relay_id": "relay-1"}
        if address is not None:
            body["shipping_address"] = address
        r = self.client.post(self.base + "order/approve", body, content_type="application/json", **self._headers())
        return r.json()

    def t3(self, pg_token: str | None = None, *, browser: Client | None = None) -> dict:
        """KakaoPay's approval redirect: the buyer's browser follows T1's approval_url."""
        path = browser_path(
            self.t1_data["approval_url"],
            partner_order_id=self.t1_data["partner_order_id"],
            partner_user_id=self.t1_data["partner_user_id"],
            pg_token=pg_token or self.pg_token,
        )
        return (browser or self.client).get(path).json()

    def t4(self, app_user_id: str | None = None) -> dict:
        headers = {"HTTP_X_KAKAO_APPUSERID": app_user_id or self.app_user_id} if (app_user_id or self.app_user_id) else {}
        r = self.client.get(self.base + "order/status", {"order_id": self.t1_data["partner_order_id"]}, **headers)
        return r.json()

    @property
    def partner_order_id(self) -> str:
        return self.t1_data["partner_order_id"]


def paid_order(kakao_app, plugin_base, fake_kakao, *, price=10000, quantity=2):
    """A paid order, driven over HTTP to the fake; the approval run in this process."""
    product, option = make_product(price=price, option_stock=5)
    buyer = Buyer(plugin_base, fake_kakao.url)
    buyer.t1(make_sheet(kakao_app, product, option, quantity=quantity).pk)
    buyer.ready()
    buyer.authorize()
    assert buyer.t2() == {"status": 200}
    assert buyer.t3() == {"status": 200}
    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    assert payments.payment_approve(order_id=order.pk) is payments.Outcome.DONE
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    return order, option, buyer


def held_with_token(kakao_app, plugin_base, fake_kakao, *, fault=None, **fault_kw):
    """An order past T2 and T3 (tid, pg_token, stock held), its approval not started."""
    product, option = make_product(option_stock=5)
    buyer = Buyer(plugin_base, fake_kakao.url)
    buyer.t1(make_sheet(kakao_app, product, option).pk)
    buyer.ready()
    buyer.authorize()
    if fault:
        fake_kakao.fault("approve", fault, match={"tid": buyer.tid}, **fault_kw)
    assert buyer.t2() == {"status": 200}
    order = Order.objects.get(partner_order_id=buyer.partner_order_id)
    # T3's effect, stored without sending the task (the test runs the approval itself)
    Order.objects.filter(pk=order.pk).update(pg_token=buyer.pg_token)
    return order, option, buyer
