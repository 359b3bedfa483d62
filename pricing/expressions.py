"""A small expression language for product files, compiled once into Python code.

The text is parsed with Python's own parser into a syntax tree, then every node is
checked against a short whitelist (expression_code.py) and the checked tree written out
as Python code over the expression's names: the product's text itself is never passed
to eval, and attribute access, subscripts, lambdas, comprehensions and unknown names or
functions are refused when the product is loaded, with the file and line. The same tree
also compiles to a column form (expression_columns.py) for the batch path.

    hours_between(now, scheduled_departure) < 2
    category in ["virtual_goods", "gift_card"]
    end_of_day(delivery_date + days(7))
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import EvaluationError
from .expression_code import Compiler, Namespace, expression_code
from .expression_columns import ColumnCompiler
from .expression_language import (
    ColumnEvaluator,
    Env,
    Evaluator,
    ExpressionProblem,
    ExpressionSyntaxError,
)

__all__ = [
    "ColumnEvaluator",
    "Expression",
    "ExpressionProblem",
    "ExpressionSyntaxError",
    "Namespace",
    "compile_expression",
    "expression_code",
]


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
        # the parser's offset counts characters from 1 (0 or none: it cannot say where)
        column = exc.offset if exc.offset and exc.offset > 0 else None
        problem = ExpressionProblem(f"syntax error: {exc.msg}", column, source.strip())
        raise ExpressionSyntaxError(problem) from None
    compiler = Compiler(source.strip(), known, tz)
    evaluate = compiler.evaluator(tree)
    columns = ColumnCompiler(source.strip(), compiler.functions).compile(tree)
    return Expression(source.strip(), frozenset(compiler.names), evaluate, columns)
