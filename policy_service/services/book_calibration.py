"""`calibrate` on an exported dataset: each product-month's sold policies are the risks,
and the facts of the report that decided a policy's claim are what happened to it (the
export keeps them with the claim, their identifiers hashed). A slice is a product-month,
read here or on a Dask worker, and becomes the same calibration book a CSV of those rows
would be (pricing/calibration_book.py), so the fit and its measurements are the CSV's.

What the dataset cannot say: a report that reached a policy without deciding a claim
(it paid nothing under the rules then) is not in it, and neither is a loss that befell a
policy cancelled before its report came. Calibrating an edition on policies sold on it,
the first changes nothing (the same rules pay nothing again); the second is the book as
the service saw it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from policy_service.adapters import parquet_book
from pricing.calibration_book import Book, Where, book_from_text, cell_text
from pricing.calibration_claims import Trigger, needed
from pricing.identifiers import stand_ins as stand_ins_of
from pricing.model import Edition, Product

from .book_jobs import Slice, sold_policies


@dataclass(frozen=True)
class ExportedSlice:
    """One product-month of an exported dataset, as a calibration book's rows."""

    path: str
    livemode: bool
    #: identifier -> a value every edition accepts, for its hash (pricing never reads it)
    stand_ins: Mapping[str, str] = field(default_factory=dict)
    #: keep every Nth policy of the month
    every: int = 1

    def load(self, edition: Edition, trigger: Trigger, checked: bool = False) -> Book:
        policies = sold_policies(
            Slice(self.path), None, self.livemode, ["id", "risk", "priced_at", "created_at"]
        )
        policies = policies.iloc[:: self.every].reset_index(drop=True)
        claims = parquet_book.read_partition(
            parquet_book.sibling(Path(self.path), "claims"),
            "claims",
            ["policy_id", "livemode", "trigger_type", "trigger_data", "observed_at"],
        )
        reported = claims[
            (claims["trigger_type"] == trigger.name)
            & claims["trigger_data"].notna()
            & (claims["livemode"] == self.livemode)
        ]
        # a policy's first report of this type is what happened to it
        first = reported.sort_values(["observed_at", "id"], kind="stable").drop_duplicates(
            "policy_id"
        )
        rows = policies.merge(
            first[["policy_id", "trigger_data", "observed_at"]],
            how="left",
            left_on="id",
            right_on="policy_id",
        )
        text = _as_text(rows, edition, trigger, self.stand_ins)
        where = Where(self.path, self.path, np.arange(len(rows)) + 1, "row")
        return book_from_text(
            text, where, edition, trigger.name, trigger.fields, needed(edition, trigger),
            check_inputs=False, check_facts=not checked,
        )  # fmt: skip


def exported_slices(
    root: Path, product: Product, livemode: bool, every: int = 1
) -> list[ExportedSlice]:
    """The product's months in an exported dataset, oldest first."""
    months = parquet_book.partitions(root, "policies", product.code)
    if not months:
        raise LookupError(f"{root}: no policies of {product.code} were exported here")
    if not parquet_book.partitions(root, "claims", product.code):
        raise LookupError(
            f"{root}: no claims of {product.code}: export them too (policy-service export "
            f"claims --out {root}), or the book has nothing happened to it"
        )
    if "masking" not in parquet_book.read_state(root, "claims"):
        raise LookupError(
            f"{root}: its claims were exported before a claim took its report's facts "
            "along: export them again into this folder (see policy-service export claims)"
        )
    found = stand_ins_of(product.identifiers, product.editions)
    return [ExportedSlice(str(p), livemode, found, every) for p in months]


def _as_text(
    rows: pd.DataFrame, edition: Edition, trigger: Trigger, stand_ins: Mapping[str, str]
) -> pd.DataFrame:
    """The rows as a CSV book's cells: the edition's inputs, the trigger's fields that are
    not inputs, priced_at and observed_at."""
    risks = [_standing(json.loads(r), stand_ins) for r in rows["risk"]]
    facts = [
        {} if pd.isna(d) else _standing(json.loads(d), stand_ins) for d in rows["trigger_data"]
    ]
    columns: dict[str, list[str]] = {}
    for spec in edition.inputs.specs:
        columns[spec.name] = [cell_text(r.get(spec.name)) for r in risks]
    for spec in trigger.fields:
        if spec.name not in columns:
            columns[spec.name] = [cell_text(f.get(spec.name)) for f in facts]
    # a policy stored before priced_at was kept: priced when it was sold
    priced = rows["priced_at"].fillna(rows["created_at"])
    columns["priced_at"] = [t.isoformat() for t in priced]
    columns["observed_at"] = ["" if pd.isna(t) else t.isoformat() for t in rows["observed_at"]]
    return pd.DataFrame(columns, index=range(len(rows)), dtype=object)


def _standing(values: dict[str, Any], stand_ins: Mapping[str, str]) -> dict[str, Any]:
    return values | {k: v for k, v in stand_ins.items() if values.get(k) is not None}
