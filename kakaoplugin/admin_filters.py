"""List filters the admin's dashboard links to (``backoffice``): "in the last 24 hours / 7 days"."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

WITHIN = {
    "24h": (timedelta(hours=24), _("Last 24 hours")),
    "7d": (timedelta(days=7), _("Last 7 days")),
}


class WithinFilter(admin.SimpleListFilter):
    """Rows whose ``field`` is within the last 24 hours or 7 days (``?<field>_within=24h``)."""

    field = ""

    def lookups(self, request, model_admin):
        return [(key, label) for key, (_delta, label) in WITHIN.items()]

    def within(self, queryset, since):
        return queryset.filter(**{f"{self.field}__gte": since})

    def queryset(self, request, queryset):
        if self.value() in WITHIN:
            return self.within(queryset, timezone.now() - WITHIN[self.value()][0])
        return queryset


def within_filter(field: str, title) -> type[WithinFilter]:
    return type(f"{field.title()}WithinFilter", (WithinFilter,), {"field": field, "title": title, "parameter_name": f"{field}_within"})


class AttemptedWithinFilter(WithinFilter):
    """Webhook deliveries attempted lately (a failed one: gave up then)."""

    title = _("last attempt")
    parameter_name = "attempted_within"

    def within(self, queryset, since):
        from .selectors import webhook_attempted_since

        return queryset.filter(webhook_attempted_since(since))
