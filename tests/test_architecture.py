"""The code's shape: an import inside a function says why it is not at module level.

Import cycles and the layers are checked by ``lint-imports`` (``bin/portal lint``); what remains
are the imports that must wait (Django set up first, Pango loaded only for PDFs, apps ready), and
each of them carries a comment on its line or just above its group.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("kenshin", "core", "audit", "agency", "intake", "routing", "billing", "compliance", "portal", "bench")


def _modules() -> list[Path]:
    files = [path for package in PACKAGES for path in (REPO / package).rglob("*.py") if "migrations" not in path.parts]
    return [*files, REPO / "manage.py"]


def _explained(lines: list[str], index: int) -> bool:
    if "#" in lines[index]:
        return True
    for line in reversed(lines[:index]):
        text = line.strip()
        if text.startswith("#"):
            return True
        if not (text.startswith(("from ", "import ")) or text == "" or text.endswith(".setup()")):
            return False
    return False


def test_every_import_inside_a_function_says_why() -> None:
    unexplained = []
    for path in _modules():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom) and not _explained(lines, inner.lineno - 1):
                    unexplained.append(f"{path.relative_to(REPO)}:{inner.lineno}: {lines[inner.lineno - 1].strip()}")
    assert unexplained == []

