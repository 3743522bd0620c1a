"""The catalog API: products and option trees by PUT/GET/DELETE, stock by PATCH, ETags and
idempotency keys, over HTTP with a real API key."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from catalog.hot_reads import option_t1_body_cached
from catalog.models import Option, Product, StockHold
from catalog.selectors import tree_export
from catalog.stock import StockItem, stock_hold
from merchant.models import IdempotencyKey
from merchant.services import api_key_create
from tests.support.merchant import DEMO, PID, product_body

pytestmark = pytest.mark.django_db



@pytest.fixture
def api(kakao_app):
    _, plain = api_key_create(kakao_app=kakao_app, name="erp", scopes=["catalog", "orders"])

    class Api:
        client = Client()
        headers = {"HTTP_AUTHORIZATION": f"Bearer {plain}"}

        def __call__(self, method: str, path: str, body=None, **headers):
            call = getattr(self.client, method.lower())
            kwargs = {"content_type": "application/json"} if body is not None else {}
            if body is not None:
                kwargs["data"] = json.dumps(body, ensure_ascii=False)
            return call("/api/v1/" + path, **kwargs, **self.headers, **headers)

    return Api()


def test_put_creates_then_get_returns_exactly_what_was_stored(api):
    r = api("PUT", f"products/{PID}", product_body())
    assert r.status_code == 201, r.json()
    etag = r["ETag"]
    got = api("GET", f"products/{PID}")
    assert got.status_code == 200 and got["ETag"] == etag
    body = got.json()
    tree = {k: v for k, v in body.items() if k in ("id", "name", "price", "option_groups", "min_quantity", "max_quantity", "default_quantity")}
    assert tree == tree_export(code=PID) == DEMO  # lossless with export_option_tree
    assert (body["category"], body["list_price"], body["on_sale"]) == ("의류", 15000, True)
    # the same PUT again: 200, the same ETag (nothing changed)
    again = api("PUT", f"products/{PID}", product_body())
    assert again.status_code == 200 and again["ETag"] == etag


def test_put_keeps_option_identity_and_refuses_dropping_a_held_option(api):
    api("PUT", f"products/{PID}", product_body())
    before = dict(Option.objects.filter(product__code=PID).values_list("option_id", "pk").order_by("pk")[:5])
    changed = product_body()
    changed["price"] = 13000
    assert api("PUT", f"products/{PID}", changed).status_code == 200
    after = dict(Option.objects.filter(product__code=PID, option_id__in=before).values_list("option_id", "pk").order_by("pk")[:5])
    assert set(before.values()) <= set(Option.objects.filter(product__code=PID).values_list("pk", flat=True))
    assert after

    simple = {"name": "티", "price": 9000, "option_groups": [{"id": "색", "name": "색", "type": "SELECT", "option_sub_groups": [
        {"id": "색", "options": [{"id": "R", "value": "빨강", "stock": 5}, {"id": "B", "value": "파랑", "stock": 5}]}]}]}  # fmt: skip
    assert api("PUT", "products/TEE", simple).status_code == 201
    leaf = Option.objects.get(product__code="TEE", option_id="B")
    stock_hold(reference="order-held", items=[StockItem(option_pk=leaf.pk, product_pk=None, quantity=1)],
               expires_at=timezone.now() + timedelta(minutes=5), livemode=True)  # fmt: skip
    dropped = copy.deepcopy(simple)
    _drop_option(dropped, "색", "B")
    r = api("PUT", "products/TEE", dropped)
    assert r.status_code == 409, r.json()
    assert "'B'" in r.json()["message"]
    assert Option.objects.filter(pk=leaf.pk).exists() and StockHold.objects.filter(option=leaf).exists()


def _drop_option(tree: dict, sub_group_id: str, option_id: str) -> None:
    for group in tree["option_groups"]:
        for sub in group.get("option_sub_groups", []):
            if sub["id"] == sub_group_id:
                sub["options"] = [o for o in sub["options"] if o["id"] != option_id]


def test_a_broken_tree_is_422_naming_every_problem_and_changes_nothing(api):
    api("PUT", f"products/{PID}", product_body())
    stored = tree_export(code=PID)
    broken = product_body()
    broken["option_groups"][0]["option_sub_groups"][0]["options"][0]["stock"] = -1
    broken["option_groups"].append({"id": "숫자", "name": "숫자", "type": "NUMBERS"})  # no lengths
    r = api("PUT", f"products/{PID}", broken)
    assert r.status_code == 422
    problems = r.json()["problems"]
    assert len(problems) >= 2 and any("숫자" in p for p in problems)
    assert tree_export(code=PID) == stored


def test_if_match_refuses_a_stale_write(api):
    etag = api("PUT", f"products/{PID}", product_body())["ETag"]
    newer = api("PUT", f"products/{PID}", product_body(list_price=16000), HTTP_IF_MATCH=etag)
    assert newer.status_code == 200 and newer["ETag"] != etag
    stale = api("PUT", f"products/{PID}", product_body(list_price=17000), HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and stale.json()["status"] == 412
    assert Product.objects.get(code=PID).list_price == 16000
    assert api("DELETE", f"products/{PID}", HTTP_IF_MATCH=etag).status_code == 412
    assert api("PUT", "products/NEW-1", product_body(id="NEW-1"), HTTP_IF_MATCH="*").status_code == 412


def test_delete_takes_a_product_off_sale_and_option_t1_says_so(api):
    api("PUT", f"products/{PID}", product_body())
    r = api("DELETE", f"products/{PID}")
    assert r.status_code == 200 and r.json()["on_sale"] is False
    assert Product.objects.get(code=PID).on_sale is False
    assert b'"status":400' in option_t1_body_cached(PID)  # not on sale: option T1's refusal, cache renewed


def test_list_in_cursor_pages_with_filters(api):
    for i in range(5):
        api("PUT", f"products/P-{i}", {"name": f"상품 {i}", "price": 1000, "on_sale": i % 2 == 0})
    page = api("GET", "products?page_size=2").json()
    assert [p["id"] for p in page["results"]] == ["P-0", "P-1"] and page["next"]
    rest = Client().get(page["next"], **api.headers).json()
    assert [p["id"] for p in rest["results"]] == ["P-2", "P-3"]
    on_sale = api("GET", "products?on_sale=true").json()["results"]
    assert [p["id"] for p in on_sale] == ["P-0", "P-2", "P-4"]
    assert api("GET", "products?updated_since=not-a-date").status_code == 400


def test_the_catalog_needs_its_scope(kakao_app):
    _, plain = api_key_create(kakao_app=kakao_app, name="orders only", scopes=["orders"])
    r = Client().put(f"/api/v1/products/{PID}", json.dumps(product_body()), content_type="application/json",
                     HTTP_AUTHORIZATION=f"Bearer {plain}")  # fmt: skip
    assert r.status_code == 403 and not Product.objects.exists()


# --- stock ---------------------------------------------------------------------------------------


def test_stock_rows_by_path_ids_and_sku_all_or_nothing(api):
    tree = product_body()
    api("PUT", f"products/{PID}", tree)
    api("PUT", "products/MUG", {"name": "머그", "price": 8000, "stock": 5})
    leaf = Option.objects.filter(product__code=PID, stock__isnull=False).order_by("pk").first()
    Option.objects.filter(pk=leaf.pk).update(extra="SKU-1")
    from catalog.services import option_paths

    path = option_paths(leaf.product_id)[leaf.pk]
    other = Option.objects.filter(product__code=PID, stock__isnull=False).order_by("pk")[1]
    rows = [
        {"product_id": PID, "option_path": path, "set": 40},
        {"product_id": PID, "sub_group_id": other.sub_group.sub_group_id, "option_id": other.option_id, "adjust": 3},
        {"sku": "SKU-1", "adjust": -5},
        {"product_id": "MUG", "set": 0},
    ]
    r = api("PATCH", "stock", {"rows": rows})
    assert r.status_code == 200, r.json()
    results = r.json()["rows"]
    assert [x["ok"] for x in results] == [True] * 4
    assert results[0]["stock"] == 40 and results[2] == {"index": 2, "ok": True, "stock": 35, "previous": 40}
    leaf.refresh_from_db()
    assert leaf.stock == 35 and Product.objects.get(code="MUG").stock == 0

    bad = [{"sku": "SKU-1", "set": 1}, {"product_id": PID, "option_path": "no / such", "set": 1},
           {"sku": "SKU-1", "adjust": -1000}, {"product_id": PID, "set": 3}]  # fmt: skip
    r = api("PATCH", "stock", {"rows": bad})
    assert r.status_code == 422
    answer = {x["index"]: x for x in r.json()["rows"]}
    assert answer[0]["ok"] and not answer[1]["ok"] and "not in the tree" in answer[1]["error"]
    assert "has options" in answer[3]["error"]
    leaf.refresh_from_db()
    assert leaf.stock == 35  # nothing applied


def test_stock_set_while_holds_exist_counts_beside_them(api):
    from catalog.stock import stock_release

    api("PUT", "products/MUG", {"name": "머그", "price": 8000, "stock": 5})
    mug = Product.objects.get(code="MUG")
    stock_hold(reference="o-1", items=[StockItem(option_pk=None, product_pk=mug.pk, quantity=2)],
               expires_at=timezone.now() + timedelta(minutes=5), livemode=True)  # fmt: skip
    assert api("PATCH", "stock", {"rows": [{"product_id": "MUG", "set": 10}]}).json()["rows"][0]["previous"] == 3
    stock_release(reference="o-1")
    mug.refresh_from_db()
    assert mug.stock == 12  # the 10 available plus the 2 the unfinished payment gives back


def test_stock_patch_renews_option_t1_for_the_touched_products(api, plugin_base):
    api("PUT", f"products/{PID}", product_body())
    client = Client()
    first = client.get(plugin_base + "options", {"id": PID}).content
    leaf = Option.objects.filter(product__code=PID, stock__isnull=False).order_by("pk").first()
    api("PATCH", "stock", {"rows": [{"product_id": PID, "sub_group_id": leaf.sub_group.sub_group_id,
                                     "option_id": leaf.option_id, "set": 777}]})  # fmt: skip
    second = client.get(plugin_base + "options", {"id": PID}).content
    assert first != second and b'"stock":777' in second


# --- idempotency keys ----------------------------------------------------------------------------


def test_the_same_idempotency_key_replays_and_another_body_is_refused(api):
    api("PUT", "products/MUG", {"name": "머그", "price": 8000, "stock": 5})
    body = {"rows": [{"product_id": "MUG", "adjust": 1}]}
    first = api("PATCH", "stock", body, HTTP_IDEMPOTENCY_KEY="sync-42")
    again = api("PATCH", "stock", body, HTTP_IDEMPOTENCY_KEY="sync-42")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert Product.objects.get(code="MUG").stock == 6  # applied once
    other = api("PATCH", "stock", {"rows": [{"product_id": "MUG", "adjust": 2}]}, HTTP_IDEMPOTENCY_KEY="sync-42")
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["message"]
    assert Product.objects.get(code="MUG").stock == 6
    # a refusal is an answer too: replayed, not run again
    refused = api("PATCH", "stock", {"rows": [{"product_id": "NOPE", "set": 1}]}, HTTP_IDEMPOTENCY_KEY="k-2")
    api("PUT", "products/NOPE", {"name": "이제 있음", "price": 1})
    replay = api("PATCH", "stock", {"rows": [{"product_id": "NOPE", "set": 1}]}, HTTP_IDEMPOTENCY_KEY="k-2")
    assert refused.status_code == replay.status_code == 422 and replay["Idempotent-Replayed"] == "true"
    assert api("PATCH", "stock", body, HTTP_IDEMPOTENCY_KEY="x" * 300).status_code == 400


def test_order_sheets_take_idempotency_keys_too(api, kakao_app):
    kakao_app.payment_plugin_id = "pay"
    kakao_app.save()
    api("PUT", "products/MUG", {"name": "머그", "price": 8000, "stock": 5})
    body = {"product_id": "MUG", "quantity": 1, "option_groups": []}
    first = api("POST", "order-sheets", body, HTTP_IDEMPOTENCY_KEY="sheet-1")
    again = api("POST", "order-sheets", body, HTTP_IDEMPOTENCY_KEY="sheet-1")
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    from orders.models import OrderSheet

    assert OrderSheet.objects.count() == 1


def test_every_post_of_the_merchant_api_takes_an_idempotency_key(api):
    """Kakao Sync's launch link too: the same key replays the same state."""
    first = api("POST", "kakaosync/launch-link", {}, HTTP_IDEMPOTENCY_KEY="sync-1")
    again = api("POST", "kakaosync/launch-link", {}, HTTP_IDEMPOTENCY_KEY="sync-1")
    other = api("POST", "kakaosync/launch-link", {}, HTTP_IDEMPOTENCY_KEY="sync-2")
    assert first.status_code == again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert first.json()["state"] == again.json()["state"] != other.json()["state"]


def test_idempotency_keys_expire_and_are_purged(api, settings):
    from merchant.idempotency import idempotency_purge

    api("PUT", "products/MUG", {"name": "머그", "price": 8000, "stock": 5}, HTTP_IDEMPOTENCY_KEY="put-1")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = api("PUT", "products/MUG", {"name": "머그", "price": 8000, "stock": 5}, HTTP_IDEMPOTENCY_KEY="put-1")
    assert "Idempotent-Replayed" not in again  # past 24 h the key is new again
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_purge() == 1 and not IdempotencyKey.objects.exists()


def test_export_command_and_get_agree(api, tmp_path):
    api("PUT", f"products/{PID}", product_body())
    out = tmp_path / "tree.json"
    call_command("export_option_tree", PID, "-o", str(out))
    exported = json.loads(out.read_text())
    body = api("GET", f"products/{PID}").json()
    assert {k: body[k] for k in exported} == exported


def test_schemathesis_finds_no_server_error_on_the_catalog_api(api, kakao_app):
    """Fuzz every catalog operation of the OpenAPI schema (bounded examples) with a catalog key."""
    import schemathesis
    from drf_spectacular.generators import SchemaGenerator
    from schemathesis.checks import not_a_server_error

    from config.wsgi import application
    from tests.support.schema_fuzz import fuzz, keep_test_connection

    api("PUT", f"products/{PID}", product_body())
    raw = json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True)))
    raw["paths"] = {p: item for p, item in raw["paths"].items() if p == "/api/v1/stock" or p.startswith("/api/v1/products")}
    operations = [result.ok() for result in schemathesis.openapi.from_dict(raw).get_all_operations()]
    assert {f"{o.method.upper()} {o.path}" for o in operations} >= {
        "GET /api/v1/products", "GET /api/v1/products/{product_id}", "PUT /api/v1/products/{product_id}",
        "DELETE /api/v1/products/{product_id}", "PATCH /api/v1/stock",
    }  # fmt: skip
    problems = []
    with keep_test_connection():
        for operation in operations:
            try:
                fuzz(operation, [not_a_server_error], application, headers={"Authorization": api.headers["HTTP_AUTHORIZATION"]})
            except Exception as exc:
                problems.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not problems, "\n\n".join(problems)
