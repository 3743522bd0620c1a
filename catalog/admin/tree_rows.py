"""What keeps a product's change page usable on a big tree (1,000 options and more).

Measured on a product of 1,010 options (BENCHMARKS.md, catalog): the page took one query per option
row and per rendered picker, weighed 7.9 MB and took over ten seconds. Three causes, three parts:

- :class:`AdminTree` loads the product's groups, sub-groups, options and relations once per request
  (four queries whatever the tree's size). The nested formsets of an unbound page take their rows
  from it instead of one query per parent row; an option row its "next sub-group" instead of one
  query each; the pickers their choices instead of one query per rendered ``<select>``.
- The "next sub-group" picker of an option lists only what the option can lead to: the sub-groups
  of the next first-level SELECT/MULTI_SELECT group (the tree validator refuses anything else: a
  chain runs from one group to the next), plus the value it holds now. Choices are not validation:
  any sub-group of the product is still accepted and the one tree validator decides, as before.
- :class:`~catalog.admin.fast_widgets.FastWidgetRenderer` renders the plain inputs and selects of the inline rows in Python,
  byte for byte what Django's widget templates write; through the template engine each of the
  ~12,000 widgets of such a page costs about a millisecond. Any other template goes to Django's.
"""

from __future__ import annotations

from collections import defaultdict

from django import forms

from ..models import Option, OptionGroup, OptionRelation, OptionSubGroup
from ..tree import CHOICE_TYPES

EMPTY_CHOICE = ("", "---------")


def _order(row) -> tuple[int, int]:
    return (row.position, row.pk)


def sub_group_label(sub_group: OptionSubGroup, values: list[str] | None = None) -> str:
    """The chain picker's words for a sub-group: its group's name, its id, its first values."""
    label = f"{sub_group.group.name} › {sub_group.sub_group_id}"
    if values:
        label += f" ({', '.join(values[:3])}{', …' if len(values) > 3 else ''})"
    return label


def option_label(option: Option) -> str:
    return f"{option.sub_group.group.group_id} › {option.sub_group.sub_group_id} › {option.value}"


class AdminTree:
    """A product's tree as model instances, loaded once for one request of its change page."""

    def __init__(self, product_pk: int):
        self.product_pk = product_pk
        # The orders the formsets' querysets would give (Meta.ordering: position, then id).
        self.groups: list[OptionGroup] = sorted(
            OptionGroup.objects.filter(product_id=product_pk).order_by(), key=_order
        )
        self.group_by_pk = {g.pk: g for g in self.groups}
        self.sub_groups_of: dict[int, list[OptionSubGroup]] = defaultdict(list)
        self.sub_group_by_pk: dict[int, OptionSubGroup] = {}
        for s in sorted(OptionSubGroup.objects.filter(product_id=product_pk).order_by(), key=_order):
            s.group = self.group_by_pk[s.group_id]
            self.sub_groups_of[s.group_id].append(s)
            self.sub_group_by_pk[s.pk] = s
        self.options_of: dict[int, list[Option]] = defaultdict(list)
        self.option_by_pk: dict[int, Option] = {}
        for o in sorted(Option.objects.filter(product_id=product_pk).order_by(), key=_order):
            o.sub_group = self.sub_group_by_pk[o.sub_group_id]
            self.options_of[o.sub_group_id].append(o)
            self.option_by_pk[o.pk] = o
        self.next_target: dict[int, int] = {}  # option pk → its first relate_option_groups target
        relations = OptionRelation.objects.filter(product_id=product_pk).order_by(
            "option_id", "position", "id"
        )
        for option_pk, target_pk in relations.values_list("option_id", "target_id"):
            self.next_target.setdefault(option_pk, target_pk)
        # What the pickers accept (built once: each form only clones them, and they run only for
        # a posted value the tree does not hold).
        self.sub_group_queryset = OptionSubGroup.objects.filter(product_id=product_pk).select_related("group")
        self.option_queryset = Option.objects.filter(product_id=product_pk).select_related("sub_group__group")
        self._next_choices: dict[int | None, list] = {}
        self._parent_choices: list | None = None

    # --- the rows of the nested formsets -------------------------------------------------------

    def children(self, model, parent) -> list | None:
        """The rows a formset of ``model`` under ``parent`` shows, or None when not this tree's."""
        if parent is None or parent.pk is None:
            return None
        if model is OptionGroup and parent.pk == self.product_pk:
            return list(self.groups)
        if model is OptionSubGroup and parent.pk in self.group_by_pk:
            return list(self.sub_groups_of[parent.pk])
        if model is Option and parent.pk in self.sub_group_by_pk:
            return list(self.options_of[parent.pk])
        return None

    # --- the pickers ---------------------------------------------------------------------------

    def next_sub_group_choices(self, sub_group_pk: int | None) -> list:
        """Choices for the "next sub-group" of an option of this sub-group (None: not known yet)."""
        group = self.sub_group_by_pk[sub_group_pk].group if sub_group_pk in self.sub_group_by_pk else None
        key = group.pk if group else None
        if key not in self._next_choices:
            if group is None:  # a new sub-group's option: any sub-group of the product
                targets = [s for g in self.groups for s in self.sub_groups_of[g.pk]]
            else:
                targets = self._next_group_sub_groups(group)
            self._next_choices[key] = [EMPTY_CHOICE, *((s.pk, self.sub_group_label(s)) for s in targets)]
        return self._next_choices[key]

    def sub_group_label(self, sub_group: OptionSubGroup) -> str:
        return sub_group_label(sub_group, [o.value for o in self.options_of.get(sub_group.pk, ())])

    def _next_group_sub_groups(self, group: OptionGroup) -> list[OptionSubGroup]:
        if group.parent_option_id is not None:  # no relate_option_groups inside added groups
            return []
        top = [g for g in self.groups if g.parent_option_id is None]
        for later in top[top.index(group) + 1 :]:
            if later.type in CHOICE_TYPES:
                return self.sub_groups_of[later.pk]
        return []

    def parent_option_choices(self) -> list:
        """Choices for a group's "shown when option is picked": every option of the product."""
        if self._parent_choices is None:
            ordered = sorted(self.option_by_pk.values(), key=lambda o: (o.sub_group_id, o.position, o.pk))
            self._parent_choices = [EMPTY_CHOICE, *((o.pk, option_label(o)) for o in ordered)]
        return self._parent_choices


def with_current(choices: list, current, label) -> list:
    """``choices`` with ``current`` (an instance or None) added when it is not among them."""
    if current is None or any(value == current.pk for value, _ in choices):
        return choices
    return [*choices, (current.pk, label(current))]


class TreeChoiceField(forms.ModelChoiceField):
    """A model choice field whose choices and lookups can come from an :class:`AdminTree`.

    ``queryset`` still defines what is valid: a value the tree does not hold is looked up there
    (and refused when it is not in it), as a plain ModelChoiceField does.
    """

    objects: dict | None = None

    def use_tree(self, choices: list, objects: dict) -> None:
        self.choices = choices
        self.objects = objects

    def to_python(self, value):
        if self.objects is not None and value not in self.empty_values:
            try:
                found = self.objects.get(int(value))
            except (TypeError, ValueError):
                found = None
            if found is not None:
                return found
        return super().to_python(value)
