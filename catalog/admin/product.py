"""The merchant's product admin: the list, and a product with its whole tree on one page.

- Nested inlines with drag ordering (:mod:`catalog.admin.inlines`): groups, their sub-groups, their
  options. An option's "next sub-group" is its ``relate_option_groups`` entry; a group's "shown
  when option" makes it one of that option's ``added_option_groups``.
- Every save is checked by the one tree validator inside the save's transaction: a tree that breaks
  a rule is not saved, the page comes back with the validator's messages (see ``changeform_view``).
- The tools under each product (:mod:`catalog.admin.tools`): the combination generator, the
  price/stock grid (and its CSV), the T1 preview; on the list: import of T1 JSON, and an action
  exporting it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import nested_admin
import orjson
from django.contrib import admin
from django.db import IntegrityError, models
from django.http import HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .. import services
from ..models import Product
from ..selectors import tree_load, tree_response
from ..tree import TreeInvalid
from .filters import StockAlertFilter
from .inlines import GroupInline
from .problems import RowProblems
from .tools import ProductTools
from .tree_rows import AdminTree


@dataclass
class TreeEdit:
    """One pass of one request through a product's change page.

    ``tree``: the product's tree as stored when the pass starts (four queries), loaded before
    anything is saved; ``errors``: what the validator said of the refused first pass (shown by the
    second, above the form, and each located one at its row's field: ``row_problems``); ``old_codes``: the product codes a save replaced (their T1 answers are forgotten).
    """

    tree: AdminTree | None
    errors: list[str] = field(default_factory=list)
    old_codes: list[str] = field(default_factory=list)
    row_problems: RowProblems | None = None  # the validator's problems by row (shown at their fields)


@admin.register(Product)
class ProductAdmin(ProductTools, nested_admin.NestedModelAdmin):
    list_display = ("code", "name", "price", "on_sale", "kind", "tax_type", "tools")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_filter = ("on_sale", "kind", "tax_type", StockAlertFilter)
    search_fields = ("code", "name")
    inlines = [GroupInline]
    actions = ["export_trees"]
    change_list_template = "admin/catalog/product/change_list.html"
    change_form_template = "admin/catalog/product/change_form.html"
    fieldsets = (
        (None, {"fields": ("code", "name", "on_sale", "kind")}),
        (_("Price and quantity"), {"fields": ("price", ("min_quantity", "max_quantity", "default_quantity"), ("stock", "test_stock"), "low_stock_threshold")}),
        (_("Payment"), {"fields": ("tax_type", "needs_shipping", "product_url")}),
        (_("Chatbot card"), {"fields": ("image", "category", "list_price")}),
    )
    # The request's pass, set only on the per-request copy ``changeform_view`` makes (this admin is
    # shared by every request): its forms and inlines read it instead of attributes on the request.
    edit: TreeEdit | None = None

    class Media:
        js = ("catalog/tree_editor.js",)
        css = {"all": ("catalog/tree_editor.css",)}

    @admin.display(description=_("tools"))
    def tools(self, obj):
        return format_html(
            '<a href="{}">preview</a> · <a href="{}">prices &amp; stock</a> · <a href="{}">combinations</a>',
            reverse("admin:catalog_product_preview", args=[obj.pk]),
            reverse("admin:catalog_product_grid", args=[obj.pk]),
            reverse("admin:catalog_product_combinations", args=[obj.pk]),
        )

    # --- saving: the one validator decides ------------------------------------------------------

    def _pass(self, edit: TreeEdit) -> ProductAdmin:
        page = copy.copy(self)
        page.edit = edit
        return page

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        pk = int(object_id) if object_id and str(object_id).isdigit() else None
        first = self._pass(TreeEdit(tree=AdminTree(pk) if pk else None))
        try:
            return super(ProductAdmin, first).changeform_view(request, object_id, form_url, extra_context)
        except TreeInvalid as exc:
            errors, problems = exc.errors, RowProblems(exc.problems)
        except IntegrityError as exc:
            problems = None
            errors = [f"ID가 중복됩니다: 그룹 ID와 하위그룹 ID는 상품 안에서, 옵션 ID는 하위그룹 안에서 유일해야 합니다 (duplicate id: {exc})"]
        # The first pass rolled back; the second shows the same POST with the validator's messages.
        second = self._pass(TreeEdit(tree=AdminTree(pk) if pk else None, errors=errors, row_problems=problems))
        return super(ProductAdmin, second).changeform_view(request, object_id, form_url, extra_context)

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        for inline in inlines:
            inline.edit = self.edit
        return inlines

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        errors = self.edit.errors if self.edit is not None else []
        if not errors:
            return form

        class Refused(form):
            def clean(self):
                cleaned = super().clean()
                for message in errors:
                    self.add_error(None, message)
                return cleaned

        return Refused

    def save_model(self, request, obj, form, change):
        if change and "code" in form.changed_data and form.initial.get("code") and self.edit is not None:
            self.edit.old_codes.append(form.initial["code"])
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        product = form.instance
        services.product_tree_check(product_pk=product.pk)
        old_codes = self.edit.old_codes if self.edit is not None else []
        services.product_tree_changed(product_pks=[product.pk], old_codes=old_codes)

    def delete_model(self, request, obj):
        code = obj.code
        super().delete_model(request, obj)
        services.product_tree_changed(product_pks=[], old_codes=[code])

    def delete_queryset(self, request, queryset):
        codes = list(queryset.values_list("code", flat=True))
        super().delete_queryset(request, queryset)
        services.product_tree_changed(product_pks=[], old_codes=codes)

    # --- export / the tools' pages --------------------------------------------------------------

    @admin.action(description=_("Export option trees (T1 JSON)"))
    def export_trees(self, request, queryset):
        trees = [tree_response(tree_load(pk=pk)) for pk in queryset.values_list("pk", flat=True)]
        data = trees[0] if len(trees) == 1 else trees
        name = f"option-tree-{queryset.first().code}.json" if len(trees) == 1 else "option-trees.json"
        response = HttpResponse(
            orjson.dumps(data, option=orjson.OPT_INDENT_2), content_type="application/json; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name.replace(":", "_")}"'
        return response

    def get_urls(self):
        return [*self.tool_urls(), *super().get_urls()]
