"""No module over 400 lines (``python tools/check_sizes.py``; run by .ci/run).

Every ``.py`` file of the repository counts but migrations (generated) and tests (``tests/``), and
what is not ours (the virtual environment, hidden directories, ``var/``, ``artifacts/``). A module
that grows past the limit is split by what it does (docs/architecture.md), not trimmed. Exits 1 and
names each module over it, longest first.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400
SKIPPED_DIRS = {"migrations", "tests", "var", "artifacts", "node_modules", "__pycache__"}


def modules(root: Path = ROOT):
    """Every module the limit applies to, as paths relative to ``root``."""
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if any(p in SKIPPED_DIRS or p.startswith(".") for p in parts[:-1]):
            continue
        yield path.relative_to(root)


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def check(root: Path = ROOT, limit: int = MAX_LINES) -> tuple[int, list[tuple[str, int]]]:
    """(modules read, each module over ``limit`` with its line count, longest first)."""
    seen, over = 0, []
    for relative in modules(root):
        seen += 1
        lines = line_count(root / relative)
        if lines > limit:
            over.append((relative.as_posix(), lines))
    return seen, sorted(over, key=lambda item: (-item[1], item[0]))


def main() -> int:
    count, over = check()
    for name, lines in over:
        print(f"{name}: {lines} lines (more than {MAX_LINES}): split it")
    print(f"{count} modules checked: {'none over ' + str(MAX_LINES) + ' lines' if not over else f'{len(over)} too long'}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
