from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders and payments"

    def ready(self) -> None:
        from django.conf import settings

        from kakaoplugin.gate import register_fast_path

        from .apis import order_status

        register_fast_path("order_status", order_status)  # T4: Kakao polls it every 0.5 s per buyer

        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "orders.sweep_expired_orders", {"task": "orders.tasks.sweep_expired_orders", "schedule": settings.PERIODIC_SWEEP_SECONDS}
        )
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "orders.reconcile_payments", {"task": "orders.tasks.reconcile_payments", "schedule": settings.PERIODIC_SWEEP_SECONDS}
        )
        settings.CELERY_BEAT_SCHEDULE.setdefault(
            "orders.charge_subscriptions",
            {"task": "orders.tasks.charge_subscriptions", "schedule": settings.SUBSCRIPTION_CHARGE_EVERY_SECONDS},
        )
