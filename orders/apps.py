from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders and payments")

    def ready(self) -> None:
        from django.conf import settings

        from kakaoplugin.gate import register_browser_area, register_fast_path
        from kakaoplugin.plugin_paths import PAY_ACTIONS, PAY_AREA

        from .apis import payment_t4
        from .pay_links import kakao_app_for_pay_ref

        register_fast_path("order_status", payment_t4)  # T4: Kakao polls it every 0.5 s per buyer
        from .models import Order
        from .status_cache import watch

        watch(Order)  # T4's status cache hears every save and delete (orders.status_cache)
        from .rules import watch_store_rules

        watch_store_rules()  # payment T1/T2 keep the store rules per process (orders.rules)
        # KakaoPay's redirects of the buyer's browser: /pay/<partner_order_id>/<action>/<token>
        register_browser_area(PAY_AREA, resolve=kakao_app_for_pay_ref, actions=PAY_ACTIONS)

        from kakaoplugin.metrics import register_state_source

        from .metrics import order_state

        register_state_source(order_state)

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
