"""The merchant's catalog admin.

- A product and its whole tree on one page (nested inlines with drag ordering): groups, their
  sub-groups, their options.  An option's "next sub-group" is its ``relate_option_groups`` entry;
  a group's "shown when option" makes it one of that option's ``added_option_groups``.
- Every save is checked by the one tree validator inside the save's transaction: a tree that breaks
  a rule is not saved, the page comes back with the validator's messages (see ``changeform_view``).
- Views under each product: the combination generator, the price/stock grid (and its CSV), the T1
  preview; on the list: import of T1 JSON, and an action exporting it.
"""

from __future__ import annotations

import json

import nested_admin
import orjson
from django import forms
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import IntegrityError, models, transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from . import services
from .admin_filters import StockAlertFilter
from .admin_tree import FAST_RENDERER, AdminTree, TreeChoiceField, option_label, sub_group_label, with_current
from .models import Option, OptionGroup, OptionSubGroup, Product
from .selectors import chain_paths, tree_load, tree_response
from .tree import TreeInvalid

GRID_PAGE_SIZE = 120  # 7 inputs per row stays under Django's 1,000 POST fields


def _tree(request) -> AdminTree | None:
    """The product's tree for this request of its change page (see :mod:`catalog.admin_tree`)."""
    return getattr(request, "_catalog_tree", None)


# --- inline forms: rows carry their product ---------------------------------------------------------


class OptionForm(forms.ModelForm):
    next_sub_group = TreeChoiceField(
        queryset=OptionSubGroup.objects.none(),
        required=False,
        label="next sub-group (relate_option_groups)",
        help_text="연관 옵션: 이 옵션을 고르면 보여 줄 다음 그룹의 하위그룹",
    )

    class Meta:
        model = Option
        fields = ("option_id", "value", "add_price", "stock", "test_stock", "min_quantity", "max_quantity", "extra", "position")

    def __init__(self, *args, tree=None, parent=None, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["next_sub_group"]
        field.label_from_instance = sub_group_label
        if tree is not None:
            # choices, lookups and the current value from the tree loaded once for the page: no query per row
            field.queryset = tree.sub_group_queryset
            current = tree.next_target.get(self.instance.pk) if self.instance.pk else None
            if self.instance.pk:
                self.initial["next_sub_group"] = current
            choices = tree.next_sub_group_choices(getattr(parent, "pk", None) or self.instance.sub_group_id)
            for pk in (current, self.data.get(self.add_prefix("next_sub_group")) if self.is_bound else None):
                choices = with_current(choices, tree.sub_group_by_pk.get(_int(pk)), sub_group_label)
            field.use_tree(choices, tree.sub_group_by_pk)

    def save(self, commit=True):
        instance = super().save(commit=False)
        instance.product_id = instance.sub_group.product_id

        def save_relation():
            target = self.cleaned_data.get("next_sub_group")
            instance.relations.all().delete()
            if target is not None:
                instance.relations.create(product_id=instance.product_id, target=target, position=0)

        if commit:
            instance.save()
            save_relation()
        else:
            self.save_m2m = save_relation
        return instance


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class SubGroupForm(forms.ModelForm):
    class Meta:
        model = OptionSubGroup
        fields = ("sub_group_id", "min_select", "max_select", "default_option_id", "position")

    def __init__(self, *args, tree=None, parent=None, **kwargs):
        super().__init__(*args, **kwargs)

    def save(self, commit=True):
        instance = super().save(commit=False)
        instance.product_id = instance.group.product_id
        if commit:
            instance.save()
        return instance


class GroupForm(forms.ModelForm):
    parent_option = TreeChoiceField(
        queryset=Option.objects.none(),
        required=False,
        label="shown when option is picked (added_option_groups)",
        help_text=OptionGroup._meta.get_field("parent_option").help_text,
    )

    class Meta:
        model = OptionGroup
        fields = (
            "group_id", "name", "type", "required", "description", "placeholder", "min_length", "max_length",
            "min_value", "max_value", "parent_option", "position",
        )  # fmt: skip

    def __init__(self, *args, tree=None, parent=None, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["parent_option"]
        field.label_from_instance = option_label
        if tree is not None:
            field.queryset = tree.option_queryset
            choices = tree.parent_option_choices()
            if self.is_bound:  # a value posted from a stale page still shows (and is refused)
                choices = with_current(choices, tree.option_by_pk.get(_int(self.data.get(self.add_prefix("parent_option")))), option_label)
            field.use_tree(choices, tree.option_by_pk)


class TreeFormSet(nested_admin.NestedInlineFormSet):
    """Rows and form arguments from the request's :class:`AdminTree` (set by the inline)."""

    tree: AdminTree | None = None

    def get_queryset(self):
        if not self.is_bound and self.tree is not None:
            rows = self.tree.children(self.model, self.instance)
            if rows is not None:
                return rows
        return super().get_queryset()

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "tree": self.tree, "parent": self.instance}


class TreeInlineMixin:
    formset = TreeFormSet

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.tree = _tree(request)
        formset.renderer = FAST_RENDERER  # the rows' inputs and selects written in Python
        return formset


# --- inlines ---------------------------------------------------------------------------------------


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
    fieldsets = (
        (None, {"fields": (("group_id", "name", "type", "required"), "description", "parent_option", "position")}),
        ("NUMBERS / INTEGER / DATE", {"fields": (("min_length", "max_length", "min_value", "max_value"), "placeholder")}),
    )


# --- product ---------------------------------------------------------------------------------------


class ImportForm(forms.Form):
    file = forms.FileField(required=False, help_text="T1 OptionResponse JSON (or a list of them)")
    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 12, "cols": 100}), label="or paste JSON")

    def clean(self):
        cleaned = super().clean()
        raw = cleaned.get("file").read() if cleaned.get("file") else (cleaned.get("text") or "").encode()
        if not raw.strip():
            raise forms.ValidationError("파일을 고르거나 JSON을 붙여 넣어 주세요 (choose a file or paste JSON)")
        try:
            cleaned["data"] = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(f"올바른 JSON이 아닙니다 (not valid JSON): {exc}") from None
        return cleaned


class CombinationForm(forms.Form):
    axes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80, "placeholder": "사이즈: S, M, L\n색상: R, G, B\n추가옵션: A"}),
        help_text="한 줄에 축 하나: '이름: 값, 값, ...'. 마지막 줄의 값이 조합마다 가격과 재고를 갖는 옵션이 됩니다 "
        "(one axis per line; the last axis holds price and stock per combination).",
    )
    add_price = forms.IntegerField(required=False, min_value=0, help_text="새 조합의 추가 금액 (new leaves only)")
    stock = forms.IntegerField(required=False, min_value=0, help_text="새 조합의 재고; 비우면 무제한 (empty: unlimited)")

    def clean_axes(self):
        try:
            return services.parse_axes(self.cleaned_data["axes"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(Product)
class ProductAdmin(nested_admin.NestedModelAdmin):
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
        ("Price and quantity", {"fields": ("price", ("min_quantity", "max_quantity", "default_quantity"), ("stock", "test_stock"), "low_stock_threshold")}),
        ("Payment", {"fields": ("tax_type", "needs_shipping", "product_url")}),
        ("Chatbot card", {"fields": ("image", "category", "list_price")}),
    )

    @admin.display(description="tools")
    def tools(self, obj):
        return format_html(
            '<a href="{}">preview</a> · <a href="{}">prices &amp; stock</a> · <a href="{}">combinations</a>',
            reverse("admin:catalog_product_preview", args=[obj.pk]),
            reverse("admin:catalog_product_grid", args=[obj.pk]),
            reverse("admin:catalog_product_combinations", args=[obj.pk]),
        )

    # --- saving: the one validator decides ------------------------------------------------------

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        errors = getattr(request, "_catalog_tree_errors", None)
        if not errors:
            return form

        class Refused(form):
            def clean(self):
                cleaned = super().clean()
                for message in errors:
                    self.add_error(None, message)
                return cleaned

        return Refused

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        pk = int(object_id) if object_id and str(object_id).isdigit() else None
        # The tree as stored when the pass starts (four queries), loaded before anything is saved.
        request._catalog_tree = AdminTree(pk) if pk else None
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except TreeInvalid as exc:
            errors = exc.errors
        except IntegrityError as exc:
            errors = [f"ID가 중복됩니다: 그룹 ID와 하위그룹 ID는 상품 안에서, 옵션 ID는 하위그룹 안에서 유일해야 합니다 (duplicate id: {exc})"]
        # The first pass rolled back; the second shows the same POST with the validator's messages.
        request._catalog_tree_errors = errors
        request._catalog_tree = AdminTree(pk) if pk else None
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        old_code = None
        if change and "code" in form.changed_data:
            old_code = form.initial.get("code")
        super().save_model(request, obj, form, change)
        request._catalog_old_codes = [old_code] if old_code else []

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        product = form.instance
        services.product_tree_check(product_pk=product.pk)
        services.product_tree_changed(product_pks=[product.pk], old_codes=getattr(request, "_catalog_old_codes", []))

    def delete_model(self, request, obj):
        code = obj.code
        super().delete_model(request, obj)
        services.product_tree_changed(product_pks=[], old_codes=[code])

    def delete_queryset(self, request, queryset):
        codes = list(queryset.values_list("code", flat=True))
        super().delete_queryset(request, queryset)
        services.product_tree_changed(product_pks=[], old_codes=codes)

    # --- export / import ------------------------------------------------------------------------

    @admin.action(description="Export option trees (T1 JSON)")
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
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="catalog_product_import"),
            path("<int:pk>/preview/", view(self.preview_view), name="catalog_product_preview"),
            path("<int:pk>/grid/", view(self.grid_view), name="catalog_product_grid"),
            path("<int:pk>/grid.csv", view(self.grid_csv_view), name="catalog_product_grid_csv"),
            path("<int:pk>/combinations/", view(self.combinations_view), name="catalog_product_combinations"),
            *super().get_urls(),
        ]

    def _context(self, request, product=None, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "product": product,
            "original": product,
            # the product as the subtitle (as on its change page): a long title would run under the object tools
            "subtitle": str(product) if product else None,
            **extra,
        }

    def _require(self, request, product=None, change=True):
        allowed = self.has_change_permission(request, product) if change else self.has_add_permission(request)
        if not allowed:
            from django.core.exceptions import PermissionDenied

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
                self.message_user(request, f"{len(products)}개 상품을 가져왔습니다 (imported {len(products)})", messages.SUCCESS)
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
        unit = product.price or 0
        paths = []
        for steps, _last in chain_paths(tree):
            leaf = steps[-1][1]
            add = sum(o.add_price or 0 for _g, o in steps)
            paths.append(
                {
                    "steps": " → ".join(f"{g.name}={o.value}" for g, o in steps),
                    "add_price": add,
                    "unit": unit + add,
                    "stock": "∞" if leaf.stock is None else leaf.stock,
                    "extra": leaf.extra or "",
                }
            )
        return TemplateResponse(
            request,
            "admin/catalog/product/preview.html",
            self._context(
                request,
                product,
                title="T1 preview",
                t1_json=json.dumps({"status": 200, "data": data}, ensure_ascii=False, indent=2),
                problems=services.product_tree_problems(product_pk=pk),
                paths=paths,
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
                errors = getattr(exc, "errors", [f"CSV는 UTF-8이어야 합니다 (CSV must be UTF-8): {exc}"])
            else:
                self.log_change(request, product, f"Prices and stock from CSV ({count} options)")
                self.message_user(request, f"{count}개 옵션을 바꿨습니다 (updated {count} options)", messages.SUCCESS)
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
                self.message_user(request, f"{count}개 옵션을 바꿨습니다 (updated {count} options)", messages.SUCCESS)
                return HttpResponseRedirect(request.get_full_path())
        paths = services.option_paths(pk)
        options = Option.objects.filter(product=product).select_related("sub_group__group").order_by(
            "sub_group__group__position", "sub_group__group_id", "sub_group__position", "sub_group_id", "position", "id"
        )
        leaves = request.GET.get("leaves", "1")
        if leaves == "1":
            options = options.filter(relations__isnull=True)
        query = request.GET.get("q", "").strip()
        rows = [{"option": o, "path": paths.get(o.pk, o.value)} for o in options]
        if query:
            rows = [r for r in rows if query.lower() in r["path"].lower()]
        page = Paginator(rows, GRID_PAGE_SIZE).get_page(request.GET.get("page"))
        rows = page.object_list
        return TemplateResponse(
            request,
            "admin/catalog/product/grid.html",
            self._context(
                request, product, title="Prices and stock", rows=rows, page=page, errors=errors,
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
                    f"{count}개 조합을 만들었습니다. 가격과 재고를 입력해 주세요 (generated {count} combinations)",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:catalog_product_grid", args=[pk]))
        current = []
        tree = tree_load(pk=pk)
        for group in tree.groups:
            if group.type in ("SELECT", "MULTI_SELECT"):
                values: list[str] = []
                for s in group.sub_groups:
                    values.extend(o.value for o in s.options if o.value not in values)
                current.append(f"{group.name}: {', '.join(values)}")
        if not form.is_bound and current:
            form.initial["axes"] = "\n".join(current)
        return TemplateResponse(
            request,
            "admin/catalog/product/combinations.html",
            self._context(request, product, title="Combination generator", form=form, errors=errors),
        )


from . import subscription_admin  # noqa: E402,F401  (registers the subscription plan admin)
