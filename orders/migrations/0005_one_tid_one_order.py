"""A tid belongs to one order for ever (issue 11).

Existing data may already hold a tid on two orders of one app (the very bug).  Before the
constraint is added, each such tid stays with the order that received it first (its earliest
accepted T2, else the oldest order); every other order loses it, is flagged ``duplicate_tid`` for
staff with the tid kept in ``flag_note`` and a payment event, and — if its payment was still
unsettled — fails (it can never be settled by another order's payment).  A paid duplicate stays
paid but flagged: staff decide (its money, if any, was never its own tid's).
"""

from django.db import migrations, models
from django.db.models import Count, Min
from django.utils import timezone

UNSETTLED = ("pending", "held", "approving", "refunding")


def clear_duplicate_tids(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    PaymentEvent = apps.get_model("orders", "PaymentEvent")
    dupes = (
        Order.objects.exclude(tid="").values("kakao_app_id", "tid").annotate(n=Count("id")).filter(n__gt=1)
    )
    for dupe in dupes:
        holders = list(Order.objects.filter(kakao_app_id=dupe["kakao_app_id"], tid=dupe["tid"]))

        def first_t2(order):
            at = PaymentEvent.objects.filter(order_id=order.pk, kind="t2_received", outcome="ok").aggregate(
                at=Min("created_at")
            )["at"]
            return (at is None, at or order.created_at, order.pk)

        holders.sort(key=first_t2)
        keeper = holders[0]
        for order in holders[1:]:
            note = f"tid {order.tid} was also held by order {keeper.partner_order_id}; removed from this order"
            order.flag, order.flag_note, order.tid = "duplicate_tid", note[:300], ""
            if order.status in UNSETTLED:
                order.status, order.failure_reason = "failed", "duplicate_tid"
                order.failure_message = "결제 정보가 주문과 일치하지 않습니다. 판매자에게 문의해 주세요."
                order.lease_until, order.completed_at = None, timezone.now()
            order.save()
            PaymentEvent.objects.create(
                order_id=order.pk, kind="state", idempotency_key=f"migration:duplicate_tid:{order.pk}",
                outcome="refused", message=note[:500],
            )  # fmt: skip


class Migration(migrations.Migration):

    dependencies = [
        ('kakaoplugin', '0003_inbound_calls'),
        ('orders', '0004_livemode'),
    ]

    operations = [
        migrations.AddField(
            model_name='order',
            name='flag',
            field=models.CharField(blank=True, choices=[('', '—'), ('answer_mismatch', 'KakaoPay answer does not match the order'), ('duplicate_tid', 'tid also held by another order (before the unique tid rule)')], db_index=True, default='', help_text='Set when something about the payment needs a person (see the payment events)', max_length=20, verbose_name='review flag'),
        ),
        migrations.AddField(
            model_name='order',
            name='flag_note',
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AlterField(
            model_name='paymentevent',
            name='kind',
            field=models.CharField(choices=[('t1_served', 'T1 Served'), ('t2_received', 'T2 Received'), ('t3_received', 'T3 Received'), ('buyer_cancel', 'Buyer Cancelled'), ('buyer_fail', 'Buyer Failed'), ('approve_request', 'Approve Request'), ('approve_success', 'Approve Success'), ('approve_failure', 'Approve Failure'), ('approve_unknown', 'Approve Unknown'), ('inquiry', 'Inquiry'), ('cancel_request', 'Cancel Request'), ('cancel_success', 'Cancel Success'), ('cancel_failure', 'Cancel Failure'), ('cancel_unknown', 'Cancel Unknown'), ('state', 'State'), ('answer_mismatch', 'Answer Mismatch'), ('charge_request', 'Charge Request'), ('charge_success', 'Charge Success'), ('charge_failure', 'Charge Failure'), ('charge_unknown', 'Charge Unknown'), ('subscription', 'Subscription')], max_length=20),
        ),
        migrations.RunPython(clear_duplicate_tids, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='order',
            constraint=models.UniqueConstraint(condition=models.Q(('tid', ''), _negated=True), fields=('kakao_app', 'tid'), name='order_unique_tid_per_app'),
        ),
    ]
