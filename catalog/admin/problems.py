"""The tree validator's problems at the field that broke them, on the tree page's rows.

A refused save comes back with every message listed above the form (as before) and each located
problem (:class:`catalog.tree_problems.Problem`) also on its row: at its field when the tree key
maps to one of the row's fields, else as the row's own error. Rows are matched by the ids posted:
a group by its id, a sub-group by its id (unique in the product), an option by its sub-group's id
and its own.
"""

from __future__ import annotations

from collections import defaultdict

from ..tree_problems import Problem

# tree key → the row form's field (keys not listed: the row's own error)
GROUP_FIELDS = {
    "id": "group_id", "name": "name", "type": "type", "required": "required", "description": "description",
    "placeholder": "placeholder", "min_length": "min_length", "max_length": "max_length",
    "min_value": "min_value", "max_value": "max_value",
}  # fmt: skip
SUB_GROUP_FIELDS = {
    "id": "sub_group_id", "min_select": "min_select", "max_select": "max_select",
    "default_option_id": "default_option_id",
}  # fmt: skip
OPTION_FIELDS = {
    "id": "option_id", "value": "value", "add_price": "add_price", "stock": "stock", "extra": "extra",
    "min_quantity": "min_quantity", "max_quantity": "max_quantity", "relate_option_groups": "next_sub_group",
}  # fmt: skip


class RowProblems:
    """A refused save's problems by the row they belong to."""

    def __init__(self, problems: list[Problem]):
        self.groups: dict[str, list[Problem]] = defaultdict(list)
        self.sub_groups: dict[str, list[Problem]] = defaultdict(list)
        self.options: dict[tuple[str, str], list[Problem]] = defaultdict(list)
        for p in problems:
            if p.option_id is not None:
                self.options[(p.sub_group_id, p.option_id)].append(p)
            elif p.sub_group_id is not None:
                self.sub_groups[p.sub_group_id].append(p)
            elif p.group_id is not None:
                self.groups[p.group_id].append(p)

    def __bool__(self) -> bool:
        return bool(self.groups or self.sub_groups or self.options)


def attach(form, problems: list[Problem], fields: dict[str, str]) -> None:
    """Add ``problems`` to ``form``: at their field when it is one of the form's, else to the row."""
    for problem in problems:
        name = fields.get(problem.field or "")
        form.add_error(name if name in form.fields else None, problem.message)
