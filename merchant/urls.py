"""The merchant API, mounted at /api/v1/ (config.urls)."""

from django.urls import path

from . import apis, catalog_apis

urlpatterns = [
    path("order-sheets", apis.OrderSheetCreateApi.as_view(), name="merchant-order-sheet-create"),
    path("order-sheets/<str:sheet_id>", apis.OrderSheetDetailApi.as_view(), name="merchant-order-sheet"),
    path("products/<str:product_id>/launch-link", apis.ProductLaunchLinkApi.as_view(), name="merchant-product-launch"),
    path("kakaosync/launch-link", apis.KakaoSyncLaunchApi.as_view(), name="merchant-kakaosync-launch"),
    path("orders", apis.OrderListApi.as_view(), name="merchant-orders"),
    path("orders/by-relay-id/<str:relay_id>", apis.OrderByRelayApi.as_view(), name="merchant-order-by-relay"),
    path("orders/<str:partner_order_id>", apis.OrderDetailApi.as_view(), name="merchant-order"),
    path("members/<str:app_user_id>", apis.MemberDetailApi.as_view(), name="merchant-member"),
    path("products", catalog_apis.ProductListApi.as_view(), name="merchant-products"),
    path("products/<str:product_id>", catalog_apis.ProductDetailApi.as_view(), name="merchant-product"),
    path("stock", catalog_apis.StockApi.as_view(), name="merchant-stock"),
]
