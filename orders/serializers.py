"""The stable representation of order sheets and orders for the merchant's systems.

One serializer serves the merchant API's order endpoints and the ``data.order`` of every order
webhook (``orders.webhooks``), so a receiver and an API client read the same shape.  Read-only:
writes go through services.  Load rows with :func:`orders.selectors.orders_with_details` (a
constant number of queries whatever the number of orders).
"""

from __future__ import annotations

import copy

from rest_framework import serializers

from .models import Order, OrderSheet, OrderSheetLine, PaymentEvent


class FieldsBuiltOnce:
    """DRF builds a ModelSerializer's fields from the model's, by introspection, for every instance:
    more than half the cost of serializing an order, paid by every order webhook
    (``orders.webhooks``) and every order of a list.  Read-only serializers need them built once per
    class: each instance gets a copy of that set (a field binds to its parent).  (A plain
    ``Serializer`` copies its declared fields already: nothing to gain there.)"""

    def get_fields(self):
        cls = type(self)
        if "_fields_built" not in cls.__dict__:
            cls._fields_built = super().get_fields()
        return copy.deepcopy(cls._fields_built)


class OrderSheetLineSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """One chosen answer: an option picked (``option_id``), or a typed answer (``text``)."""

    class Meta:
        model = OrderSheetLine
        fields = [
            "group_id", "group_name", "group_type", "sub_group_id", "option_id", "option_value",
            "add_price", "quantity", "amount", "extra", "text",
        ]  # fmt: skip
        read_only_fields = fields


class ProductSnapshotSerializer(serializers.Serializer):
    """The product as it was when the buyer chose (later catalog edits do not change it)."""

    id = serializers.CharField(source="product_code", help_text="The product id (catalog code)")
    name = serializers.CharField(source="product_name")
    unit_price = serializers.IntegerField(help_text="KRW")
    quantity = serializers.IntegerField()
    url = serializers.CharField(source="product_url", allow_blank=True)


class ShippingAddressSerializer(serializers.Serializer):
    """The delivery address the buyer chose in KakaoPay (payment T2)."""

    base_address = serializers.CharField(allow_blank=True)
    detail_address = serializers.CharField(allow_blank=True)
    post_no = serializers.CharField(allow_blank=True, help_text="old 6-digit zip")
    zone_code = serializers.CharField(allow_blank=True, help_text="5-digit zip")
    receiver_name = serializers.CharField(allow_blank=True)
    receiver_mobile_number = serializers.CharField(allow_blank=True)


class PaymentEventSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """What happened to the payment, in order (requests and answers stay in the admin)."""

    class Meta:
        model = PaymentEvent
        fields = ["kind", "outcome", "message", "created_at"]
        read_only_fields = fields


class OrderSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """An order: one payment attempt on an order sheet, with what was bought and what was paid.

    ``livemode`` is false for a test app's order (a test payment: not a sale, real stock untouched).
    """

    livemode = serializers.BooleanField(
        read_only=True, help_text="false: a test order (the Kakao app is a test app); not a sale"
    )

    order_sheet_id = serializers.CharField(source="sheet_id")
    order_status = serializers.ChoiceField(
        source="t4_status", choices=["W", "S", "F", "C"],
        help_text="What payment T4 answers Kakao: W waiting, S paid, F failed, C cancelled",
    )  # fmt: skip
    product = ProductSnapshotSerializer(source="sheet")
    lines = OrderSheetLineSerializer(source="sheet.lines", many=True)
    shipping_address = ShippingAddressSerializer(allow_null=True)
    refundable_amount = serializers.IntegerField(help_text="KRW still refundable")
    events = PaymentEventSerializer(many=True)

    class Meta:
        model = Order
        fields = [
            "partner_order_id", "livemode", "order_sheet_id", "status", "order_status", "failure_reason", "failure_message",
            "app_user_id", "partner_user_id", "relay_id", "item_name", "item_code", "quantity", "product", "lines",
            "goods_amount", "shipping_fee", "total_amount", "tax_free_amount", "vat_amount", "use_shipping",
            "shipping_address", "tid", "aid", "payment_method", "approved_amount", "approved_at",
            "refunded_amount", "refunded_tax_free_amount", "refunded_vat_amount", "refundable_amount",
            "events", "created_at", "updated_at", "completed_at",
        ]  # fmt: skip
        read_only_fields = fields


class OrderSheetSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """An order sheet: the choices a payment plugin launch (``oneclick_id``) pays for."""

    product_id = serializers.CharField(source="product_code")
    livemode = serializers.BooleanField(read_only=True, help_text="false: made for a test app (test stock)")
    goods_amount = serializers.IntegerField(source="total_amount", help_text="KRW: quantity × price plus options")
    lines = OrderSheetLineSerializer(many=True)

    class Meta:
        model = OrderSheet
        fields = [
            "id", "livemode", "status", "app_user_id", "relay_id", "product_id", "product_name", "product_url", "unit_price",
            "quantity", "goods_amount", "tax_free_amount", "use_shipping", "lines", "expires_at", "created_at",
        ]  # fmt: skip
        read_only_fields = fields
