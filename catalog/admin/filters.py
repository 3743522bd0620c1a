"""The product list's stock filter (the admin's dashboard links to it)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..selectors import stock_alert_q


class StockAlertFilter(admin.SimpleListFilter):
    title = _("live stock")
    parameter_name = "stock_alert"

    def lookups(self, request, model_admin):
        return [("sold_out", _("An option sold out")), ("low", _("Running low (at or below the threshold)"))]

    def queryset(self, request, queryset):
        if self.value() in ("sold_out", "low"):
            return queryset.filter(stock_alert_q(self.value()))
        return queryset
