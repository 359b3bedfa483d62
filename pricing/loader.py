"""Load and validate product folders (the parts are in pricing/loading/).

    products/<code>/product.yaml                     name, policyholder, duplicate cover
    products/<code>/editions/<edition>/edition.yaml  inputs, eligibility, rating, cover, refunds, claims
    products/<code>/editions/<edition>/*.csv         rating tables
    products/<code>/tests.yaml                       test cases with expected premiums
    products/triggers/<name>.yaml                    trigger types: the facts claim rules react to

A product is loaded whole or not at all: every error found is collected (file, line,
path, reason) and the product is refused with all of them.
"""

from __future__ import annotations

from .loading.edition import load_recorded_edition
from .loading.product import Catalog, load_catalog, load_product, product_folders
from .loading.triggers import TriggerTypes, load_trigger_types, trigger_files
from .source import format_path

__all__ = [
    "Catalog",
    "TriggerTypes",
    "format_path",
    "load_catalog",
    "load_product",
    "load_recorded_edition",
    "load_trigger_types",
    "product_folders",
    "trigger_files",
]
