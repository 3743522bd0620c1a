"""The merchant API (``/api/v1/``): thin DRF views (parse, call a service or selector, render).

Authenticated by ``Authorization: Bearer kp_...`` keys scoped to one Kakao app: every read and
write is within that app, and another app's order sheet, order or member is a 404.  Errors are
the project's envelope ``{"status": <HTTP status>, "message": "..."}``.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from . import selectors, services
from .authentication import HasScope, MerchantKeyAuthentication, MerchantKeyThrottle
from .idempotency import idempotent
from .models import MerchantApiKey
from .serializers import (
    SHIPPING_CONTEXT,
    ErrorSerializer,
    KakaoSyncLaunchSerializer,
    MemberSerializer,
    OrderFilterSerializer,
    OrderSerializer,
    OrderSheetCreatedSerializer,
    OrderSheetCreateSerializer,
    ProductLaunchSerializer,
)

ORDERS = MerchantApiKey.Scope.ORDERS
MEMBERS = MerchantApiKey.Scope.MEMBERS
PERSONAL = MerchantApiKey.Scope.PERSONAL
SHIPPING = MerchantApiKey.Scope.SHIPPING


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    what = {
        400: "the request is malformed (a field missing or of the wrong type)",
        401: "no API key, or an invalid or revoked one",
        403: "the key lacks the scope this endpoint needs",
        429: "too many requests with this key (MERCHANT_API_RATE); wait Retry-After seconds",
        404: "not found in this key's Kakao app",
        409: "the Kakao app has no plugin id for this plugin (set it in the admin)",
        422: "refused: the choices do not fit the catalog (names the group and the rule), or the member is blocked",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=what[code]) for code in (401, 403, 429, *codes)}


class MerchantView(GenericAPIView):
    authentication_classes = [MerchantKeyAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [MerchantKeyThrottle]
    required_scope: str = ORDERS

    @property
    def kakao_app(self):
        return self.request.user.kakao_app

    def throttled(self, request, wait):
        raise exceptions.Throttled(wait, detail="요청이 너무 많습니다 (too many requests with this API key; retry later)")

    def get_serializer_context(self):
        user = getattr(self.request, "user", None)
        shipping = bool(user is not None and getattr(user, "has_scope", None) and user.has_scope(SHIPPING))
        return {**super().get_serializer_context(), SHIPPING_CONTEXT: shipping}


class OrderSheetCreateApi(MerchantView):
    serializer_class = OrderSheetCreateSerializer

    @extend_schema(
        operation_id="order_sheet_create",
        tags=["order sheets"],
        summary="Create an order sheet for a payment-only launch",
        description=(
            "Validates the product, its option choices and the quantity exactly like option-plugin T2 "
            "and stores an order sheet. Send the buyer `launch_link` "
            "(`kakaotalk://bizplugin?plugin_id=<payment plugin id>&oneclick_id=<sheet id>`): Kakao then calls "
            "payment T1 with `ordersheet_id` = the sheet id. Bound to `app_user_id`, the sheet can only be paid "
            "by that buyer."
        ),
        request=OrderSheetCreateSerializer,
        responses={201: OrderSheetCreatedSerializer, **_errors(400, 409, 422)},
    )
    @idempotent
    def post(self, request):
        params = self.get_serializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        made = services.merchant_order_sheet_create(
            kakao_app=self.kakao_app,
            choices=params.choices(),
            app_user_id=data.get("app_user_id"),
            relay_id=data.get("relay_id"),
            ttl_seconds=data.get("expires_in"),
        )
        return Response(_sheet_body(made), status=status.HTTP_201_CREATED)


def _sheet_body(made: services.LaunchableSheet) -> dict:
    context = {"shipping_fee": made.shipping_fee, "plugin_id": made.plugin_id, "launch_link": made.launch_link}
    return OrderSheetCreatedSerializer(made.sheet, context=context).data


class OrderSheetDetailApi(MerchantView):
    serializer_class = OrderSheetCreatedSerializer

    @extend_schema(
        operation_id="order_sheet_retrieve",
        tags=["order sheets"],
        summary="Read an order sheet, with its launch link",
        responses={200: OrderSheetCreatedSerializer, **_errors(404, 409)},
    )
    def get(self, request, sheet_id: str):
        sheet = selectors.order_sheet_get(kakao_app=self.kakao_app, sheet_id=sheet_id)
        if sheet is None:
            raise Http404
        return Response(_sheet_body(services.sheet_launch(sheet=sheet)))


class ProductLaunchLinkApi(MerchantView):
    serializer_class = ProductLaunchSerializer

    @extend_schema(
        operation_id="product_launch_link",
        tags=["launch links"],
        summary="The option plugin's launch link for a product",
        description="`kakaotalk://bizplugin?plugin_id=<option plugin id>&product_id=<product id>`",
        responses={200: ProductLaunchSerializer, **_errors(404, 409)},
    )
    def get(self, request, product_id: str):
        product = selectors.product_get(product_id=product_id)
        if product is None:
            raise Http404
        plugin_id, link = services.product_launch_link(kakao_app=self.kakao_app, product=product)
        body = {"product_id": product.code, "product_name": product.name, "on_sale": product.on_sale,
                "plugin_id": plugin_id, "launch_link": link}  # fmt: skip
        return Response(ProductLaunchSerializer(body).data)


class KakaoSyncLaunchApi(MerchantView):
    serializer_class = KakaoSyncLaunchSerializer

    @extend_schema(
        operation_id="kakaosync_launch_link",
        tags=["launch links"],
        summary="A state (and launch link) for one launch of the Kakao Sync plugin",
        description=(
            "Kakao Sync's redirect URI is fixed per app and reached by the buyer's browser: it only admits a "
            "`state` issued here (valid `expires_in` seconds). Launch the plugin with it."
        ),
        request=None,
        responses={200: KakaoSyncLaunchSerializer},
    )
    @idempotent
    def post(self, request):
        base = settings.PUBLIC_BASE_URL or request.build_absolute_uri("/")
        launch = services.kakaosync_launch(kakao_app=self.kakao_app, base_url=base)
        return Response(KakaoSyncLaunchSerializer(launch).data)


class OrderPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class OrderListApi(MerchantView):
    serializer_class = OrderSerializer
    pagination_class = OrderPagination

    @extend_schema(
        operation_id="order_list",
        tags=["orders"],
        summary="List orders (newest first), filtered",
        description=(
            "Each payment attempt on an order sheet is an order (`partner_order_id`). Cursor pagination: follow "
            "`next` until it is null."
        ),
        parameters=[OrderFilterSerializer],
        responses={200: OrderSerializer(many=True), **_errors(400)},
    )
    def get(self, request):
        filters = OrderFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = selectors.orders_filtered(kakao_app=self.kakao_app, filters=filters.validated_data)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class OrderDetailApi(MerchantView):
    serializer_class = OrderSerializer

    @extend_schema(
        operation_id="order_retrieve",
        tags=["orders"],
        summary="Read an order by its partner order id",
        responses={200: OrderSerializer, **_errors(404)},
    )
    def get(self, request, partner_order_id: str):
        order = selectors.order_get(kakao_app=self.kakao_app, partner_order_id=partner_order_id)
        if order is None:
            raise Http404
        return Response(self.get_serializer(order).data)


class OrderByRelayApi(MerchantView):
    serializer_class = OrderSerializer

    @extend_schema(
        operation_id="order_retrieve_by_relay_id",
        tags=["orders"],
        summary="Read the newest order of a relay id (your chat session)",
        description="Every order of a relay id: `GET /api/v1/orders?relay_id=...`.",
        responses={200: OrderSerializer, **_errors(404)},
    )
    def get(self, request, relay_id: str):
        order = selectors.order_latest_for_relay(kakao_app=self.kakao_app, relay_id=relay_id)
        if order is None:
            raise Http404
        return Response(self.get_serializer(order).data)


class MemberDetailApi(MerchantView):
    serializer_class = MemberSerializer
    required_scope = MEMBERS

    @extend_schema(
        operation_id="member_retrieve",
        tags=["members"],
        summary="Read a member by app user id",
        description=(
            "Needs scope `members`. Personal data (`personal`: profile and shipping addresses from the "
            "personal-information plugin or Kakao Sync) only with scope `members:personal` too; otherwise null."
        ),
        parameters=[OpenApiParameter("app_user_id", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses={200: MemberSerializer, **_errors(404)},
    )
    def get(self, request, app_user_id: str):
        member = selectors.member_get(kakao_app=self.kakao_app, app_user_id=app_user_id)
        if member is None:
            raise Http404
        profile = getattr(member, "profile", None)
        if profile is not None and profile.purged_at is not None:
            profile = None  # purged by the retention policy: nothing personal is left
        personal = _personal(member, profile) if request.user.has_scope(PERSONAL) else None
        body = {
            "app_user_id": member.app_user_id,
            "blocked": member.blocked,
            "created_at": member.created_at,
            "has_profile": profile is not None,
            "profile_source": profile.source if profile else "",
            "profile_collected_at": profile.collected_at if profile else None,
            "consents": list(member.consents.all()),
            "orders": selectors.member_paid_orders(kakao_app=self.kakao_app, app_user_id=member.app_user_id),
            "personal": personal,
        }
        return Response(MemberSerializer(body).data)



PERSONAL_FIELDS = (
    "nickname", "profile_image_url", "phone_number", "email", "age_range", "birthyear", "birthday", "gender",
)  # fmt: skip


def _personal(member, profile) -> dict:
    data: dict = {f: getattr(profile, f) if profile else "" for f in PERSONAL_FIELDS}
    data["ci_authenticated_at"] = profile.ci_authenticated_at if profile else None
    data["shipping_addresses"] = list(member.shipping_addresses.all())
    return data
