"""Static types for the expression language: what would fail at run time is refused at load.

Every name an expression may read has a type (an input's declared type, a derived value's,
a trigger field's, or one of the policy facts). The checker walks the same syntax tree the
compiler accepted and refuses, with the column, what Python would refuse when the rule
runs: a date compared with a date-time, arithmetic on text, a payout that is not a number,
a `when` that is not true/false, a value that may be absent used in arithmetic, a literal
that is not one of an enumeration's values (`status == "canceled"`). Comparisons stay
lenient with absent values (they are false), and a comparison proves a value present for
the rest of an `and` (`delay_minutes >= 0 and minutes(delay_minutes) > hours(2)`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .expression_language import ExpressionProblem, problem_at
from .expressions import Expression
from .inputs import InputSpec

NUMBER, BOOL, STRING = "number", "true/false", "text"
DATE, DATETIME, DURATION = "date", "date-time", "duration"
LIST, NONE, ANY = "list", "nothing", "any"

#: an input type -> the kind of value an expression sees (money: its amount)
INPUT_KINDS = {
    "string": STRING,
    "integer": NUMBER,
    "decimal": NUMBER,
    "money": NUMBER,
    "date": DATE,
    "datetime": DATETIME,
    "boolean": BOOL,
}
_ORDERED = {NUMBER, STRING, DATE, DATETIME, DURATION}


@dataclass(frozen=True)
class Type:
    kind: str
    #: may be absent at run time (an optional input without a default)
    optional: bool = False
    #: the values an enumeration allows
    values: tuple[Any, ...] | None = None
    #: a literal's own value (for the enumeration check)
    literal: Any = None
    element: Type | None = None  # of a list
    #: an amount of money (a money input's amount): literals beside it are money too
    money: bool = False

    def __str__(self) -> str:
        if self.kind == LIST and self.element is not None:
            return f"a list of {self.element.kind}"
        return self.kind


T_NUMBER, T_BOOL, T_STRING = Type(NUMBER), Type(BOOL), Type(STRING)
T_DATE, T_DATETIME, T_DURATION, T_ANY = Type(DATE), Type(DATETIME), Type(DURATION), Type(ANY)
T_MONEY = Type(NUMBER, money=True)


def of_spec(spec: InputSpec) -> Type:
    return Type(
        INPUT_KINDS[spec.type],
        optional=not spec.required and spec.default is None,
        values=spec.enum,
        money=spec.type == "money",
    )


def scope_of(specs: Iterable[InputSpec], **extra: Type) -> dict[str, Type]:
    out = {s.name: of_spec(s) for s in specs}
    out.update(extra)
    return out


class _Checker:
    def __init__(self, source: str, scope: Mapping[str, Type]) -> None:
        self.source = source
        self.scope = scope
        self.errors: list[ExpressionProblem] = []

    def fail(self, node: ast.AST, message: str) -> Type:
        self.errors.append(problem_at(node, self.source, message))
        return T_ANY

    def text(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or type(node).__name__

    def check(self, node: ast.AST, present: frozenset[str] = frozenset()) -> Type:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:  # the compiler refused anything else already
            return T_ANY
        result: Type = method(node, present)
        return result

    def _Expression(self, node: ast.Expression, present: frozenset[str]) -> Type:
        return self.check(node.body, present)

    def _Constant(self, node: ast.Constant, present: frozenset[str]) -> Type:
        value = node.value
        if value is None:
            return Type(NONE)
        if isinstance(value, bool):
            return Type(BOOL, literal=value)
        if isinstance(value, str):
            return Type(STRING, literal=value)
        return Type(NUMBER, literal=value)

    def _Name(self, node: ast.Name, present: frozenset[str]) -> Type:
        if node.id in ("true", "false"):
            return Type(BOOL, literal=node.id == "true")
        known = self.scope.get(node.id, T_ANY)
        return replace(known, optional=False) if node.id in present else known

    def _List(self, node: ast.List | ast.Tuple | ast.Set, present: frozenset[str]) -> Type:
        items = [self.check(e, present) for e in node.elts]
        kinds = {t.kind for t in items if t.kind != ANY}
        if len(kinds) > 1:
            return self.fail(node, f"a list mixes {' and '.join(sorted(kinds))}")
        element = items[0] if items and kinds else T_ANY
        literals = tuple(t.literal for t in items if t.literal is not None)
        return Type(LIST, element=replace(element, literal=None, values=literals or None))

    _Tuple = _List
    _Set = _List

    def _BoolOp(self, node: ast.BoolOp, present: frozenset[str]) -> Type:
        proven = set(present)
        for value in node.values:
            t = self.check(value, frozenset(proven))
            self.want_bool(value, t)
            if isinstance(node.op, ast.And):
                proven |= _proven(value)
        return T_BOOL

    def want_bool(self, node: ast.AST, t: Type) -> None:
        if t.kind not in (BOOL, ANY):
            self.fail(node, f"{self.text(node)!r} is {t}, not true/false")

    def _UnaryOp(self, node: ast.UnaryOp, present: frozenset[str]) -> Type:
        t = self.check(node.operand, present)
        if isinstance(node.op, ast.Not):
            self.want_bool(node.operand, t)
            return T_BOOL
        self.present(node.operand, t)
        if t.kind not in (NUMBER, DURATION, ANY):
            return self.fail(node, f"cannot negate {t}")
        return replace(t, literal=None, values=None)

    def present(self, node: ast.AST, t: Type) -> None:
        if t.optional:
            self.fail(
                node,
                f"{self.text(node)!r} may be absent (it is optional): compare it first, e.g. "
                f"`{self.text(node)} >= 0 and ...`",
            )

    def _BinOp(self, node: ast.BinOp, present: frozenset[str]) -> Type:
        left, right = self.check(node.left, present), self.check(node.right, present)
        self.present(node.left, left)
        self.present(node.right, right)
        a, b = left.kind, right.kind
        if ANY in (a, b):
            return T_ANY
        symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}.get(type(node.op), "?")
        result = _ARITHMETIC.get((symbol, a, b))
        if result is None:
            return self.fail(node, f"cannot compute {a} {symbol} {b}")
        return Type(result)

    def _Compare(self, node: ast.Compare, present: frozenset[str]) -> Type:
        left_node: ast.AST = node.left
        left = self.check(left_node, present)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.check(right_node, present)
            self.compare(node, op, left_node, left, right_node, right)
            left_node, left = right_node, right
        return T_BOOL

    def compare(
        self, node: ast.AST, op: ast.cmpop, ln: ast.AST, left: Type, rn: ast.AST, right: Type
    ) -> None:
        if ANY in (left.kind, right.kind):
            return
        if NONE in (left.kind, right.kind):
            self.fail(node, "a comparison with None is always false")
            return
        if isinstance(op, ast.In | ast.NotIn):
            if right.kind != LIST or right.element is None:
                self.fail(node, f"`in` needs a list on its right, not {right}")
                return
            element = right.element
            if element.kind not in (ANY, left.kind):
                self.fail(node, f"cannot look for {left} in {right}")
            for value in element.values or ():
                self.enum_value(rn, ln, left, value)
            return
        if left.kind != right.kind:
            self.fail(node, f"cannot compare {left} with {right}")
            return
        if not isinstance(op, ast.Eq | ast.NotEq) and left.kind not in _ORDERED:
            self.fail(node, f"{left} values have no order")
            return
        if right.literal is not None:
            self.enum_value(rn, ln, left, right.literal)
        if left.literal is not None:
            self.enum_value(ln, rn, right, left.literal)

    def enum_value(self, at: ast.AST, named: ast.AST, t: Type, value: Any) -> None:
        if t.values is not None and value not in t.values:
            allowed = ", ".join(map(repr, t.values))
            self.fail(at, f"{value!r} is not a value of {self.text(named)} ({allowed})")

    def _IfExp(self, node: ast.IfExp, present: frozenset[str]) -> Type:
        self.want_bool(node.test, self.check(node.test, present))
        body = self.check(node.body, present | _proven(node.test))
        orelse = self.check(node.orelse, present)
        return self.unify(node, body, orelse)

    def unify(self, node: ast.AST, a: Type, b: Type) -> Type:
        if a.kind == ANY:
            return b
        if b.kind == ANY:
            return a
        if a.kind != b.kind:
            return self.fail(node, f"the two branches give {a} and {b}")
        return Type(a.kind, optional=a.optional or b.optional, values=a.values or b.values)

    def _Call(self, node: ast.Call, present: frozenset[str]) -> Type:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        args = [self.check(a, present) for a in node.args]
        for arg_node, arg in zip(node.args, args, strict=True):
            self.present(arg_node, arg)
        kinds = tuple(a.kind for a in args)
        if ANY in kinds:
            return T_ANY
        if name in ("min", "max"):
            if kinds[0] != kinds[1] or kinds[0] not in _ORDERED:
                return self.fail(node, f"{name}() needs two values of one kind, not {kinds}")
            return Type(kinds[0])
        if name == "abs":
            if kinds[0] not in (NUMBER, DURATION):
                return self.fail(node, f"abs() needs a number or a duration, not {kinds[0]}")
            return Type(kinds[0])
        for accepted, result in _FUNCTIONS.get(name, ()):
            if kinds == accepted:
                return Type(result)
        wanted = " or ".join(", ".join(k) for k, _ in _FUNCTIONS.get(name, ()))
        return self.fail(node, f"{name}() takes ({wanted}), not ({', '.join(kinds)})")


def _proven(node: ast.AST) -> frozenset[str]:
    """Names a true comparison shows to be present (comparing an absent value is false)."""
    if isinstance(node, ast.Compare):
        return frozenset(n.id for n in (node.left, *node.comparators) if isinstance(n, ast.Name))
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        return frozenset().union(*(_proven(v) for v in node.values))
    return frozenset()


_ARITHMETIC: dict[tuple[str, str, str], str] = {
    ("+", NUMBER, NUMBER): NUMBER,
    ("-", NUMBER, NUMBER): NUMBER,
    ("*", NUMBER, NUMBER): NUMBER,
    ("/", NUMBER, NUMBER): NUMBER,
    ("+", DATETIME, DURATION): DATETIME,
    ("+", DURATION, DATETIME): DATETIME,
    ("-", DATETIME, DURATION): DATETIME,
    ("-", DATETIME, DATETIME): DURATION,
    ("+", DATE, DURATION): DATE,
    ("+", DURATION, DATE): DATE,
    ("-", DATE, DURATION): DATE,
    ("-", DATE, DATE): DURATION,
    ("+", DURATION, DURATION): DURATION,
    ("-", DURATION, DURATION): DURATION,
    ("+", STRING, STRING): STRING,
}

#: name -> [(argument kinds, result kind)]
_FUNCTIONS: dict[str, list[tuple[tuple[str, ...], str]]] = {
    "month": [((DATE,), NUMBER), ((DATETIME,), NUMBER)],
    "weekday": [((DATE,), NUMBER), ((DATETIME,), NUMBER)],
    "hour": [((DATETIME,), NUMBER)],
    "date": [((DATE,), DATE), ((DATETIME,), DATE)],
    "days": [((NUMBER,), DURATION)],
    "hours": [((NUMBER,), DURATION)],
    "minutes": [((NUMBER,), DURATION)],
    "hours_between": [((DATETIME, DATETIME), NUMBER), ((DATE, DATE), NUMBER)],
    "days_between": [((DATETIME, DATETIME), NUMBER), ((DATE, DATE), NUMBER)],
    "start_of_day": [((DATE,), DATETIME), ((DATETIME,), DATETIME)],
    "end_of_day": [((DATE,), DATETIME), ((DATETIME,), DATETIME)],
}


def infer(expr: Expression, scope: Mapping[str, Type]) -> tuple[Type, list[ExpressionProblem]]:
    """The type of a compiled expression, and every type error in it."""
    checker = _Checker(expr.source, scope)
    try:
        tree = ast.parse(expr.source, mode="eval")
    except SyntaxError:  # a constant (True, 3) compiled without text to parse
        return Type(BOOL if isinstance(expr.evaluate({}), bool) else NUMBER), []
    return checker.check(tree), checker.errors


def check(
    expr: Expression, scope: Mapping[str, Type], want: str, optional_ok: bool = False
) -> list[str]:
    """Type errors of `expr`, which must give a `want` (one of the kinds above)."""
    return [str(p) for p in problems(expr, scope, want, optional_ok)]


def problems(
    expr: Expression, scope: Mapping[str, Type], want: str, optional_ok: bool = False
) -> list[ExpressionProblem]:
    """check(), with each error's column apart from its message; an error about the whole
    expression has no column."""
    got, errors = infer(expr, scope)
    if errors:
        return errors
    if got.kind not in (want, ANY):
        return [ExpressionProblem(f"{expr.source!r} gives {got}; it must give {_article(want)}")]
    if got.optional and not optional_ok:
        return [ExpressionProblem(f"{expr.source!r} may give nothing (it reads an optional value)")]
    return []


def _article(kind: str) -> str:
    return f"a {kind}" if kind not in (BOOL,) else "true or false"


def kind_of_input_type(input_type: str) -> str:
    return INPUT_KINDS[input_type]
