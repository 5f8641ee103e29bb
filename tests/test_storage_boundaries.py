"""Who may touch storage: the Telegram layer only through CallGuard, storage never through
aiosqlite's private API (issue 12, "Structure while you are here").

Read from the source with ``ast`` so the rule holds for code paths no other test runs."""

from __future__ import annotations

import ast
from pathlib import Path

import callguard

BOT = Path(callguard.__file__).resolve().parent
# What a Telegram handler may not reach into: the write queue, a store, the rule book's detector.
FORBIDDEN_CHAINS = {("guard", "writer"), ("guard", "store"), ("rules", "detector")}


def attribute_chains(tree: ast.AST):
    """(name, attribute) pairs of ``x.name.attribute`` and ``name.attribute`` accesses, with line numbers."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            inner = node.value
            name = inner.attr if isinstance(inner, ast.Attribute) else getattr(inner, "id", None)
            if name is not None:
                yield (name, node.attr), node.lineno


def test_telegram_handlers_reach_storage_only_through_the_service():
    offenders = []
    for path in sorted((BOT / "telegram").glob("*.py")):
        for chain, line in attribute_chains(ast.parse(path.read_text(encoding="utf-8"))):
            if chain in FORBIDDEN_CHAINS:
                offenders.append(f"{path.name}:{line}: .{'.'.join(chain)}")
    assert offenders == []


def imported_modules(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_no_module_uses_aiosqlite():
    """aiosqlite's public API is one trip per statement; the store used its private _execute/_conn."""
    users = [str(path.relative_to(BOT)) for path in sorted(BOT.rglob("*.py"))
             if any(m.split(".")[0] == "aiosqlite" for m in imported_modules(ast.parse(path.read_text("utf-8"))))]
    assert users == []
