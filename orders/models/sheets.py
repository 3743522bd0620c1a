"""Order sheets: the option plugin's "temporary order", later the payment plugin's ``ordersheet_id``.

A sheet holds a snapshot of every chosen line: names, values, prices as they were when the buyer
chose, so later catalog edits never change what an order says it sold.
"""

from __future__ import annotations

import secrets

from django.db import models

from kakaoplugin.models import KakaoApp

LIVEMODE_HELP = (
    "False for a test app's (KakaoApp.environment test): a test order uses the catalog's test stock and is "
    "not a sale. Stamped from the app at creation, never changed"
)


def new_order_sheet_id() -> str:
    """Unguessable (144 random bits), url-safe, well under Kakao's 100-character limits."""
    return "os_" + secrets.token_urlsafe(18)


class OrderSheet(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "open"
        ORDERED = "ordered", "paid"
        CANCELLED = "cancelled", "cancelled"

    id = models.CharField(primary_key=True, max_length=40, default=new_order_sheet_id, editable=False)
    kakao_app = models.ForeignKey(KakaoApp, on_delete=models.PROTECT, related_name="order_sheets")
    livemode = models.BooleanField("live mode", editable=False, help_text=LIVEMODE_HELP)
    app_user_id = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    relay_id = models.CharField(max_length=200, null=True, blank=True, db_index=True)
    product = models.ForeignKey("catalog.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    product_code = models.CharField(max_length=100)
    product_name = models.CharField(max_length=200)
    product_url = models.CharField(max_length=500, blank=True)
    unit_price = models.BigIntegerField(default=0)
    quantity = models.PositiveIntegerField(default=1)
    total_amount = models.BigIntegerField(help_text="KRW, recomputed on the server from the catalog")
    tax_free_amount = models.BigIntegerField(default=0)
    use_shipping = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.id} {self.product_name} ×{self.quantity}"


class OrderSheetLine(models.Model):
    """One chosen answer: an option picked, or a TEXT/NUMBERS/INTEGER/DATE answer given."""

    sheet = models.ForeignKey(OrderSheet, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    group_id = models.CharField(max_length=100)
    group_name = models.CharField(max_length=200)
    group_type = models.CharField(max_length=20)
    sub_group_id = models.CharField(max_length=200, blank=True)
    option_id = models.CharField(max_length=100, blank=True)
    option_value = models.CharField(max_length=200, blank=True)
    # The catalog row whose stock this line takes (None for answers and options unlimited in both modes).
    catalog_option = models.ForeignKey(
        "catalog.Option", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    add_price = models.BigIntegerField(default=0)
    quantity = models.PositiveIntegerField(null=True, blank=True, help_text="Set when chosen with its own quantity")
    amount = models.BigIntegerField(default=0, help_text="What this line adds to the sheet's total")
    extra = models.CharField(max_length=500, null=True, blank=True)
    text = models.CharField(max_length=2000, null=True, blank=True)

    class Meta:
        ordering = ["sheet_id", "position"]
