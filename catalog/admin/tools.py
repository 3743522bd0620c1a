"""The product admin's tools beside the tree page: import of T1 JSON, the T1 preview, the price
and stock grid (and its CSV), the combination generator. Reads come from :mod:`catalog.selectors`,
writes go through :mod:`catalog.services`; the one tree validator refuses what breaks a rule."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.views.decorators.clickjacking import xframe_options_sameorigin

from .. import services
from ..models import Product
from ..selectors import current_axes, grid_rows, preview_rows, tree_load, tree_response
from ..tree import TreeInvalid
from .forms import CombinationForm, ImportForm

GRID_PAGE_SIZE = 120  # 7 inputs per row stays under Django's 1,000 POST fields


class ProductTools:
    """Views mixed into the product's ModelAdmin (``self`` is the ModelAdmin)."""

    def tool_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="catalog_product_import"),
            # framed by the tree editor's dialog: same origin only (every other admin page: DENY)
            path("<int:pk>/preview/", view(xframe_options_sameorigin(self.preview_view)), name="catalog_product_preview"),
            path("<int:pk>/grid/", view(self.grid_view), name="catalog_product_grid"),
            path("<int:pk>/grid.csv", view(self.grid_csv_view), name="catalog_product_grid_csv"),
            path("<int:pk>/combinations/", view(self.combinations_view), name="catalog_product_combinations"),
        ]

    def _context(self, request, product=None, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "product": product,
            "original": product,
            # the product as the subtitle (as on its change page): a long title would run under the object tools
            "subtitle": str(product) if product else None,
            # the T1 preview in the tree editor's dialog: the page without the admin's header and nav
            "is_popup": "_popup" in request.GET,
            **extra,
        }

    def _require(self, request, product=None, change=True):
        allowed = self.has_change_permission(request, product) if change else self.has_add_permission(request)
        if not allowed:
            raise PermissionDenied

    def import_view(self, request):
        self._require(request, change=False)
        form = ImportForm(request.POST or None, request.FILES or None)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data["data"]
            trees = [services.unwrap(t) for t in data] if isinstance(data, list) else [services.unwrap(data)]
            try:
                with transaction.atomic():
                    products = [services.option_tree_import(data=tree) for tree in trees]
            except TreeInvalid as exc:
                errors = exc.errors
            else:
                for product in products:
                    self.log_change(request, product, "Imported option tree (T1 JSON)")
                self.message_user(request, gettext("Imported %(count)s product(s).") % {"count": len(products)}, messages.SUCCESS)
                if len(products) == 1:
                    return HttpResponseRedirect(reverse("admin:catalog_product_preview", args=[products[0].pk]))
                return HttpResponseRedirect(reverse("admin:catalog_product_changelist"))
        return TemplateResponse(
            request,
            "admin/catalog/product/import.html",
            self._context(request, form=form, errors=errors, title="Import option tree (T1 JSON)"),
        )

    def preview_view(self, request, pk):
        product = get_object_or_404(Product, pk=pk)
        self._require(request, product)
        tree = tree_load(pk=pk)
        data = tree_response(tree)
        return TemplateResponse(
            request,
            "admin/catalog/product/preview.html",
            self._context(
                request,
                product,
                title="T1 preview",
                t1_json=json.dumps({"status": 200, "data": data}, ensure_ascii=False, indent=2),
                problems=services.product_tree_problems(product_pk=pk),
                paths=preview_rows(tree, unit_price=product.price or 0),
                groups=tree.groups,
            ),
        )

    def grid_view(self, request, pk):
        product = get_object_or_404(Product, pk=pk)
        self._require(request, product)
        errors: list[str] = []
        if request.method == "POST" and request.FILES.get("csv"):
            try:
                text = request.FILES["csv"].read().decode("utf-8-sig")
                count = services.options_csv_import(product=product, text=text)
            except (TreeInvalid, UnicodeDecodeError) as exc:
                errors = getattr(exc, "errors", [gettext("The CSV must be UTF-8: %(error)s") % {"error": exc}])
            else:
                self.log_change(request, product, f"Prices and stock from CSV ({count} options)")
                self.message_user(request, gettext("Updated %(count)s option(s).") % {"count": count}, messages.SUCCESS)
                return HttpResponseRedirect(request.get_full_path())
        elif request.method == "POST":
            changes: dict[int, dict] = {}
            try:
                for pk_text in request.POST.getlist("option"):
                    opk = int(pk_text)
                    where = f"옵션 #{opk}"
                    changes[opk] = {
                        f: services.parse_cell(f, request.POST.get(f"{f}-{opk}"), where) for f in services.GRID_FIELDS
                    }
                count = services.options_bulk_update(product=product, changes=changes)
            except (TreeInvalid, ValueError) as exc:
                errors = getattr(exc, "errors", [str(exc)])
            else:
                self.log_change(request, product, f"Prices and stock edited in the grid ({count} options)")
                self.message_user(request, gettext("Updated %(count)s option(s).") % {"count": count}, messages.SUCCESS)
                return HttpResponseRedirect(request.get_full_path())
        leaves = request.GET.get("leaves", "1")
        query = request.GET.get("q", "").strip()
        rows = grid_rows(product_pk=product.pk, leaves_only=leaves == "1", query=query)
        page = Paginator(rows, GRID_PAGE_SIZE).get_page(request.GET.get("page"))
        return TemplateResponse(
            request,
            "admin/catalog/product/grid.html",
            self._context(
                request, product, title="Prices and stock", rows=page.object_list, page=page, errors=errors,
                leaves=leaves, query=query,
            ),
        )  # fmt: skip

    def grid_csv_view(self, request, pk):
        product = get_object_or_404(Product, pk=pk)
        self._require(request, product)
        response = HttpResponse(
            "\ufeff" + services.options_csv_export(product=product), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="options-{product.code.replace(":", "_")}.csv"'
        return response

    def combinations_view(self, request, pk):
        product = get_object_or_404(Product, pk=pk)
        self._require(request, product)
        form = CombinationForm(request.POST or None)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            try:
                services.combinations_generate(
                    product=product,
                    axes=form.cleaned_data["axes"],
                    add_price=form.cleaned_data["add_price"],
                    stock=form.cleaned_data["stock"],
                )
            except (TreeInvalid, ValueError) as exc:
                errors = getattr(exc, "errors", [str(exc)])
            else:
                count = services.combination_count(form.cleaned_data["axes"])
                self.log_change(request, product, f"Generated {count} combinations")
                self.message_user(
                    request,
                    gettext("Generated %(count)s combination(s): now enter their prices and stock.") % {"count": count},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:catalog_product_grid", args=[pk]))
        current = current_axes(tree_load(pk=pk))
        if not form.is_bound and current:
            form.initial["axes"] = "\n".join(current)
        return TemplateResponse(
            request,
            "admin/catalog/product/combinations.html",
            self._context(request, product, title="Combination generator", form=form, errors=errors),
        )
