"""Order sheets: the option plugin's "temporary order", later the payment plugin's ``ordersheet_id``.

A sheet holds a snapshot of every chosen line: names, values, prices as they were when the buyer
chose, so later catalog edits never change what an order says it sold.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from kakaoplugin.models import KakaoApp

LIVEMODE_HELP = _(
    "False for a test app's (KakaoApp.environment test): a test order uses the catalog's test stock and is "
    "not a sale. Stamped from the app at creation, never changed"
)


def new_order_sheet_id() -> str:
    """Unguessable (144 random bits), url-safe, well under Kakao's 100-character limits."""
    return "os_" + secrets.token_urlsafe(18)


class OrderSheet(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("open")
        ORDERED = "ordered", _("paid")
        CANCELLED = "cancelled", _("cancelled")

    id = models.CharField(_("id"), primary_key=True, max_length=40, default=new_order_sheet_id, editable=False)
    kakao_app = models.ForeignKey(KakaoApp, verbose_name=_("kakao app"), on_delete=models.PROTECT, related_name="order_sheets")
    livemode = models.BooleanField(_("live mode"), editable=False, help_text=LIVEMODE_HELP)
    app_user_id = models.CharField(_("app user id"), max_length=64, null=True, blank=True, db_index=True)
    relay_id = models.CharField(_("relay id"), max_length=200, null=True, blank=True, db_index=True)
    product = models.ForeignKey("catalog.Product", verbose_name=_("product"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    product_code = models.CharField(_("product code"), max_length=100)
    product_name = models.CharField(_("product name"), max_length=200)
    product_url = models.CharField(_("product url"), max_length=500, blank=True)
    unit_price = models.BigIntegerField(_("unit price"), default=0)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    total_amount = models.BigIntegerField(_("total amount"), help_text=_("KRW, recomputed on the server from the catalog"))
    tax_free_amount = models.BigIntegerField(_("tax free amount"), default=0)
    use_shipping = models.BooleanField(_("use shipping"), default=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    expires_at = models.DateTimeField(_("expires at"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("order sheet")
        verbose_name_plural = _("order sheets")

    def __str__(self) -> str:
        return f"{self.id} {self.product_name} ×{self.quantity}"


class OrderSheetLine(models.Model):
    """One chosen answer: an option picked, or a TEXT/NUMBERS/INTEGER/DATE answer given."""

    sheet = models.ForeignKey(OrderSheet, verbose_name=_("sheet"), on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(_("position"), default=0)
    group_id = models.CharField(_("group id"), max_length=100)
    group_name = models.CharField(_("group name"), max_length=200)
    group_type = models.CharField(_("group type"), max_length=20)
    sub_group_id = models.CharField(_("sub group id"), max_length=200, blank=True)
    option_id = models.CharField(_("option id"), max_length=100, blank=True)
    option_value = models.CharField(_("option value"), max_length=200, blank=True)
    # The catalog row whose stock this line takes (None for answers and options unlimited in both modes).
    catalog_option = models.ForeignKey(
        "catalog.Option", verbose_name=_("catalog option"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    add_price = models.BigIntegerField(_("add price"), default=0)
    quantity = models.PositiveIntegerField(_("quantity"), null=True, blank=True, help_text=_("Set when chosen with its own quantity"))
    amount = models.BigIntegerField(_("amount"), default=0, help_text=_("What this line adds to the sheet's total"))
    extra = models.CharField(_("extra"), max_length=500, null=True, blank=True)
    text = models.CharField(_("text"), max_length=2000, null=True, blank=True)

    class Meta:
        ordering = ["sheet_id", "position"]
        verbose_name = _("order sheet line")
        verbose_name_plural = _("order sheet lines")
