"""Expressions compiled to numpy, for the batch path: the same values as the scalar
evaluation (Expression.evaluate), element for element, over typed columns of distinct
values (pricing/vector_ops.py).

The expression's text is parsed again with `ast` (the scalar compiler has already checked
it) and every node becomes a function over Vecs. Whatever this form cannot compute
exactly raises Unsupported, at compile time (start_of_day/end_of_day, which need the
product's zone; division; None) or at run time (a kind mismatch, a possible overflow);
the caller then evaluates the expression the scalar way, so nothing is approximated.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np

from .expressions import Expression
from .vector_ops import (
    BOOL,
    CALLS,
    DEC,
    INT,
    ORDER,
    STR,
    TD,
    Unsupported,
    Vec,
    add,
    bound,
    checked,
    comparable,
    from_values,
    member,
    truth,
)

#: {name: typed column}, number of elements -> the typed result
VectorFn = Callable[[dict[str, Vec], int], Vec]
_ARITY = {"hours_between": 2, "days_between": 2, "min": 2, "max": 2}


def compile_vector(expr: Expression) -> VectorFn | None:
    """The numpy form of `expr`, or None when it uses what that form never supports."""
    try:
        return _Compiler(expr.source).compile(ast.parse(expr.source, mode="eval").body)
    except (SyntaxError, Unsupported):
        return None


def _constant(value: Any) -> VectorFn:
    vec = from_values([value])
    if vec is None or vec.kind not in (INT, BOOL, STR, DEC):
        raise Unsupported(f"the constant {value!r}")
    return lambda env, n: Vec(vec.kind, np.repeat(vec.a, n), den=vec.den)


class _Compiler:
    def __init__(self, source: str) -> None:
        self.source = source

    def literal(self, node: ast.expr) -> Any:
        """The value of a constant as the scalar compiler reads it."""
        if isinstance(node, ast.Name) and node.id in ("true", "false"):
            return node.id == "true"
        if not isinstance(node, ast.Constant) or node.value is None:
            raise Unsupported("not a constant")
        if isinstance(node.value, float):
            return Decimal(ast.get_source_segment(self.source, node) or repr(node.value))
        return node.value

    def compile(self, node: ast.expr) -> VectorFn:
        if isinstance(node, ast.Constant) or (
            isinstance(node, ast.Name) and node.id in ("true", "false")
        ):
            return _constant(self.literal(node))
        if isinstance(node, ast.Name):
            name = node.id

            def read(env: dict[str, Vec], n: int) -> Vec:
                if name not in env:
                    raise Unsupported(f"no typed column {name}")
                return env[name]

            return read
        if isinstance(node, ast.BoolOp):
            parts = [self.compile(v) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            return lambda env, n: Vec(
                BOOL, combine.reduce([truth(p(env, n)) for p in parts], axis=0)
            )
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.IfExp):
            test, body, orelse = (self.compile(x) for x in (node.test, node.body, node.orelse))
            return lambda env, n: _choose(truth(test(env, n)), body(env, n), orelse(env, n))
        if isinstance(node, ast.Call):
            return self.call(node)
        raise Unsupported(type(node).__name__)

    def unary(self, node: ast.UnaryOp) -> VectorFn:
        operand = self.compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda env, n: Vec(BOOL, ~truth(operand(env, n)))
        if not isinstance(node.op, ast.USub):
            raise Unsupported("operator")

        def negate(env: dict[str, Vec], n: int) -> Vec:
            x = operand(env, n)
            if x.kind not in (INT, TD):
                raise Unsupported(f"-{x.kind}")
            return Vec(x.kind, -x.a)

        return negate

    def binary(self, node: ast.BinOp) -> VectorFn:
        left, right = self.compile(node.left), self.compile(node.right)
        if isinstance(node.op, ast.Add | ast.Sub):
            sign = 1 if isinstance(node.op, ast.Add) else -1
            return lambda env, n: add(left(env, n), right(env, n), sign)
        if not isinstance(node.op, ast.Mult):
            raise Unsupported("division")  # a Decimal quotient: the scalar way

        def multiply(env: dict[str, Vec], n: int) -> Vec:
            x, y = left(env, n), right(env, n)
            if x.kind != INT or y.kind != INT:
                raise Unsupported(f"{x.kind} * {y.kind}")
            return checked(INT, x.a * y.a, bound(x.a) * bound(y.a))

        return multiply

    def compare(self, node: ast.Compare) -> VectorFn:
        first = self.compile(node.left)
        steps: list[tuple[Any, VectorFn | list[Any]]] = []
        for i, (op, comparator) in enumerate(zip(node.ops, node.comparators, strict=True)):
            if isinstance(op, ast.In | ast.NotIn):
                if i != len(node.ops) - 1 or not isinstance(
                    comparator, ast.List | ast.Tuple | ast.Set
                ):
                    raise Unsupported("membership in something else than a list")
                steps.append((op, [self.literal(e) for e in comparator.elts]))
            elif type(op) in ORDER:
                steps.append((ORDER[type(op)], self.compile(comparator)))
            else:
                raise Unsupported("comparison")

        def evaluate(env: dict[str, Vec], n: int) -> Vec:
            left = first(env, n)
            result = np.ones(n, dtype=bool)
            for op, right in steps:
                if isinstance(right, list):
                    return Vec(BOOL, result & member(left, right, isinstance(op, ast.NotIn)).a)
                value = right(env, n)
                result &= op(*comparable(left, value))
                left = value
            return Vec(BOOL, result)

        return evaluate

    def call(self, node: ast.Call) -> VectorFn:
        if not isinstance(node.func, ast.Name) or node.func.id not in CALLS or node.keywords:
            raise Unsupported("function")
        fn = CALLS[node.func.id]
        if len(node.args) != _ARITY.get(node.func.id, 1):
            raise Unsupported("arity")
        args = [self.compile(a) for a in node.args]
        return lambda env, n: fn(*(a(env, n) for a in args))


def _choose(test: np.ndarray, body: Vec, orelse: Vec) -> Vec:
    if body.kind != orelse.kind or body.den != orelse.den or body.kind == DEC:
        raise Unsupported(f"if-else of {body.kind} and {orelse.kind}")
    off = None
    if body.off is not None and orelse.off is not None:
        off = np.where(test, body.off, orelse.off)
    return Vec(body.kind, np.where(test, body.a, orelse.a), off, body.den)
