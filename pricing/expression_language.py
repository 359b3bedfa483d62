"""The expression language's vocabulary: its functions, operators and errors, shared by
the code generator (expression_code.py) and the column evaluator (expression_columns.py)."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from .errors import EvaluationError

Env = dict[str, Any]
Evaluator = Callable[[Env], Any]


@dataclass(frozen=True)
class ExpressionProblem:
    """What is wrong with an expression, and where: `column` counts characters from 1 in
    `source` (None: the expression as a whole). Kept apart so that a product file's reader
    can turn the column into one of the file's own."""

    message: str
    column: int | None = None
    source: str | None = None

    def __str__(self) -> str:
        return self.located(with_column=True)

    def located(self, with_column: bool) -> str:
        where = f" at column {self.column}" if with_column and self.column is not None else ""
        return f"{self.message}{where}" + (f" in {self.source!r}" if self.source else "")


def problem_at(node: ast.AST, source: str, message: str) -> ExpressionProblem:
    """A problem at a node of `source`'s tree; the parser counts columns in UTF-8 bytes."""
    offset = getattr(node, "col_offset", None)
    if offset is None:
        return ExpressionProblem(message, None, source)
    chars = len(source.encode()[:offset].decode(errors="ignore"))
    return ExpressionProblem(message, chars + 1, source)


class ExpressionSyntaxError(ValueError):
    """The expression text is not in the language; the message (and `problem`) say why."""

    def __init__(self, problem: ExpressionProblem | str) -> None:
        self.problem = (
            problem if isinstance(problem, ExpressionProblem) else ExpressionProblem(problem)
        )
        super().__init__(str(self.problem))


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


def functions(tz: tzinfo) -> dict[str, tuple[int, Callable[..., Any]]]:
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


def divide(a: Any, b: Any) -> Any:
    # 7 / 2 is 3.5 as a Decimal, never Python's float
    if isinstance(a, int) and not isinstance(a, bool):
        a = Decimal(a)
    return a / b


BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: divide,
}
CMPOPS: dict[type, Callable[[Any, Any], bool]] = {
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
