"""Errors of the pricing library: product files that cannot be used, inputs that cannot be priced."""

from __future__ import annotations

from dataclasses import dataclass


class PricingError(Exception):
    """Base of every error raised by the pricing library."""


@dataclass
class ProductFileError(PricingError):
    """A product file is invalid: names the file, the line (when known) and the path in it,
    and the column for an error inside an expression (file:line:column (path): message).
    Also a warning: what loads, but is probably not what the actuary meant."""

    file: str
    line: int | None
    path: str
    message: str
    column: int | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.line is not None and self.column is not None:
            where += f":{self.column}"
        if self.path:
            where += f" ({self.path})"
        return f"{where}: {self.message}"


class ProductInvalid(PricingError):
    """A whole product refused because of one or more file errors."""

    def __init__(self, product: str, errors: list[ProductFileError]) -> None:
        self.product = product
        self.errors = errors
        super().__init__(f"product {product!r} refused: " + "; ".join(str(e) for e in errors))


@dataclass
class InputError(PricingError):
    """A risk input is missing or invalid; `param` is the dotted path, e.g. risk.order_value."""

    param: str
    message: str
    code: str = "invalid_input"

    def __post_init__(self) -> None:
        super().__init__(f"{self.param}: {self.message}")


class InputErrors(PricingError):
    """All problems found in one risk, first one first."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


class EvaluationError(PricingError):
    """An expression could not be evaluated on a valid input: a defect of the product."""


class BreakdownError(PricingError):
    """The engine refused to emit a premium whose parts do not add up, or are negative."""
