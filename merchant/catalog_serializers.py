"""Request and response shapes of the catalog API (and its OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from catalog.models import Product
from catalog.stock_sync import MAX_ROWS

# Product fields outside option T1's OptionResponse, stored and answered beside the tree.
COMMERCE_FIELDS = (
    "on_sale", "kind", "tax_type", "needs_shipping", "product_url", "stock", "category", "list_price",
    "low_stock_threshold",
)  # fmt: skip
TREE_FIELDS = ("id", "name", "price", "min_quantity", "max_quantity", "default_quantity", "option_groups")
MAX_PRICE = 2_000_000_000


class CatalogErrorSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="the HTTP status")
    message = serializers.CharField()
    problems = serializers.ListField(child=serializers.CharField(), required=False,
                                     help_text="422 for a tree: every problem, named by group › sub-group › option")  # fmt: skip


class ProductWriteSerializer(serializers.Serializer):
    """Option T1's OptionResponse (``id``, ``name``, ``price``, quantities, ``option_groups``) plus the
    commerce fields. The tree itself is checked by the one tree validator (422 with every problem)."""

    id = serializers.CharField(max_length=100, required=False, help_text="the path's product id (may be omitted)")
    name = serializers.CharField(max_length=200)
    price = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_PRICE)
    min_quantity = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=10_000)
    max_quantity = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=10_000)
    default_quantity = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=10_000)
    option_groups = serializers.ListField(child=serializers.DictField(), required=False, max_length=200,
                                          help_text="option T1's OptionGroup objects")  # fmt: skip
    on_sale = serializers.BooleanField(required=False, default=True)
    kind = serializers.ChoiceField(choices=Product.Kind.choices, required=False, default=Product.Kind.COMMERCE)
    tax_type = serializers.ChoiceField(choices=Product.TaxType.choices, required=False, default=Product.TaxType.TAXABLE)
    needs_shipping = serializers.BooleanField(required=False, default=True)
    product_url = serializers.URLField(required=False, allow_blank=True, default="", max_length=200)
    stock = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=MAX_PRICE,
                                     help_text="a product without options: units available; empty: unlimited")  # fmt: skip
    category = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    list_price = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=MAX_PRICE)
    low_stock_threshold = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=MAX_PRICE,
        help_text="webhook option.low_stock when an option's live stock falls to this or below (once per crossing); empty: never",
    )  # fmt: skip

    def validate_id(self, value: str) -> str:
        if value != self.context["product_id"]:
            raise serializers.ValidationError("id differs from the product id of the URL")
        return value

    def split(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the tree for the importer, the commerce settings)."""
        data = dict(self.validated_data)
        tree = {k: data[k] for k in TREE_FIELDS if k in data and data[k] is not None}
        tree["id"] = self.context["product_id"]
        tree.setdefault("option_groups", [])
        return tree, {k: data[k] for k in COMMERCE_FIELDS if k in data}


class ProductSerializer(ProductWriteSerializer):
    """What a GET answers: the tree exactly as stored, then the commerce fields."""

    updated_at = serializers.DateTimeField(read_only=True)


class ProductSummarySerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="code")

    class Meta:
        model = Product
        fields = ("id", "name", "price", *COMMERCE_FIELDS, "updated_at")


class ProductFilterSerializer(serializers.Serializer):
    on_sale = serializers.BooleanField(required=False, allow_null=True, default=None)
    updated_since = serializers.DateTimeField(required=False, help_text="ISO 8601, inclusive")

    def validate(self, attrs):
        return {k: v for k, v in attrs.items() if v is not None}


class StockRowSerializer(serializers.Serializer):
    product_id = serializers.CharField(required=False, max_length=100)
    option_path = serializers.CharField(required=False, max_length=2000, help_text="e.g. “S / R / A”, as the admin's grid")
    sub_group_id = serializers.CharField(required=False, max_length=200)
    option_id = serializers.CharField(required=False, max_length=100)
    sku = serializers.CharField(required=False, max_length=500, help_text="the option's extra")
    set = serializers.IntegerField(required=False, min_value=0, max_value=MAX_PRICE)
    adjust = serializers.IntegerField(required=False, min_value=-MAX_PRICE, max_value=MAX_PRICE)


class StockPatchSerializer(serializers.Serializer):
    rows = serializers.ListField(child=StockRowSerializer(), min_length=1, max_length=MAX_ROWS)


class StockRowResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    ok = serializers.BooleanField()
    stock = serializers.IntegerField(required=False)
    previous = serializers.IntegerField(required=False, allow_null=True)
    error = serializers.CharField(required=False)


class StockResultSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    message = serializers.CharField(required=False)
    rows = StockRowResultSerializer(many=True)
