"""The dependency rule, checked (``python tools/check_imports.py``; run by .ci/run).

Apps depend one way: ``orders → catalog → kakaoplugin``, ``callbacks → kakaoplugin``, ``merchant``
on top, nothing imports ``merchant``; the project wiring (``config/``: settings, root URLs, the
Celery app, wsgi/asgi, gunicorn's logger) sits above all, may name every app, and no app imports
it. Every import counts, function-local ones too. Also: no circle among the modules' top-level
imports, and in ``tests/`` no module imports a test module (``test_*.py``: shared helpers live in
``tests/support/``, fixtures in ``conftest.py``) and every ``test_*.py`` holds tests. Exits 1 and
names each breach.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("kakaoplugin", "catalog", "orders", "callbacks", "merchant", "backoffice")
# the project wiring: the one package that names every app (docs/architecture.md)
WIRING = "config"
# what each app may import of the others (besides itself); nothing may import the wiring
ALLOWED = {
    "kakaoplugin": set(),
    "catalog": {"kakaoplugin"},
    "orders": {"catalog", "kakaoplugin"},
    "callbacks": {"kakaoplugin"},
    "merchant": {"orders", "catalog", "callbacks", "kakaoplugin"},
    "backoffice": {"orders", "catalog", "callbacks", "kakaoplugin"},  # admin pages over several apps
    WIRING: set(APPS),
}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, name: str) -> tuple[set[str], set[str]]:
    """(every module it imports, those imported at the top level)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found, top = set(), set()

    def add(target: str, node: ast.AST) -> None:
        found.add(target)
        if node in tree.body:
            top.add(target)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            add(base, node)
            for alias in node.names:  # `from . import services` imports a module
                add(f"{base}.{alias.name}", node)
    return found, top


def check(root: Path = ROOT) -> tuple[int, list[str]]:
    """(modules read, every breach of the rule and every circle)."""
    modules = {}
    for app in (*APPS, WIRING):
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            modules[module_name(path, root)] = path
    problems = []
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        app = name.split(".")[0]
        every, top = imports(path, name)
        for target in sorted(every):
            other = target.split(".")[0]
            if other in ALLOWED and other != app and other not in ALLOWED[app]:
                problems.append(f"{name} imports {target}: {app} may not depend on {other}")
        graph[name] = {t for t in top if t in modules and t != name}
    # circles among top-level imports (Tarjan's strongly connected components)
    index, low, stack, on_stack, counter = {}, {}, [], set(), [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                problems.append("import circle: " + " → ".join(sorted(component)))

    sys.setrecursionlimit(10_000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return len(modules), problems


def check_tests(root: Path = ROOT) -> tuple[int, list[str]]:
    """(test modules read, each test module imported by another module and each ``test_*.py``
    without a test)."""
    problems, count = [], 0
    for path in sorted((root / "tests").rglob("*.py")):
        name = module_name(path, root)
        every, _ = imports(path, name)
        for target in sorted(every):
            if target.startswith("tests.") and any(part.startswith("test_") for part in target.split(".")):
                problems.append(f"{name} imports {target}: shared test helpers go in tests/support/")
        if path.name.startswith("test_"):
            count += 1
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            if not any(
                (isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test"))
                or (isinstance(n, ast.ClassDef) and n.name.startswith("Test"))
                for n in tree.body
            ):
                problems.append(f"{name} holds no test: helpers go in tests/support/")
    return count, problems


def main() -> int:
    count, problems = check()
    test_count, test_problems = check_tests()
    problems += test_problems
    for problem in problems:
        print(problem)
    print(f"{count} modules and {test_count} test modules checked: {'no breach' if not problems else f'{len(problems)} breach(es)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
