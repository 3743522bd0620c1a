from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MerchantConfig(AppConfig):
    name = "merchant"
    verbose_name = _("Merchant integration API")

    def ready(self) -> None:
        from kakaoplugin.metrics import register_endpoint_resolver

        from . import openapi  # noqa: F401  (registers the API key's OpenAPI security scheme)

        register_endpoint_resolver(skill_endpoint)

        from django.conf import settings

        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "merchant-purge-idempotency-keys", {"task": "merchant.tasks.purge_idempotency_keys", "schedule": 3600.0}
        )


def skill_endpoint(path: str) -> str | None:
    """Metrics label of a chatbot skill path (``/skill/<key>/<name>``), without the key."""
    if not path.startswith("/skill/"):
        return None
    from .skills.answers import SKILLS

    name = path.rstrip("/").rsplit("/", 1)[-1]
    return f"skill_{name}" if name in SKILLS else "skill_unknown"
