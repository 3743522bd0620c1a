"""The catalog API (scope ``catalog``): products with their option trees, and stock, kept in sync
by the merchant's own systems (an ERP, another shop). Every write takes an ``Idempotency-Key``.

- ``PUT /api/v1/products/{id}``: the product in option T1's own format plus the commerce fields;
  creates or replaces it in place (options keep their identity: holds and order lines keep pointing
  at them). Checked by the one tree validator: 422 naming every problem; dropping an option with
  stock held for an unfinished payment: 409 naming it. ``If-Match`` with the product's ``ETag``
  refuses a stale write (412).
- ``GET /api/v1/products/{id}``: exactly what was stored (``export_option_tree`` plus the commerce
  fields), with its ``ETag``. ``GET /api/v1/products``: cursor pages, filters ``on_sale`` and
  ``updated_since``. ``DELETE``: off sale (orders keep the product).
- ``PATCH /api/v1/stock``: up to 1,000 rows in one atomic call (``catalog.stock_sync``).

The catalog is shared by the merchant's Kakao apps: a ``catalog`` key of any of them edits it.
"""

from __future__ import annotations

import hashlib

import orjson
from django.db import transaction
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from catalog.models import Product
from catalog.selectors import tree_export
from catalog.services import OptionHeld, option_tree_import, product_tree_changed
from catalog.stock_sync import MAX_ROWS, StockRowsRefused, stock_apply
from catalog.tree import TreeInvalid
from kakaoplugin.envelope import PluginError

from .apis import MerchantView
from .catalog_serializers import (
    COMMERCE_FIELDS,
    CatalogErrorSerializer,
    ProductFilterSerializer,
    ProductSerializer,
    ProductSummarySerializer,
    ProductWriteSerializer,
    StockPatchSerializer,
    StockResultSerializer,
)
from .idempotency import HEADER, idempotent
from .models import MerchantApiKey

CATALOG = MerchantApiKey.Scope.CATALOG
IF_MATCH = OpenApiParameter("If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                            description="the ETag you read: the write is refused (412) if the product changed since")  # fmt: skip
IDEMPOTENCY = OpenApiParameter(HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                               description="retry safely: the same key and body replay the first answer (24 h)")  # fmt: skip


ERRORS = {
    400: "malformed (a field missing or of the wrong type, a bad Idempotency-Key)",
    401: "no API key, or an invalid or revoked one",
    403: "the key lacks the catalog scope",
    404: "no such product",
    409: "an option the tree drops has stock held for an unfinished payment, or this Idempotency-Key is still running",
    412: "If-Match does not match the product's current ETag: read it again",
    422: "refused: every problem named (group › sub-group › option), or another body for this Idempotency-Key",
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(CatalogErrorSerializer, description=ERRORS[code]) for code in (401, 403, *codes)}


def product_body(product: Product) -> dict:
    """What GET answers: the tree exactly as exported, then the commerce fields."""
    body = tree_export(code=product.code) or {"id": product.code, "name": product.name}
    for field in COMMERCE_FIELDS:
        body[field] = getattr(product, field)
    body["updated_at"] = product.updated_at.isoformat()
    return body


def etag(body: dict) -> str:
    stable = {k: v for k, v in body.items() if k != "updated_at"}
    return '"' + hashlib.sha256(orjson.dumps(stable, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32] + '"'


def _with_etag(body: dict, status_code: int = 200) -> Response:
    return Response(body, status=status_code, headers={"ETag": etag(body)})


def _check_if_match(request, product: Product | None) -> None:
    wanted = request.headers.get("If-Match")
    if wanted is None:
        return
    if wanted.strip() == "*":
        if product is None:
            raise PluginError(412, "If-Match: * but the product does not exist", http_status=412)
        return
    current = etag(product_body(product)) if product is not None else None
    if current is None or current not in [t.strip() for t in wanted.split(",")]:
        raise PluginError(412, "the product changed since you read it (If-Match): read it again", http_status=412)


class CatalogView(MerchantView):
    required_scope = CATALOG


class ProductPagination(CursorPagination):
    ordering = ("updated_at", "id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ProductListApi(CatalogView):
    serializer_class = ProductSummarySerializer
    pagination_class = ProductPagination

    @extend_schema(
        operation_id="product_list", tags=["catalog"], summary="Products, oldest change first (cursor pages)",
        parameters=[ProductFilterSerializer], responses={200: ProductSummarySerializer(many=True), **_errors(400)},
    )  # fmt: skip
    def get(self, request):
        params = ProductFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        found = Product.objects.all()
        if "on_sale" in params.validated_data:
            found = found.filter(on_sale=params.validated_data["on_sale"])
        if "updated_since" in params.validated_data:
            found = found.filter(updated_at__gte=params.validated_data["updated_since"])
        page = self.paginate_queryset(found)
        return self.get_paginated_response(ProductSummarySerializer(page, many=True).data)


class ProductDetailApi(CatalogView):
    serializer_class = ProductSerializer

    def _product(self, product_id: str) -> Product | None:
        return Product.objects.filter(code=product_id).first()

    @extend_schema(operation_id="product_retrieve", tags=["catalog"], summary="A product and its option tree",
                   responses={200: ProductSerializer, **_errors(404)})  # fmt: skip
    def get(self, request, product_id: str):
        product = self._product(product_id)
        if product is None:
            raise Http404
        return _with_etag(product_body(product))

    @extend_schema(
        operation_id="product_put", tags=["catalog"], summary="Create or replace a product and its option tree",
        description="The tree in option T1's format (`OptionResponse`) plus the commerce fields. Options are "
        "matched by their ids and kept (stock holds and order lines keep pointing at them).",
        parameters=[IF_MATCH, IDEMPOTENCY], request=ProductWriteSerializer,
        responses={200: ProductSerializer, 201: ProductSerializer, **_errors(400, 409, 412, 422)},
    )  # fmt: skip
    @idempotent
    def put(self, request, product_id: str):
        params = ProductWriteSerializer(data=request.data, context={"product_id": product_id})
        params.is_valid(raise_exception=True)
        tree, settings_ = params.split()
        with transaction.atomic():
            product = Product.objects.select_for_update().filter(code=product_id).first()
            _check_if_match(request, product)
            created = product is None
            try:
                product = option_tree_import(data=tree, product_settings=settings_)
            except OptionHeld as exc:
                raise PluginError(409, "; ".join(exc.errors), http_status=409) from None
            except TreeInvalid as exc:  # nothing was written (the import is one transaction)
                message = f"the option tree breaks {len(exc.errors)} rule(s)"
                return Response({"status": 422, "message": message, "problems": exc.errors}, status=422)
        return _with_etag(product_body(product), status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(operation_id="product_delete", tags=["catalog"], summary="Take a product off sale",
                   description="Orders keep the product; a later PUT puts it on sale again.",
                   parameters=[IF_MATCH, IDEMPOTENCY], responses={200: ProductSerializer, **_errors(404, 412)})  # fmt: skip
    @idempotent
    def delete(self, request, product_id: str):
        with transaction.atomic():
            product = Product.objects.select_for_update().filter(code=product_id).first()
            if product is None:
                raise Http404
            _check_if_match(request, product)
            if product.on_sale:
                product.on_sale = False
                product.save(update_fields=["on_sale", "updated_at"])
                product_tree_changed(product_pks=[product.pk])
        return _with_etag(product_body(product))


class StockApi(CatalogView):
    serializer_class = StockPatchSerializer

    @extend_schema(
        operation_id="stock_patch", tags=["catalog"], summary=f"Set or adjust stock, up to {MAX_ROWS:,} rows at once",
        description="Each row names an option (`product_id` + `option_path` as the admin's grid shows it, "
        "`product_id` + `sub_group_id` + `option_id`, or `sku` = the option's `extra`) or a product without options "
        "(`product_id`), and `set` (units available beside those held for unfinished payments) or `adjust` (±). "
        "All rows or none: a refused row refuses the call (422) and the answer says which and why. "
        "Stock falling to the product's `low_stock_threshold` sends the webhook `option.low_stock`, a product "
        "left with no unit `product.sold_out` (once per crossing).",
        parameters=[IDEMPOTENCY], request=StockPatchSerializer,
        responses={200: StockResultSerializer, 422: StockResultSerializer, **_errors(400)},
    )  # fmt: skip
    @idempotent
    def patch(self, request):
        params = StockPatchSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            results = stock_apply(rows=params.validated_data["rows"])
        except StockRowsRefused as exc:
            body = {"status": 422, "message": str(exc), "rows": [r.as_dict() for r in exc.results]}
            return Response(body, status=422)
        return Response({"status": 200, "rows": [r.as_dict() for r in results]})
