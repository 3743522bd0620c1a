"""The forms of the catalog admin: the tree page's rows (group, sub-group, option) and the tools'
forms (import, combination generator).

A row form takes the page's :class:`~catalog.admin.tree_rows.AdminTree` (``tree``: choices and
lookups without a query per row) and the problems the tree validator found in the refused save
(``problems``: shown at the field that broke the rule, see :mod:`catalog.admin.problems`).
"""

from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import services
from ..models import Option, OptionGroup, OptionSubGroup
from ..tree import CHOICE_TYPES, TYPE_FIELDS
from .problems import GROUP_FIELDS, OPTION_FIELDS, SUB_GROUP_FIELDS, attach
from .tree_rows import TreeChoiceField, option_label, sub_group_label, with_current


class RowForm(forms.ModelForm):
    """A row of the tree page: takes the page's tree and the refused save's problems."""

    problem_fields: dict[str, str] = {}

    def __init__(self, *args, tree=None, parent=None, problems=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.parent = parent
        self.problems = problems

    def posted(self, name: str) -> str | None:
        return self.data.get(self.add_prefix(name)) if self.is_bound else None

    def row_problems(self) -> list:
        return []

    def clean(self):
        cleaned = super().clean()
        if self.problems:
            attach(self, self.row_problems(), self.problem_fields)
        return cleaned


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class OptionForm(RowForm):
    next_sub_group = TreeChoiceField(
        queryset=OptionSubGroup.objects.none(),
        required=False,
        label=_("next sub-group (relate_option_groups)"),
        help_text=_("related option: the next group's sub-group shown when this option is picked"),
    )

    class Meta:
        model = Option
        fields = ("option_id", "value", "add_price", "stock", "test_stock", "min_quantity", "max_quantity", "extra", "position")

    problem_fields = OPTION_FIELDS

    def __init__(self, *args, tree=None, parent=None, problems=None, **kwargs):
        super().__init__(*args, tree=tree, parent=parent, problems=problems, **kwargs)
        field = self.fields["next_sub_group"]
        field.label_from_instance = sub_group_label
        if tree is not None:
            field.label_from_instance = tree.sub_group_label
            # choices, lookups and the current value from the tree loaded once for the page: no query per row
            field.queryset = tree.sub_group_queryset
            current = tree.next_target.get(self.instance.pk) if self.instance.pk else None
            if self.instance.pk:
                self.initial["next_sub_group"] = current
            choices = tree.next_sub_group_choices(getattr(parent, "pk", None) or self.instance.sub_group_id)
            for pk in (current, self.data.get(self.add_prefix("next_sub_group")) if self.is_bound else None):
                choices = with_current(choices, tree.sub_group_by_pk.get(_int(pk)), tree.sub_group_label)
            field.use_tree(choices, tree.sub_group_by_pk)

    def row_problems(self) -> list:
        sub_group_id = getattr(self.parent, "sub_group_id", None)
        return self.problems.options.get((sub_group_id, self.posted("option_id")), [])

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


class SubGroupForm(RowForm):
    class Meta:
        model = OptionSubGroup
        fields = ("sub_group_id", "min_select", "max_select", "default_option_id", "position")

    problem_fields = SUB_GROUP_FIELDS

    def row_problems(self) -> list:
        return self.problems.sub_groups.get(self.posted("sub_group_id"), [])

    def save(self, commit=True):
        instance = super().save(commit=False)
        instance.product_id = instance.group.product_id
        if commit:
            instance.save()
        return instance


class GroupForm(RowForm):
    parent_option = TreeChoiceField(
        queryset=Option.objects.none(),
        required=False,
        label=_("shown when option is picked (added_option_groups)"),
        help_text=OptionGroup._meta.get_field("parent_option").help_text,
    )

    class Meta:
        model = OptionGroup
        fields = (
            "group_id", "name", "type", "required", "description", "placeholder", "min_length", "max_length",
            "min_value", "max_value", "parent_option", "position",
        )  # fmt: skip

    problem_fields = GROUP_FIELDS

    def __init__(self, *args, tree=None, parent=None, problems=None, **kwargs):
        super().__init__(*args, tree=tree, parent=parent, problems=problems, **kwargs)
        field = self.fields["parent_option"]
        field.label_from_instance = option_label
        if tree is not None:
            field.queryset = tree.option_queryset
            choices = tree.parent_option_choices()
            if self.is_bound:  # a value posted from a stale page still shows (and is refused)
                choices = with_current(choices, tree.option_by_pk.get(_int(self.data.get(self.add_prefix("parent_option")))), option_label)
            field.use_tree(choices, tree.option_by_pk)
        # what the editor's script needs to show only the fields of the picked type (no reload)
        self.fields["type"].widget.attrs.update(
            {"data-type-fields": json.dumps(TYPE_FIELDS), "data-choice-types": json.dumps(CHOICE_TYPES)}
        )
        for name, types in TYPE_FIELDS.items():
            self.fields[name].help_text = _("Only for %(types)s groups") % {"types": " / ".join(types)}

    def row_problems(self) -> list:
        return self.problems.groups.get(self.posted("group_id"), [])


# --- the tools' forms --------------------------------------------------------------------------------


class ImportForm(forms.Form):
    file = forms.FileField(required=False, help_text=_("option T1's OptionResponse JSON (or a list of them)"))
    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 12, "cols": 100}), label=_("or paste JSON"))

    def clean(self):
        cleaned = super().clean()
        raw = cleaned.get("file").read() if cleaned.get("file") else (cleaned.get("text") or "").encode()
        if not raw.strip():
            raise forms.ValidationError(_("Choose a file or paste JSON."))
        try:
            cleaned["data"] = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(gettext("Not valid JSON: %(error)s") % {"error": exc}) from None
        return cleaned


class CombinationForm(forms.Form):
    axes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80, "placeholder": "사이즈: S, M, L\n색상: R, G, B\n추가옵션: A"}),
        help_text=_("One axis per line: 'name: value, value, ...'. The last line's values become the options "
                    "that hold a price and stock per combination."),
    )
    add_price = forms.IntegerField(required=False, min_value=0, help_text=_("added price of the new combinations (new ones only)"))
    stock = forms.IntegerField(required=False, min_value=0, help_text=_("stock of the new combinations; empty: unlimited"))

    def clean_axes(self):
        try:
            return services.parse_axes(self.cleaned_data["axes"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
