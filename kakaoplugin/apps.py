from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class KakaopluginConfig(AppConfig):
    name = "kakaoplugin"
    verbose_name = _("Kakao apps and members")

    def ready(self) -> None:
        from .gate import plugin_endpoint
        from .metrics import register_endpoint_resolver, register_state_source
        from .metrics_state import queue_state, webhook_state, worker_state

        register_endpoint_resolver(plugin_endpoint)
        register_state_source(webhook_state)
        register_state_source(queue_state)
        register_state_source(worker_state)
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "worker-heartbeat", {"task": "kakaoplugin.tasks.heartbeat", "schedule": float(settings.HEARTBEAT_SECONDS)}
        )
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "sweep-webhooks", {"task": "kakaoplugin.tasks.sweep_webhooks", "schedule": settings.PERIODIC_SWEEP_SECONDS}
        )
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "purge-inbound-calls", {"task": "kakaoplugin.tasks.purge_inbound_calls", "schedule": 24 * 3600.0}
        )
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "dispatch-outbox",
            {"task": "kakaoplugin.tasks.dispatch_outbox", "schedule": settings.OUTBOX_DISPATCH_EVERY_SECONDS},
        )
        from .selectors import watch_blocked_members

        watch_blocked_members()  # the blocked members kept per process (kakaoplugin.selectors)
        # the staff roles (Django groups) exist after every migrate (kakaoplugin.roles)
        from .roles import on_post_migrate

        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="kakaoplugin.roles")
