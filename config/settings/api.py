"""Django REST framework, the OpenAPI schema and the merchant API (/api/v1/)."""

from __future__ import annotations

from .base import env

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["kakaoplugin.envelope.OrjsonRenderer"],
    "DEFAULT_PARSER_CLASSES": ["kakaoplugin.envelope.OrjsonParser"],
    "EXCEPTION_HANDLER": "kakaoplugin.envelope.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The merchant API is generated from its serializers; the plugin contracts' OpenAPI is a
# hand-written fragment (merchant/openapi/plugin.yaml) merged into it: the plugin views are not
# generated (merchant.openapi).
SPECTACULAR_SETTINGS = {
    "TITLE": "Kakao TalkBiz plugin backend",
    "DESCRIPTION": (
        "Plugin endpoints Kakao calls (under /plugin/{plugin_key}/, CONTRACTS.md) and the merchant "
        "API (/api/v1/, Bearer API keys scoped to one Kakao app)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # two choice sets share the field name "kind": name each once
    "ENUM_NAME_OVERRIDES": {
        "ProductKindEnum": "catalog.models.Product.Kind",
        "PaymentEventKindEnum": "orders.models.PaymentEvent.Kind",
    },
    "PREPROCESSING_HOOKS": ["merchant.openapi.exclude_plugin_views"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "merchant.openapi.merge_plugin_contracts",
    ],
}

# Order webhooks: first retry after this many seconds, doubling, for a day.
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)

# Merchant API idempotency keys (merchant.idempotency): answers kept this long per API key; a
# duplicate arriving while the first runs waits this long for it, then gets 409.
IDEMPOTENCY_KEY_HOURS = env.int("IDEMPOTENCY_KEY_HOURS", default=24)
IDEMPOTENCY_WAIT_SECONDS = env.float("IDEMPOTENCY_WAIT_SECONDS", default=10.0)

# Requests per merchant API key, counted in the shared cache: "<n>/<second|minute|hour|day>"; empty: unlimited.
MERCHANT_API_RATE = env.str("MERCHANT_API_RATE", default="600/minute")
