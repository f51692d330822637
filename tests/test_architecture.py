"""The import rules of docs/architecture.md, checked on the source so a violation fails CI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "impetus"

ALLOWED = {
    "protocol": set(),
    "configfile": set(),
    "privacy": {"protocol", "configfile"},
    "scenario": {"protocol", "configfile"},
    "edge_agent": {"protocol", "privacy", "configfile", "scenario"},
    "aggregator": {"protocol", "privacy", "configfile"},
}


def imported_parts(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "impetus" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_each_package_imports_only_what_the_architecture_allows(part: str) -> None:
    root = PACKAGE / part
    files = sorted(root.rglob("*.py")) if root.is_dir() else [PACKAGE / f"{part}.py"]
    assert files, f"impetus/{part} has no source files"
    for path in files:
        forbidden = imported_parts(path) - ALLOWED[part] - {part}
        assert not forbidden, f"{path.relative_to(PACKAGE.parent)} imports impetus.{sorted(forbidden)}"
