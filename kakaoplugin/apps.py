from django.apps import AppConfig
from django.conf import settings


class KakaopluginConfig(AppConfig):
    name = "kakaoplugin"
    verbose_name = "Kakao apps and members"

    def ready(self) -> None:
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "sweep-webhooks", {"task": "kakaoplugin.tasks.sweep_webhooks", "schedule": settings.PERIODIC_SWEEP_SECONDS}
        )
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "purge-inbound-calls", {"task": "kakaoplugin.tasks.purge_inbound_calls", "schedule": 24 * 3600.0}
        )
