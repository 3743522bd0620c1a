"""The tree page's nested inlines: groups, their sub-groups, their options.

Each inline instance is made for one request (Django makes them per request) and carries that
request's :class:`~catalog.admin.product.TreeEdit` (``edit``), handed down from the product's
admin: the tree loaded once for the page, and the problems of a refused save.
"""

from __future__ import annotations

import nested_admin

from ..models import Option, OptionGroup, OptionSubGroup
from .fast_widgets import FAST_RENDERER
from .forms import GroupForm, OptionForm, SubGroupForm


class TreeFormSet(nested_admin.NestedInlineFormSet):
    """Rows and form arguments from the page's :class:`TreeEdit` (set by the inline)."""

    edit = None  # TreeEdit | None

    @property
    def tree(self):
        return self.edit.tree if self.edit is not None else None

    def get_queryset(self):
        if not self.is_bound and self.tree is not None:
            rows = self.tree.children(self.model, self.instance)
            if rows is not None:
                return rows
        return super().get_queryset()

    def get_form_kwargs(self, index):
        problems = self.edit.row_problems if self.edit is not None else None
        return {**super().get_form_kwargs(index), "tree": self.tree, "parent": self.instance, "problems": problems}


class TreeInlineMixin:
    formset = TreeFormSet
    edit = None  # the request's TreeEdit, set by whoever made this instance

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        for inline in inlines:
            inline.edit = self.edit
        return inlines

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.edit = self.edit
        formset.renderer = FAST_RENDERER  # the rows' inputs and selects written in Python
        return formset


class OptionInline(TreeInlineMixin, nested_admin.NestedTabularInline):
    model = Option
    form = OptionForm
    fk_name = "sub_group"
    extra = 0
    sortable_field_name = "position"
    template = "admin/catalog/product/option_inline.html"
    fields = (
        "option_id", "value", "add_price", "stock", "test_stock", "min_quantity", "max_quantity", "extra",
        "next_sub_group", "position",
    )  # fmt: skip


class SubGroupInline(TreeInlineMixin, nested_admin.NestedStackedInline):
    model = OptionSubGroup
    form = SubGroupForm
    fk_name = "group"
    extra = 0
    sortable_field_name = "position"
    inlines = [OptionInline]
    fields = (("sub_group_id", "min_select", "max_select", "default_option_id"), "position")


class GroupInline(TreeInlineMixin, nested_admin.NestedStackedInline):
    model = OptionGroup
    form = GroupForm
    fk_name = "product"
    extra = 0
    sortable_field_name = "position"
    inlines = [SubGroupInline]
    # One fieldset: the editor's script shows only the fields the group's type uses (forms.GroupForm)
    fields = (
        ("group_id", "name", "type", "required"), "description", ("min_length", "max_length"),
        ("min_value", "max_value"), "placeholder", "parent_option", "position",
    )  # fmt: skip
