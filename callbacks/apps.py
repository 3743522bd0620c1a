from django.apps import AppConfig
from django.conf import settings


class CallbacksConfig(AppConfig):
    name = "callbacks"
    verbose_name = "Inbound callbacks and Kakao Sync"

    def ready(self) -> None:
        from celery.schedules import crontab

        # Daily at 03:30 Korean time (18:30 UTC): personal data and raw payloads past retention.
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "callbacks-retention-purge",
            {"task": "callbacks.retention_purge", "schedule": crontab(hour=18, minute=30)},
        )
        # Every minute: secure images whose download task was lost are queued again, or marked
        # expired once Kakao's URLs have stopped working (they live about 10 minutes).
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "callbacks-secure-images-sweep",
            {"task": "callbacks.secure_images_sweep", "schedule": settings.PERIODIC_SWEEP_SECONDS},
        )
