"""A small expression language for product files, compiled once into closures.

The text is parsed with Python's own parser into a syntax tree, then every node is
checked against a short whitelist and turned into a closure. Nothing is ever passed
to eval: attribute access, subscripts, lambdas, comprehensions and unknown names or
functions are refused when the product is loaded, with the file and line.

    hours_between(now, scheduled_departure) < 2
    category in ["virtual_goods", "gift_card"]
    end_of_day(delivery_date + days(7))
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import EvaluationError

Env = dict[str, Any]
Evaluator = Callable[[Env], Any]


class ExpressionSyntaxError(ValueError):
    """The expression text is not in the language; the message says why."""


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise EvaluationError(f"expected a number, got {value!r}")
    return Decimal(value)


def _local_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise EvaluationError(f"expected a date or date-time, got {value!r}")


def _require_datetime(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise EvaluationError(f"expected a date-time, got {value!r}")
    return value


def _between(a: Any, b: Any, unit: Decimal) -> Decimal:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return Decimal((b - a) // timedelta(microseconds=1)) / unit
    if isinstance(a, date) and isinstance(b, date) and not isinstance(a, datetime):
        return Decimal((b - a).days) * Decimal(86_400_000_000) / unit
    raise EvaluationError(f"cannot measure the time between {a!r} and {b!r}")


_US_PER_HOUR = Decimal(3_600_000_000)
_US_PER_DAY = Decimal(86_400_000_000)


def _duration(microseconds_per_unit: int) -> Callable[[Any], timedelta]:
    def make(n: Any) -> timedelta:
        return timedelta(microseconds=int(_to_decimal(n) * microseconds_per_unit))

    return make


def _functions(tz: tzinfo) -> dict[str, tuple[int, Callable[..., Any]]]:
    """name -> (number of arguments, implementation); tz is the product's local zone."""

    def start_of_day(value: Any) -> datetime:
        return datetime.combine(_local_date(value), time(0), tz)

    def end_of_day(value: Any) -> datetime:
        # Exclusive end: midnight that starts the next day, in the product's zone.
        return datetime.combine(_local_date(value) + timedelta(days=1), time(0), tz)

    return {
        "month": (1, lambda v: _local_date(v).month),
        "weekday": (1, lambda v: _local_date(v).isoweekday()),
        "hour": (1, lambda v: _require_datetime(v).hour),
        "date": (1, _local_date),
        "days": (1, _duration(86_400_000_000)),
        "hours": (1, _duration(3_600_000_000)),
        "minutes": (1, _duration(60_000_000)),
        "hours_between": (2, lambda a, b: _between(a, b, _US_PER_HOUR)),
        "days_between": (2, lambda a, b: _between(a, b, _US_PER_DAY)),
        "start_of_day": (1, start_of_day),
        "end_of_day": (1, end_of_day),
        "min": (2, min),
        "max": (2, max),
        "abs": (1, abs),
    }


def _divide(a: Any, b: Any) -> Any:
    # 7 / 2 is 3.5 as a Decimal, never Python's float
    if isinstance(a, int) and not isinstance(a, bool):
        a = Decimal(a)
    return a / b


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: _divide,
}
_CMPOPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


#: the same evaluation over columns: {name: values} and the number of rows -> values
ColumnEvaluator = Callable[[dict[str, list[Any]], int], list[Any]]


@dataclass(frozen=True)
class Expression:
    source: str
    names: frozenset[str]
    evaluate: Evaluator
    #: evaluates every row at once with the same element operations as `evaluate`, but
    #: every branch for every row: it may raise where `evaluate` would not (a branch that
    #: `and` or `if` skips), so a caller falls back to `evaluate` row by row on any error
    columns: ColumnEvaluator = field(compare=False, repr=False)

    def __call__(self, env: Env) -> Any:
        try:
            return self.evaluate(env)
        except EvaluationError:
            raise
        except (TypeError, ArithmeticError, InvalidOperation, ValueError, OverflowError) as exc:
            raise EvaluationError(f"cannot evaluate {self.source!r}: {exc}") from None


def _comparison(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    # A missing (None) value makes any comparison false, whatever the operator.
    def compare(left: Any, right: Any) -> bool:
        return left is not None and right is not None and op(left, right)

    return compare


_COMPARE = {kind: _comparison(fn) for kind, fn in _CMPOPS.items()}
_BINARY_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}


class Namespace:
    """What generated code may see: bound constants and functions, and its temporaries.
    Several expressions written into one function share one namespace."""

    def __init__(self) -> None:
        self.bound: dict[str, Any] = {"_divide": _divide}
        self.count = 0

    def bind(self, value: Any) -> str:
        self.count += 1
        name = f"_k{self.count}"
        self.bound[name] = value
        return name

    def temp(self) -> str:
        self.count += 1
        return f"_t{self.count}"

    def evaluate(self, code: str) -> Any:
        """Run generated code (a lambda or a def's text) with nothing but the bindings."""
        scope: dict[str, Any] = {"__builtins__": {}, **self.bound}
        if code.startswith("def "):
            exec(compile(code, "<plan>", "exec"), scope)
            return scope[code[4 : code.index("(")]]
        return eval(compile(code, "<expression>", "eval"), scope)


class _Compiler:
    """Checks a tree against the whitelist and writes it out as one Python expression over
    `env`, compiled once: an expression then costs a few bytecodes, not a call per node.

    Only what the checks let through is written: names as env["name"], literals as bound
    constants, functions as bound implementations; the generated code sees no builtins."""

    def __init__(
        self, source: str, known: Iterable[str], tz: tzinfo, namespace: Namespace | None = None
    ) -> None:
        self.source = source
        self.known = set(known)
        self.functions = _functions(tz)
        self.names: set[str] = set()
        self.namespace = namespace or Namespace()

    def fail(self, node: ast.AST, message: str) -> ExpressionSyntaxError:
        col = getattr(node, "col_offset", None)
        where = f" at column {col + 1}" if col is not None else ""
        return ExpressionSyntaxError(f"{message}{where} in {self.source!r}")

    def bind(self, value: Any) -> str:
        return self.namespace.bind(value)

    def evaluator(self, tree: ast.Expression) -> Evaluator:
        # generated from a checked tree: names, bound constants and functions, operators
        evaluate: Evaluator = self.namespace.evaluate(f"lambda env: {self.compile(tree)}")
        return evaluate

    def literal(self, node: ast.Constant) -> Any:
        """A literal's value: a number with a point is the Decimal of its own text."""
        if isinstance(node.value, float):
            return Decimal(ast.get_source_segment(self.source, node) or repr(node.value))
        return node.value

    def compile(self, node: ast.AST) -> str:
        if isinstance(node, ast.Expression):
            return self.compile(node.body)
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or value is None or isinstance(value, int):
                return repr(value)
            if isinstance(value, str):
                return self.bind(value)
            if isinstance(value, float):
                # Take the literal's own text so 0.1 is exactly one tenth.
                return self.bind(self.literal(node))
            raise self.fail(node, f"unsupported literal {value!r}")
        if isinstance(node, ast.Name):
            if node.id in ("true", "false"):
                return repr(node.id == "true")
            if node.id not in self.known:
                raise self.fail(node, f"unknown name {node.id!r}")
            self.names.add(node.id)
            return f"env[{node.id!r}]"
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return "(" + "".join(f"{self.compile(e)}, " for e in node.elts) + ")"
        if isinstance(node, ast.BoolOp):
            # all() / any(): a bool, the operands evaluated left to right until one decides
            joiner = " and " if isinstance(node.op, ast.And) else " or "
            return "(not not (" + joiner.join(f"({self.compile(v)})" for v in node.values) + "))"
        if isinstance(node, ast.UnaryOp):
            operand = self.compile(node.operand)
            if isinstance(node.op, ast.Not):
                return f"(not ({operand}))"
            if isinstance(node.op, ast.USub):
                return f"(-({operand}))"
            raise self.fail(node, "unsupported operator")
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise self.fail(node, "unsupported operator (use + - * /)")
            left, right = self.compile(node.left), self.compile(node.right)
            if isinstance(node.op, ast.Div):
                return f"_divide({left}, {right})"
            return f"(({left}) {_BINARY_SYMBOLS[type(node.op)]} ({right}))"
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            test, body, orelse = (self.compile(n) for n in (node.test, node.body, node.orelse))
            return f"(({body}) if ({test}) else ({orelse}))"
        if isinstance(node, ast.Call):
            return self._call(node)
        raise self.fail(node, f"{type(node).__name__} is not allowed")

    def _compare(self, node: ast.Compare) -> str:
        # a < b < c: b is evaluated once and c only if a < b held, as in Python
        left = self.compile(node.left)
        parts = []
        for i, (cmp, comparator) in enumerate(zip(node.ops, node.comparators, strict=True)):
            fn = _COMPARE.get(type(cmp))
            if fn is None:
                raise self.fail(node, "unsupported comparison")
            right = self.compile(comparator)
            if i < len(node.ops) - 1:
                temp = self.namespace.temp()
                right = f"({temp} := {right})"
                parts.append(f"{self.bind(fn)}({left}, {right})")
                left = temp
            else:
                parts.append(f"{self.bind(fn)}({left}, {right})")
        return "(" + " and ".join(parts) + ")"

    def _call(self, node: ast.Call) -> str:
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise self.fail(node, "only calls like name(arg, ...) are allowed")
        entry = self.functions.get(node.func.id)
        if entry is None:
            known = ", ".join(sorted(self.functions))
            raise self.fail(node, f"unknown function {node.func.id!r} (known: {known})")
        arity, impl = entry
        if len(node.args) != arity:
            raise self.fail(node, f"{node.func.id}() takes {arity} argument(s)")
        args = [self.compile(a) for a in node.args]
        if all(isinstance(a, ast.Constant) for a in node.args):
            # e.g. hours(24): the same value every time, computed once; an error is
            # left to happen when it is evaluated
            try:
                value = impl(*(self.literal(a) for a in node.args))  # type: ignore[arg-type]
            except Exception:
                pass
            else:
                return self.bind(value)
        return f"{self.bind(impl)}({', '.join(args)})"


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


class _ColumnCompiler:
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
            op = _BINOPS[type(node.op)]
            left, right = self.compile(node.left), self.compile(node.right)
            return lambda cols, n: list(map(op, left(cols, n), right(cols, n)))
        if isinstance(node, ast.Compare):
            first = self.compile(node.left)
            rest = [
                (_CMPOPS[type(cmp)], self.compile(c))
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


def compile_expression(source: object, known: Iterable[str], tz: tzinfo) -> Expression:
    """Compile `source` allowing only the names in `known`; raises ExpressionSyntaxError."""
    if isinstance(source, (bool, int | Decimal)):
        value = source
        return Expression(str(source), frozenset(), lambda env: value, lambda cols, n: [value] * n)
    if not isinstance(source, str) or not source.strip():
        raise ExpressionSyntaxError("an expression must be a non-empty text")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionSyntaxError(f"syntax error in {source!r}: {exc.msg}") from None
    compiler = _Compiler(source.strip(), known, tz)
    evaluate = compiler.evaluator(tree)
    columns = _ColumnCompiler(source.strip(), compiler.functions).compile(tree)
    return Expression(source.strip(), frozenset(compiler.names), evaluate, columns)


def expression_code(expr: Expression, tz: tzinfo, namespace: Namespace) -> str:
    """`expr` written as Python code over `env`, its constants bound in `namespace` (to
    inline several expressions into one generated function)."""
    tree = ast.parse(expr.source, mode="eval")
    return _Compiler(expr.source, expr.names, tz, namespace).compile(tree)
