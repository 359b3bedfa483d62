"""docs/products.md documents every key the loader accepts: the keys are read from the
loader's own code (every `mapping(path, allowed, ...)` call in pricing/loading/), so a key
added there and not to the reference fails here."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LOADING = ROOT / "pricing" / "loading"
REFERENCE = ROOT / "docs" / "products.md"


def _assignments(function: ast.AST | None) -> dict[str, ast.expr]:
    out: dict[str, ast.expr] = {}
    for node in ast.walk(function) if function else ():
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                out[target.id] = node.value
    return out


def _keys(node: ast.expr, module: Any, local: dict[str, ast.expr]) -> set[str]:
    """The text values an `allowed` argument can hold, whichever branch is taken."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Set | ast.List | ast.Tuple):
        return set().union(*(_keys(e, module, local) for e in node.elts))
    if isinstance(node, ast.Starred):
        return _keys(node.value, module, local)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _keys(node.left, module, local) | _keys(node.right, module, local)
    if isinstance(node, ast.IfExp):
        return _keys(node.body, module, local) | _keys(node.orelse, module, local)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
        return set()  # set(), frozenset()
    if isinstance(node, ast.Name):
        if node.id in local:
            return _keys(local[node.id], module, local)
        value = getattr(module, node.id)
        assert isinstance(value, set | frozenset | tuple), node.id
        return set(value)
    raise AssertionError(f"cannot read the keys of {ast.unparse(node)}")


def loader_keys() -> dict[str, set[str]]:
    """pricing/loading/<module>.py:<line> -> the keys its mapping() call accepts."""
    out: dict[str, set[str]] = {}
    for path in sorted(LOADING.glob("*.py")):
        module = importlib.import_module(f"pricing.loading.{path.stem}")
        tree = ast.parse(path.read_text())
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "mapping"
                and len(node.args) >= 2
            ):
                continue
            enclosing = [f for f in functions if f.lineno <= node.lineno <= (f.end_lineno or 0)]
            local = _assignments(enclosing[-1] if enclosing else None)
            out[f"{path.relative_to(ROOT)}:{node.lineno}"] = _keys(node.args[1], module, local)
    return out


def documented_keys() -> set[str]:
    """Every `key` in the first column of the reference's tables (a cell may list several:
    `minimum`, `maximum`)."""
    keys: set[str] = set()
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            keys |= {k.split(".")[-1] for k in re.findall(r"`([a-z_.]+)`", first)}
    return keys


def test_the_loader_has_mappings_to_check() -> None:
    keys = loader_keys()
    assert len(keys) >= 15
    assert {"effective_from", "refuse_when", "payout", "event_time"} <= set().union(*keys.values())


def test_every_key_the_loader_accepts_is_documented() -> None:
    documented = documented_keys()
    missing = {
        where: sorted(keys - documented)
        for where, keys in loader_keys().items()
        if keys - documented
    }
    assert not missing, f"keys accepted by the loader but not in docs/products.md: {missing}"


def test_the_reference_documents_no_key_the_loader_refuses() -> None:
    accepted = set().union(*loader_keys().values())
    # names of the expression language that the tables mention, not file keys
    assert documented_keys() - accepted == set()
