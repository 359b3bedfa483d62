"""What a checked expression means beyond its type, read off its syntax tree when the
product loads: the money literals in it, whether a condition is constant, whether one
condition implies another, the most an amount can be.

Every answer is conservative: "don't know" (None, False, no literal) whenever the tree is
not one of the simple shapes understood here, so that a warning or a refusal built on it
is never wrong, only sometimes missing.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from datetime import UTC
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import EvaluationError
from .expression_language import CMPOPS, ExpressionProblem, problem_at
from .expressions import Expression, ExpressionSyntaxError, compile_expression
from .money import MINOR_UNITS
from .typecheck import Type


def _tree(expr: Expression) -> ast.expr | None:
    try:
        return ast.parse(expr.source, mode="eval").body
    except SyntaxError:  # a constant compiled without text to parse (True)
        return None


def _number(node: ast.AST, source: str) -> Decimal | None:
    """A number literal's value as written (25.005 stays 25.005: never a float)."""
    if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
        return None
    if not isinstance(node.value, int | float):
        return None
    try:
        return Decimal(ast.get_source_segment(source, node) or "")
    except InvalidOperation:
        return None


def _call_of(node: ast.AST, *names: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names


# -- money literals -------------------------------------------------------------------------


def fits_currency(amount: Decimal, currency: str) -> bool:
    """The amount is a whole number of the currency's minor unit (fen, cent; yen)."""
    quantum = Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))
    return amount == amount.quantize(quantum)


def _is_money(node: ast.AST, scope: Mapping[str, Type]) -> bool:
    """The node gives an amount of money: a money input, or a sum, min, max, sign or
    choice of amounts. (A product or a quotient scales money by a ratio: not followed.)"""
    if isinstance(node, ast.Name):
        known = scope.get(node.id)
        return known is not None and known.money
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        return _is_money(node.left, scope) or _is_money(node.right, scope)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _is_money(node.operand, scope)
    if _call_of(node, "min", "max", "abs"):
        return any(_is_money(a, scope) for a in getattr(node, "args", ()))
    if isinstance(node, ast.IfExp):
        return _is_money(node.body, scope) or _is_money(node.orelse, scope)
    return False


def _money_constants(
    node: ast.AST, money: bool, scope: Mapping[str, Type], out: list[ast.Constant]
) -> None:
    """The number literals that stand for money: given where an amount is given, added
    to one, or compared with one."""
    money = money or _is_money(node, scope)
    if isinstance(node, ast.Constant):
        if money and not isinstance(node.value, bool | str):
            out.append(node)
    elif isinstance(node, ast.BinOp):
        keeps = isinstance(node.op, ast.Add | ast.Sub)
        _money_constants(node.left, money and keeps, scope, out)
        _money_constants(node.right, money and keeps, scope, out)
    elif isinstance(node, ast.UnaryOp):
        _money_constants(node.operand, money and isinstance(node.op, ast.USub), scope, out)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        keeps = node.func.id in ("min", "max", "abs")
        for arg in node.args:
            _money_constants(arg, money and keeps, scope, out)
    elif isinstance(node, ast.IfExp):
        _money_constants(node.test, False, scope, out)
        _money_constants(node.body, money, scope, out)
        _money_constants(node.orelse, money, scope, out)
    elif isinstance(node, ast.Compare):
        operands = [node.left, *node.comparators]
        compared = any(_is_money(o, scope) for o in operands)
        for operand in operands:
            _money_constants(operand, compared, scope, out)
    elif isinstance(node, ast.List | ast.Tuple | ast.Set):
        for element in node.elts:
            _money_constants(element, money, scope, out)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            _money_constants(value, False, scope, out)


def money_literal_problems(
    expr: Expression, scope: Mapping[str, Type], currency: str, gives_money: bool
) -> list[ExpressionProblem]:
    """Money literals with more decimals than `currency` has: 200.005 CNY would be paid
    or compared as something else than written. `gives_money`: the expression's value is
    an amount (a payout), so a literal it gives is money."""
    tree = _tree(expr)
    if tree is None:
        return []
    found: list[ast.Constant] = []
    _money_constants(tree, gives_money, scope, found)
    problems = []
    for node in found:
        amount = _number(node, expr.source)
        if amount is not None and not fits_currency(amount, currency):
            problems.append(
                problem_at(
                    node,
                    expr.source,
                    f"money amount {ast.get_source_segment(expr.source, node)} has more "
                    f"decimals than {currency} has ({MINOR_UNITS.get(currency, 2)})",
                )
            )
    return problems


# -- constant conditions and implication -----------------------------------------------------


def _names_free(node: ast.AST) -> bool:
    return not any(
        isinstance(n, ast.Name) and n.id not in ("true", "false") for n in ast.walk(node)
    )


def _truth(node: ast.AST, source: str) -> bool | None:
    """True or False when the condition cannot depend on the facts; None otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.BoolOp):
        parts = [_truth(v, source) for v in node.values]
        stop = isinstance(node.op, ast.Or)  # the value that decides: true for `or`
        if stop in parts:
            return stop
        return (not stop) if all(p is not None for p in parts) else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _truth(node.operand, source)
        return None if inner is None else not inner
    if not _names_free(node):
        return None
    segment = ast.get_source_segment(source, node)
    try:  # no name in it: the language itself says what it is
        value = compile_expression(segment, (), UTC)({})
    except (ExpressionSyntaxError, EvaluationError):
        return None
    return value if isinstance(value, bool) else None


def constant_truth(expr: Expression) -> bool | None:
    """The condition's value when it is the same whatever the facts (None: it depends)."""
    tree = _tree(expr)
    return None if tree is None else _truth(tree, expr.source)


_FLIP: dict[type, type] = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE}
_NO_VALUE = object()


def _literal(node: ast.AST, source: str) -> Any:
    if isinstance(node, ast.Name) and node.id in ("true", "false"):
        return node.id == "true"
    if isinstance(node, ast.Constant) and isinstance(node.value, bool | str):
        return node.value
    number = _number(node, source)
    if number is not None:
        return number
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        values = [_literal(e, source) for e in node.elts]
        return _NO_VALUE if _NO_VALUE in values else frozenset(values)
    return _NO_VALUE


def _comparison(node: ast.AST, source: str) -> tuple[str, type, Any] | None:
    """`x op literal` (or `literal op x`) as (the tree of x, op, the literal's value)."""
    if not isinstance(node, ast.Compare) or len(node.ops) != 1:
        return None
    op, left, right = type(node.ops[0]), node.left, node.comparators[0]
    value = _literal(right, source)
    if value is not _NO_VALUE:
        return ast.dump(left), op, value
    value = _literal(left, source)
    if value is not _NO_VALUE and op in _FLIP:
        return ast.dump(right), _FLIP[op], value
    return None


def _holds(op: type, a: Any, b: Any) -> bool:
    if isinstance(b, frozenset) != (op in (ast.In, ast.NotIn)):
        return False
    try:
        return bool(CMPOPS[op](a, b))
    except TypeError:  # text against a number: nothing is known
        return False


def _atom_implies(a: ast.AST, b: ast.AST, source_a: str, source_b: str) -> bool:
    ca, cb = _comparison(a, source_a), _comparison(b, source_b)
    if ca is None or cb is None or ca[0] != cb[0]:
        return False
    (_, oa, va), (_, ob, vb) = ca, cb
    if oa is ast.Eq:  # x == 3 implies x >= 2, x in [3, 4], x != 5
        return _holds(ob, va, vb)
    if oa is ast.In and isinstance(va, frozenset):  # every value it allows
        return bool(va) and all(_holds(ob, v, vb) for v in va)
    numbers = isinstance(va, Decimal) and isinstance(vb, Decimal)
    if numbers and oa in (ast.Gt, ast.GtE) and ob in (ast.Gt, ast.GtE):
        return bool(va > vb or (va == vb and (oa is ast.Gt or ob is ast.GtE)))
    if numbers and oa in (ast.Lt, ast.LtE) and ob in (ast.Lt, ast.LtE):
        return bool(va < vb or (va == vb and (oa is ast.Lt or ob is ast.LtE)))
    return False


def _implies(a: ast.AST, b: ast.AST, source_a: str, source_b: str) -> bool:
    if ast.dump(a) == ast.dump(b):
        return True
    if isinstance(b, ast.BoolOp) and isinstance(b.op, ast.And):
        return all(_implies(a, v, source_a, source_b) for v in b.values)
    if isinstance(a, ast.BoolOp) and isinstance(a.op, ast.Or):
        return all(_implies(v, b, source_a, source_b) for v in a.values)
    if isinstance(a, ast.BoolOp) and any(_implies(v, b, source_a, source_b) for v in a.values):
        return True  # one part of an `and` is enough
    if isinstance(b, ast.BoolOp):  # an `or`: one part is enough
        return any(_implies(a, v, source_a, source_b) for v in b.values)
    return _atom_implies(a, b, source_a, source_b)


def implies(a: Expression, b: Expression) -> bool:
    """Whenever condition `a` holds, so does `b` (False: not shown, not disproved): the
    same condition, or a narrower one such as `x >= 300` against `x >= 240`."""
    ta, tb = _tree(a), _tree(b)
    return ta is not None and tb is not None and _implies(ta, tb, a.source, b.source)


# -- bounds -----------------------------------------------------------------------------------


def _bound(node: ast.AST, source: str) -> Decimal | None:
    number = _number(node, source)
    if number is not None:
        return number
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        bounds = [_bound(a, source) for a in node.args]
        known = [b for b in bounds if b is not None]
        if node.func.id == "min" and known:  # min(x, 25.00) is never above 25.00
            return min(known)
        if node.func.id == "max" and len(known) == len(bounds):
            return max(known)
    if isinstance(node, ast.IfExp):
        body, orelse = _bound(node.body, source), _bound(node.orelse, source)
        return None if body is None or orelse is None else max(body, orelse)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _bound(node.left, source), _bound(node.right, source)
        return None if left is None or right is None else left + right
    return None


def upper_bound(expr: Expression) -> Decimal | None:
    """The most the amount can be, when its shape says (a constant, min(x, 25.00), a
    choice between bounded amounts); None when it depends on the facts unbounded."""
    tree = _tree(expr)
    return None if tree is None else _bound(tree, expr.source)
