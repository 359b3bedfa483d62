"""Pure pricing library: product files, rating engine, worksheets. No Flask, no SQLAlchemy."""

from .engine import Breakdown, Priced, Refusal, price, refund_for
from .errors import (
    BreakdownError,
    EvaluationError,
    InputError,
    InputErrors,
    PricingError,
    ProductFileError,
    ProductInvalid,
)
from .loader import Catalog, load_catalog, load_product
from .model import Edition, Product
from .money import Money

__all__ = [
    "Breakdown",
    "BreakdownError",
    "Catalog",
    "Edition",
    "EvaluationError",
    "InputError",
    "InputErrors",
    "Money",
    "Priced",
    "PricingError",
    "Product",
    "ProductFileError",
    "ProductInvalid",
    "Refusal",
    "load_catalog",
    "load_product",
    "price",
    "refund_for",
]
