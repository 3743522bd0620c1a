"""The admin side of :mod:`kakaoplugin.masking`: one mixin every admin holding personal data uses.

Fields named in ``personal_fields`` are swapped for a generated ``masked_<name>`` display unless
the staff user has ``kakaoplugin.view_personal_data``. It works with ``fields`` and ``fieldsets``.
A scalar is masked (``홍*동``); JSON keeps its shape with its personal values masked.
"""

from __future__ import annotations

import json

from django.utils.html import format_html
from django.utils.translation import gettext_lazy

from .masking import PERSONAL_CONTAINERS, can_see_personal_data, mask_leaf, mask_personal

HIDDEN = gettext_lazy("(hidden: needs the “see personal data” permission)")


def pretty_json(value) -> str:
    return format_html(
        "<pre style='white-space:pre-wrap;max-width:60em'>{}</pre>", json.dumps(value, ensure_ascii=False, indent=2)
    )


def _masked_display(name: str):
    def display(self, obj):
        if not hasattr(obj, name) or callable(getattr(obj, name)):
            return HIDDEN  # a display of the admin (thumbnails), not a model field
        value = getattr(obj, name)
        if isinstance(value, dict | list):
            return pretty_json(mask_personal(value, whole=name in PERSONAL_CONTAINERS))
        return mask_leaf(name, value) or ""

    # the field's verbose name is its name spaced (the model marks it): the same catalogue entry
    display.short_description = gettext_lazy(name.replace("_", " "))
    return display


class PersonalDataMixin:
    personal_fields: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in cls.personal_fields:
            if not hasattr(cls, f"masked_{name}"):
                setattr(cls, f"masked_{name}", _masked_display(name))

    def _swap(self, names):
        return [f"masked_{f}" if f in self.personal_fields else f for f in names]

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        return fields if can_see_personal_data(request.user) else self._swap(fields)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if can_see_personal_data(request.user) or not self.fieldsets:
            return fieldsets  # without declared fieldsets Django builds them from get_fields()
        return [(title, {**opts, "fields": self._swap(opts["fields"])}) for title, opts in fieldsets]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if can_see_personal_data(request.user):
            return fields
        return self._swap(fields) + [f"masked_{f}" for f in self.personal_fields if f not in fields]
