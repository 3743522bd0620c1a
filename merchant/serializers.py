"""Request and response shapes of the merchant API (they are also its OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from orders.models import Order
from orders.serializers import OrderSerializer, OrderSheetSerializer

__all__ = ["OrderSerializer"]  # the order shape is the orders app's (shared with the webhooks)

MAX_SHEET_TTL_SECONDS = 7 * 24 * 3600


class ErrorSerializer(serializers.Serializer):
    """Every error of the API: the project's envelope, with the HTTP status repeated in ``status``."""

    status = serializers.IntegerField(help_text="the HTTP status")
    message = serializers.CharField(help_text="what was wrong (Korean and/or English)")


class OptionChoiceSerializer(serializers.Serializer):
    """One choice, as option T2 receives it from Kakao (CONTRACTS section 5, SelectOption)."""

    option_group_id = serializers.CharField(max_length=100)
    option_id = serializers.CharField(max_length=100, required=False, help_text="for SELECT and MULTI_SELECT groups")
    quantity = serializers.IntegerField(required=False, min_value=1, help_text="the option's own quantity, when it has one")
    text = serializers.CharField(
        required=False, max_length=2000, help_text="the answer of a TEXT, NUMBERS, INTEGER or DATE (YYYYMMDD) group"
    )
    add_price = serializers.IntegerField(
        required=False, help_text="optional: refused when it differs from the catalog (a stale price list)"
    )
    extra = serializers.CharField(required=False, max_length=500, help_text="optional: must equal the catalog's")


class OrderSheetCreateSerializer(serializers.Serializer):
    """Choices validated exactly like option T2; an order sheet the payment plugin then pays for."""

    product_id = serializers.CharField(max_length=100, help_text="the product id (catalog code), e.g. 101:10013529")
    quantity = serializers.IntegerField(required=False, min_value=1, help_text="default: the product's default quantity")
    option_groups = OptionChoiceSerializer(many=True, required=False)
    price = serializers.IntegerField(
        required=False, help_text="optional: the unit price you expect; refused when the catalog's differs"
    )
    app_user_id = serializers.CharField(
        required=False, max_length=64,
        help_text="bind the sheet to this buyer: payment T1 from anyone else is refused (code 400)",
    )  # fmt: skip
    relay_id = serializers.CharField(
        required=False, max_length=200, help_text="your chat session id; kept on the sheet and its orders"
    )
    expires_in = serializers.IntegerField(
        required=False, min_value=60, max_value=MAX_SHEET_TTL_SECONDS,
        help_text="seconds the sheet can be paid; default ORDER_SHEET_TTL_SECONDS",
    )  # fmt: skip

    def choices(self) -> dict[str, Any]:
        """The validated request as option T2's body (what ``order_sheet_create_from_choices`` takes)."""
        data = self.validated_data
        body: dict[str, Any] = {"id": data["product_id"], "option_groups": data.get("option_groups", [])}
        for name in ("quantity", "price"):
            if name in data:
                body[name] = data[name]
        return body


class LaunchSerializer(serializers.Serializer):
    plugin_id = serializers.CharField(help_text="the Kakao plugin id (set per Kakao app in the admin)")
    launch_link = serializers.CharField(help_text="kakaotalk://bizplugin?plugin_id=...; send it to the buyer")


class KakaoSyncLaunchSerializer(serializers.Serializer):
    state = serializers.CharField(help_text="the state Kakao Sync's redirect URI requires: pass it when you launch the plugin")
    expires_in = serializers.IntegerField(help_text="seconds the state stays valid")
    redirect_uri = serializers.CharField(help_text="the app's Kakao Sync redirect URI (fixed: registered in Kakao Developers)")
    plugin_id = serializers.CharField(allow_blank=True, help_text="the Kakao Sync plugin id (empty when not set)")
    launch_link = serializers.CharField(allow_null=True, help_text="kakaotalk://bizplugin?plugin_id=...&state=...; null without a plugin id")


class OrderSheetCreatedSerializer(OrderSheetSerializer):
    shipping_fee = serializers.SerializerMethodField(
        help_text="KRW, the store's base fee now; payment T1 adds any remote-area (도서산간) surcharge"
    )
    total_amount = serializers.SerializerMethodField(help_text="KRW, goods_amount + shipping_fee")
    plugin_id = serializers.SerializerMethodField(help_text="the payment plugin id")
    launch_link = serializers.SerializerMethodField(
        help_text="kakaotalk://bizplugin?plugin_id=<payment plugin id>&oneclick_id=<sheet id>"
    )

    class Meta(OrderSheetSerializer.Meta):
        fields = [*OrderSheetSerializer.Meta.fields, "shipping_fee", "total_amount", "plugin_id", "launch_link"]
        read_only_fields = fields

    def get_shipping_fee(self, sheet) -> int:
        return self.context["shipping_fee"]

    def get_total_amount(self, sheet) -> int:
        return sheet.total_amount + self.context["shipping_fee"]

    def get_plugin_id(self, sheet) -> str:
        return self.context["plugin_id"]

    def get_launch_link(self, sheet) -> str:
        return self.context["launch_link"]


class ProductLaunchSerializer(LaunchSerializer):
    product_id = serializers.CharField()
    product_name = serializers.CharField()
    on_sale = serializers.BooleanField(help_text="false: option T2 refuses the product until it is on sale again")


class OrderFilterSerializer(serializers.Serializer):
    """Query parameters of the order list."""

    status = serializers.CharField(
        required=False, help_text="one or more of " + ", ".join(Order.Status.values) + ", comma-separated"
    )
    order_status = serializers.ChoiceField(
        choices=["W", "S", "F", "C"], required=False, help_text="what payment T4 answers: W, S, F or C"
    )
    relay_id = serializers.CharField(required=False, max_length=200)
    app_user_id = serializers.CharField(required=False, max_length=64)
    order_sheet_id = serializers.CharField(required=False, max_length=40)
    created_after = serializers.DateTimeField(required=False, help_text="ISO 8601, inclusive")
    created_before = serializers.DateTimeField(required=False, help_text="ISO 8601, exclusive")
    updated_after = serializers.DateTimeField(
        required=False, help_text="ISO 8601, inclusive: poll for changes since your last sync"
    )

    def validate_status(self, value: str) -> list[str]:
        wanted = [v.strip() for v in value.split(",") if v.strip()]
        unknown = sorted(set(wanted) - set(Order.Status.values))
        if unknown:
            raise serializers.ValidationError(f"unknown status {', '.join(unknown)}; one of {', '.join(Order.Status.values)}")
        return wanted


class ConsentSerializer(serializers.Serializer):
    tag = serializers.CharField()
    agreed_at = serializers.DateTimeField(allow_null=True)


class ShippingAddressOnFileSerializer(serializers.Serializer):
    kakao_address_id = serializers.CharField(allow_blank=True)
    base_address = serializers.CharField(allow_blank=True)
    detail_address = serializers.CharField(allow_blank=True)
    receiver_name = serializers.CharField(allow_blank=True)
    receiver_mobile_number = serializers.CharField(allow_blank=True)
    post_no = serializers.CharField(allow_blank=True)
    zone_code = serializers.CharField(allow_blank=True)
    collected_at = serializers.DateTimeField()


class PersonalDataSerializer(serializers.Serializer):
    """Only for keys with the ``members:personal`` scope."""

    nickname = serializers.CharField(allow_blank=True)
    profile_image_url = serializers.CharField(allow_blank=True)
    phone_number = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)
    age_range = serializers.CharField(allow_blank=True)
    birthyear = serializers.CharField(allow_blank=True)
    birthday = serializers.CharField(allow_blank=True, help_text="MMDD")
    gender = serializers.CharField(allow_blank=True)
    ci_authenticated_at = serializers.DateTimeField(allow_null=True)
    shipping_addresses = ShippingAddressOnFileSerializer(many=True)


class MemberSerializer(serializers.Serializer):
    app_user_id = serializers.CharField()
    blocked = serializers.BooleanField(help_text="blocked members get payment code 401")
    created_at = serializers.DateTimeField()
    has_profile = serializers.BooleanField(help_text="we hold personal data of this member")
    profile_source = serializers.CharField(allow_blank=True, help_text="callback (개인정보이용 plugin) or kakaosync")
    profile_collected_at = serializers.DateTimeField(allow_null=True)
    consents = ConsentSerializer(many=True, help_text="Kakao Sync service terms agreed to")
    orders = serializers.IntegerField(help_text="how many orders this member paid (paid or later refunded)")
    personal = PersonalDataSerializer(allow_null=True, help_text="null unless the key has members:personal")
