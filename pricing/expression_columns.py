"""The column form of an expression: every row of a table at once, with the same element
operations as the generated code (the batch path's fallback, and an independent
implementation the generated code is tested against)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .expression_language import BINOPS, CMPOPS, ColumnEvaluator, ExpressionSyntaxError


def _compare_rows(
    first: list[Any], rest: list[tuple[Callable[[Any, Any], bool], list[Any]]]
) -> list[bool]:
    out = []
    for i, left in enumerate(first):
        result = True
        for fn, rights in rest:
            right = rights[i]
            if left is None or right is None or not fn(left, right):
                result = False
                break
            left = right
        out.append(result)
    return out


class ColumnCompiler:
    """The column form of an already checked tree (see _Compiler for the rules)."""

    def __init__(self, source: str, functions: dict[str, tuple[int, Callable[..., Any]]]) -> None:
        self.source = source
        self.functions = functions

    def compile(self, node: ast.AST) -> ColumnEvaluator:
        if isinstance(node, ast.Expression):
            return self.compile(node.body)
        if isinstance(node, ast.Constant):
            value: Any = node.value
            if isinstance(value, float):
                value = Decimal(ast.get_source_segment(self.source, node) or repr(value))
            return lambda cols, n: [value] * n
        if isinstance(node, ast.Name):
            if node.id in ("true", "false"):
                flag = node.id == "true"
                return lambda cols, n: [flag] * n
            name = node.id
            return lambda cols, n: cols[name]
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items = [self.compile(e) for e in node.elts]
            if not items:
                return lambda cols, n: [()] * n
            return lambda cols, n: list(zip(*(item(cols, n) for item in items), strict=True))
        if isinstance(node, ast.BoolOp):
            parts = [self.compile(v) for v in node.values]
            combine = all if isinstance(node.op, ast.And) else any
            return lambda cols, n: [
                combine(row) for row in zip(*(p(cols, n) for p in parts), strict=True)
            ]
        if isinstance(node, ast.UnaryOp):
            operand = self.compile(node.operand)
            if isinstance(node.op, ast.Not):
                return lambda cols, n: [not v for v in operand(cols, n)]
            return lambda cols, n: [-v for v in operand(cols, n)]
        if isinstance(node, ast.BinOp):
            op = BINOPS[type(node.op)]
            left, right = self.compile(node.left), self.compile(node.right)
            return lambda cols, n: list(map(op, left(cols, n), right(cols, n)))
        if isinstance(node, ast.Compare):
            first = self.compile(node.left)
            rest = [
                (CMPOPS[type(cmp)], self.compile(c))
                for cmp, c in zip(node.ops, node.comparators, strict=True)
            ]
            return lambda cols, n: _compare_rows(
                first(cols, n), [(fn, right(cols, n)) for fn, right in rest]
            )
        if isinstance(node, ast.IfExp):
            test, body, orelse = (self.compile(x) for x in (node.test, node.body, node.orelse))
            return lambda cols, n: [
                b if t else o
                for t, b, o in zip(test(cols, n), body(cols, n), orelse(cols, n), strict=True)
            ]
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            _, impl = self.functions[node.func.id]
            args = [self.compile(a) for a in node.args]
            if all(isinstance(a, ast.Constant) for a in node.args):
                # e.g. days(2): the same value for every row, computed once
                try:
                    value = impl(*(a({}, 1)[0] for a in args))
                except Exception:
                    pass
                else:
                    return lambda cols, n: [value] * n
            return lambda cols, n: list(map(impl, *(a(cols, n) for a in args)))
        raise ExpressionSyntaxError(f"{type(node).__name__} is not allowed")
