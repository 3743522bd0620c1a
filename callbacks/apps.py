from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class CallbacksConfig(AppConfig):
    name = "callbacks"
    verbose_name = _("Inbound callbacks and Kakao Sync")

    def ready(self) -> None:
        from celery.schedules import crontab

        from kakaoplugin.metrics import register_state_source

        from .metrics import callback_state

        register_state_source(callback_state)

        from kakaoplugin.gate import register_browser_area
        from kakaoplugin.plugin_paths import SYNC_ACTIONS, SYNC_AREA
        from kakaoplugin.selectors import kakao_app_for_sync_ref

        # Kakao Sync's redirect URI, followed by the buyer's browser: /sync/<app id>/redirect
        register_browser_area(SYNC_AREA, resolve=kakao_app_for_sync_ref, actions=SYNC_ACTIONS, pages=True)

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
