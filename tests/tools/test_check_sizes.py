"""tools/check_sizes.py: no module over 400 lines outside migrations and tests, on this tree and on
made-up ones."""

from __future__ import annotations

from tools.check_sizes import MAX_LINES, check


def _module(root, name: str, lines: int) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"x{i} = {i}\n" for i in range(lines)))


def test_this_tree_has_no_module_over_the_limit():
    count, over = check()
    assert count > 100
    assert over == [], "\n".join(f"{name}: {lines} lines" for name, lines in over)


def test_a_module_over_the_limit_is_named_and_migrations_tests_and_tooling_dirs_are_not(tmp_path):
    _module(tmp_path, "orders/services.py", MAX_LINES + 1)
    _module(tmp_path, "config/settings/base.py", MAX_LINES)  # at the limit: fine
    _module(tmp_path, "catalog/admin/product.py", MAX_LINES + 250)
    _module(tmp_path, "orders/migrations/0001_initial.py", 5000)
    _module(tmp_path, "tests/orders/test_flow.py", 5000)
    _module(tmp_path, ".venv/lib/site.py", 5000)
    _module(tmp_path, "kakaoplugin/gate.py", 10)
    count, over = check(tmp_path)
    assert count == 4
    assert over == [("catalog/admin/product.py", MAX_LINES + 250), ("orders/services.py", MAX_LINES + 1)]


def test_lines_are_lines_whatever_the_last_one_ends_with(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n" * MAX_LINES + "y = 2")  # 401 lines, no final newline
    (tmp_path / "b.py").write_text("x = 1\n" * MAX_LINES)
    _, over = check(tmp_path)
    assert over == [("a.py", MAX_LINES + 1)]
