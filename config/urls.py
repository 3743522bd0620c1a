"""Root URLs. Plugin URLs live under /plugin/<plugin_key>/ (CONTRACTS section 8); the gate
middleware has already resolved the key to ``request.kakao_app`` when a view runs."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from catalog.images import product_image
from kakaoplugin.health import healthz, readyz
from kakaoplugin.metrics import metrics_view

plugin_patterns = [
    path("", include("catalog.urls")),
    path("", include("orders.urls")),
    path("", include("callbacks.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the admin header's language switch
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the admin header's language switch
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("merchant.urls")),
    path("skill/", include("merchant.skills.urls")),  # Open Builder's chatbot skills (own secret key)
    path("media/products/<path:name>", product_image, name="product-image"),  # public, unlike other media
    path("plugin/<str:plugin_key>/", include(plugin_patterns)),
    # The buyer's browser (no plugin key, no allowlist; a token per order or per state): see
    # kakaoplugin.plugin_paths.BROWSER_PATHS and docs/security.md.
    path("pay/", include("orders.browser_urls")),
    path("sync/", include("callbacks.browser_urls")),
]

if settings.DEBUG:
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})]
