"""tools/check_imports.py: the dependency rule, import circles and the tests' layout, on this tree and on
made-up ones."""

from __future__ import annotations

from tools.check_imports import check, check_tests


def _tree(root, files: dict[str, str]):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for app in ("kakaoplugin", "catalog", "orders", "callbacks", "merchant", "config"):
        (root / app).mkdir(exist_ok=True)
        (root / app / "__init__.py").touch()
    return root


def test_this_tree_keeps_the_rule():
    count, problems = check()
    assert count > 100 and problems == []


def test_a_shared_layer_importing_an_app_is_a_breach_even_inside_a_function(tmp_path):
    _tree(tmp_path, {
        "kakaoplugin/gate.py": "def f():\n    from orders.models import Order\n",
        "catalog/stock.py": "from merchant import links\n",
        "kakaoplugin/urls.py": "from catalog.images import product_image\n",  # not the wiring any more
        "config/urls.py": "from catalog.images import product_image\nimport merchant.urls\n",  # the wiring may
        "orders/apis.py": "from config.celery import app\n",  # nothing imports the wiring
    })  # fmt: skip
    _, problems = check(tmp_path)
    assert any(p.startswith("kakaoplugin.gate imports orders.models") for p in problems), problems
    assert any(p.startswith("catalog.stock imports merchant") for p in problems), problems
    assert any(p.startswith("kakaoplugin.urls imports catalog.images") for p in problems), problems
    assert any(p.startswith("orders.apis imports config.celery") for p in problems), problems
    assert not any(p.startswith("config.urls") for p in problems)


def test_a_circle_of_top_level_imports_is_found(tmp_path):
    root = _tree(tmp_path, {
        "orders/a.py": "from . import b\n",
        "orders/b.py": "from .c import x\n",
        "orders/c.py": "from orders import a\nx = 1\n",
        "orders/d.py": "def later():\n    from . import a\n",  # function-local: no circle
    })  # fmt: skip
    _, problems = check(root)
    assert problems == ["import circle: orders.a → orders.b → orders.c"], problems


def test_this_tree_keeps_the_tests_layout():
    count, problems = check_tests()
    assert count > 50 and problems == [], problems


def test_a_test_module_importing_another_or_holding_no_test_is_a_breach(tmp_path):
    _tree(tmp_path, {
        "tests/__init__.py": "",
        "tests/conftest.py": "WAIT = 1\n",
        "tests/support/kit.py": "def make():\n    pass\n",
        "tests/orders/test_a.py": "from tests.support.kit import make\nfrom tests.conftest import WAIT\n\ndef test_a():\n    make()\n",
        "tests/orders/test_b.py": "def test_b():\n    from tests.orders.test_a import make\n",
        "tests/orders/test_kit.py": "def helper():\n    pass\n",
    })  # fmt: skip
    count, problems = check_tests(tmp_path)
    assert count == 3
    assert problems == [
        "tests.orders.test_b imports tests.orders.test_a: shared test helpers go in tests/support/",
        "tests.orders.test_b imports tests.orders.test_a.make: shared test helpers go in tests/support/",
        "tests.orders.test_kit holds no test: helpers go in tests/support/",
    ], problems
