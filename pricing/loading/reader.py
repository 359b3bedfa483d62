"""Typed access to one YAML document of a product, collecting every error with its file,
line and path instead of stopping at the first."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from .. import typecheck
from ..errors import (
    ProductFileError,
)
from ..expression_checks import money_literal_problems
from ..expressions import (
    Expression,
    ExpressionProblem,
    ExpressionSyntaxError,
    compile_expression,
)
from ..source import Document, Path_
from ..typecheck import Type

MISSING = object()


class Collect:
    """Collects errors instead of stopping at the first one, and warnings: what loads but
    is probably not what was meant (they refuse nothing)."""

    def __init__(self) -> None:
        self.errors: list[ProductFileError] = []
        self.warnings: list[ProductFileError] = []

    def add(self, error: ProductFileError) -> None:
        self.errors.append(error)


class Reader:
    """Typed access to one YAML document, recording errors with file and line."""

    def __init__(self, doc: Document, out: Collect) -> None:
        self.doc = doc
        self.out = out
        #: the edition's currency once known: money literals in expressions are checked
        #: against its minor units
        self.currency: str | None = None

    def fail(self, path: Path_, message: str) -> None:
        self.out.add(self.doc.error(path, message))

    def warn(self, path: Path_, message: str) -> None:
        self.out.warnings.append(self.doc.error(path, message))

    def problem(self, path: Path_, problem: ExpressionProblem, text: str) -> None:
        """A problem of the expression `text` at `path`, located at its column in the file
        (the expression's start for a problem of the whole) when the expression stands
        there as written; else the message keeps the expression's own column."""
        column = self.column(path, text, problem.column or 1)
        self.out.add(self.doc.error(path, problem.located(with_column=column is None), column))

    def column(self, path: Path_, text: str, at: int) -> int | None:
        """The file's column of character `at` of the expression `text` at `path`."""
        if not isinstance(self.at(path), str) and path in self.doc.spans:
            text = self.doc.spans[path][1]  # a number or true/false: as written, not as read
        return self.doc.column(path, text, at)

    def about(self, path: Path_, expr: Expression, message: str, warn: bool = False) -> None:
        """An error (or a warning) about the expression at `path` as a whole, located at
        its first character when the file shows it as written."""
        error = self.doc.error(path, message, self.column(path, expr.source, 1))
        (self.out.warnings if warn else self.out.errors).append(error)

    def at(self, path: Path_) -> Any:
        node: Any = self.doc.data
        for part in path:
            if isinstance(part, int):
                node = node[part]
            else:
                node = node.get(part, MISSING) if isinstance(node, dict) else MISSING
            if node is MISSING:
                return MISSING
        return node

    def mapping(
        self, path: Path_, allowed: set[str], required: frozenset[str] | set[str] = frozenset()
    ) -> dict[str, Any] | None:
        value = self.at(path)
        if value is MISSING:
            return None
        if not isinstance(value, dict):
            self.fail(path, "must be a mapping")
            return None
        for key in value:
            if key not in allowed:
                self.fail(
                    (*path, key),
                    f"unknown key {key!r}; expected one of: {', '.join(sorted(allowed))}",
                )
        for key in required:
            if key not in value:
                self.fail(path, f"missing required key {key!r}")
        return value

    def text(self, path: Path_, required: bool = True, default: str = "") -> str:
        value = self.at(path)
        if value is MISSING or value is None:
            if required:
                self.fail(path, "is required")
            return default
        if not isinstance(value, str):
            self.fail(path, f"must be text, got {kind_of(value)}")
            return default
        return value

    def decimal(
        self, path: Path_, required: bool = True, positive: bool = False, signed: bool = False
    ) -> Decimal | None:
        value = self.at(path)
        if value is MISSING or value is None:
            if required:
                self.fail(path, "is required")
            return None
        result = to_decimal(value)
        if result is None:
            self.fail(path, f'must be a decimal number such as "1.25", got {value!r}')
            return None
        if (result < 0 and not signed) or (positive and result <= 0):
            self.fail(path, "must be positive" if positive else "must not be negative")
            return None
        return result

    def integer(self, path: Path_, required: bool = True, default: int = 0) -> int:
        value = self.at(path)
        if value is MISSING or value is None:
            if required:
                self.fail(path, "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"must be a whole number, got {value!r}")
            return default
        return value

    def items(self, path: Path_) -> list[Any]:
        value = self.at(path)
        if value is MISSING or value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, "must be a list")
            return []
        return value

    def expression(
        self,
        path: Path_,
        scope: Mapping[str, Type],
        tz: Any,
        want: str,
        required: bool = True,
        money: bool = False,
    ) -> Expression | None:
        """The expression at `path`, compiled over the names of `scope` and type-checked:
        it must give a `want` (typecheck.BOOL, DATETIME, ...); `money`: what it gives is
        an amount of the currency (a payout), so a literal it gives is money."""
        value = self.at(path)
        if value is MISSING or value is None:
            if required:
                self.fail(path, "is required")
            return None
        try:
            expr = compile_expression(value, scope.keys(), tz)
        except ExpressionSyntaxError as exc:
            self.problem(path, exc.problem, str(value).strip())
            return None
        errors = typecheck.problems(expr, scope, want)
        if not errors and self.currency is not None:
            errors = money_literal_problems(expr, scope, self.currency, money)
        for error in errors:
            self.problem(path, error, expr.source)
        return None if errors else expr


def kind_of(value: Any) -> str:
    return {dict: "a mapping", list: "a list", bool: "true/false", int: "a number"}.get(
        type(value), repr(value)
    )


def to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            return None
        return result if result.is_finite() else None
    return None
