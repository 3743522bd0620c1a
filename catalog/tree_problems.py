"""What the one tree validator (:mod:`catalog.tree`) reports: its messages, and each located in the
tree (so the admin can show it at the field that broke the rule)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One broken rule, located: the ids of its group / sub-group / option (those known) and the
    tree key that broke it (``field``; None: the row or the product as a whole)."""

    message: str  # without the place: str(problem) is the full message of ``errors``
    where: str = ""
    group_id: str | None = None
    sub_group_id: str | None = None
    option_id: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class TreeInvalid(Exception):
    """An option tree broke the rules; ``errors`` says how, one message per problem (``problems``:
    the same, located)."""

    def __init__(self, errors: list[str], problems: list[Problem] | None = None):
        super().__init__("; ".join(errors))
        self.errors = errors
        self.problems = problems if problems is not None else [Problem(e) for e in errors]
