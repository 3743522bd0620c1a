"""The money path's layout rules (issue 14), checked on the source: every change of an order's
status is a function of ``orders/payments/transitions.py``; no function-local import in the money
path (they only ever existed to break import circles); every refusal code of the one domain error
has an envelope status; option and payment steps never share a name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from orders.apis import ENVELOPE_STATUS
from orders.errors import OrderError

ORDERS = Path(__file__).resolve().parents[2] / "orders"
TRANSITIONS = ORDERS / "payments" / "transitions.py"
MONEY_PATH = [
    *sorted((ORDERS / "payments").glob("*.py")),
    *sorted((ORDERS / "subscriptions").glob("*.py")),
    ORDERS / "tasks.py",
    ORDERS / "sheets.py",
    ORDERS / "apis.py",
    ORDERS / "errors.py",
]
WRITES = {"update", "create", "get_or_create", "update_or_create", "bulk_create"}


def _sources(exclude: set[Path] = frozenset()) -> list[Path]:
    return [
        p for p in sorted(ORDERS.rglob("*.py"))
        if "migrations" not in p.parts and "models" not in p.parts and p not in exclude
    ]  # fmt: skip


def _is_order_status(node: ast.AST) -> bool:
    return "Order.Status." in ast.unparse(node)


def status_writes(source: str) -> list[str]:
    """Where ``source`` sets an order's status: ``x.status = Order.Status.X`` (also in a tuple
    assignment) or ``status=Order.Status.X`` given to an ORM write."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign):
            targets = [t for target in node.targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
            if any(isinstance(t, ast.Attribute) and t.attr == "status" for t in targets) and _is_order_status(node.value):
                found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITES:
            for kw in node.keywords:
                if kw.arg == "status" and _is_order_status(kw.value):
                    found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
    return found


def local_imports(source: str) -> list[str]:
    """Imports inside a function or a class of ``source``."""
    tree = ast.parse(source)
    top = set(map(id, tree.body))
    return [
        f"line {node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top
    ]


def test_the_checks_find_what_they_look_for():
    assert len(status_writes(
        "o.status = Order.Status.PAID\n"
        "o.status, o.failure_reason = Order.Status.FAILED, 'x'\n"
        "Order.objects.filter(pk=1).update(status=Order.Status.HELD)\n"
        "Order.objects.filter(status=Order.Status.HELD).count()\n"  # a read, not a write
        "inst.status = Inst.Status.PAID\n"  # an installment's, not an order's
    )) == 3  # fmt: skip
    assert len(local_imports("import os\ndef f():\n    from . import tasks\n    import json\n")) == 2


def test_every_order_status_change_is_in_the_transitions_module():
    assert status_writes(TRANSITIONS.read_text(encoding="utf-8")), "the transitions module writes statuses"
    elsewhere = {
        str(path.relative_to(ORDERS.parent)): found
        for path in _sources(exclude={TRANSITIONS})
        if (found := status_writes(path.read_text(encoding="utf-8")))
    }
    assert elsewhere == {}


def test_no_function_local_imports_in_the_money_path():
    found = {
        str(path.relative_to(ORDERS.parent)): imports
        for path in MONEY_PATH
        if (imports := local_imports(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_every_refusal_code_has_an_envelope_status():
    codes = {v for k, v in vars(OrderError).items() if k.isupper() and isinstance(v, str)}
    staff_only = {OrderError.REFUND, OrderError.SUBSCRIPTION}  # raised to the admin, never to Kakao
    assert codes - staff_only == set(ENVELOPE_STATUS)
    assert all(isinstance(status, int) and status != 200 for status in ENVELOPE_STATUS.values())


def test_option_and_payment_steps_never_share_a_name():
    """T1 and T2 are steps of both plugins: a module, function or class named for one says which."""
    step = re.compile(r"(^|_)t[12](_|$)|T[12]", re.IGNORECASE)
    unclear = []
    for path in _sources():
        names = [path.stem]
        names += [n.name for n in ast.parse(path.read_text(encoding="utf-8")).body
                  if isinstance(n, ast.FunctionDef | ast.ClassDef)]  # fmt: skip
        unclear += [f"{path.name}: {name}" for name in names
                    if step.search(name) and not re.search("option|payment", name, re.IGNORECASE)]  # fmt: skip
    assert unclear == []
