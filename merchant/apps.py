from django.apps import AppConfig


class MerchantConfig(AppConfig):
    name = "merchant"
    verbose_name = "Merchant integration API"

    def ready(self) -> None:
        import kakaoplugin.openapi  # noqa: F401  (registers the API key's OpenAPI security scheme)
