"""The import rules of DESIGN.md: the core and the conversations stay channel-free."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "ffs_bot": {"telegram", "aiohttp", "handlers", "bot"},
    "handlers": {"telegram", "aiohttp", "sqlalchemy", "bot"},
}


def imported_roots(source: str) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_imported_roots_sees_every_form_of_import() -> None:
    source = (
        "import telegram.ext\nfrom aiohttp import web\nif True:\n    import sqlalchemy as sa\n"
    )
    assert imported_roots(source) == {"telegram", "aiohttp", "sqlalchemy"}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_from_outer_layers(package: str) -> None:
    files = sorted((REPO / package).rglob("*.py"))
    assert files
    offenders = {
        str(path.relative_to(REPO)): sorted(imported_roots(path.read_text()) & FORBIDDEN[package])
        for path in files
    }
    assert {path: bad for path, bad in offenders.items() if bad} == {}
