"""A synthetic exported book, as large as asked, written straight to Parquet (the layout of
`policy-service export`): a product read from products/ with two editions, the risk of
one of its tests.yaml cases varied over a few dozen values of one input, every policy sold
when the case was quoted. For the memory test and bench/book_scale.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import numpy as np
import pyarrow as pa

from policy_service.adapters import parquet_book
from pricing.loader import load_catalog
from pricing.model import Edition, Product
from tests.conftest import PRODUCTS
from tests.endorsement_helpers import another


@dataclass
class Book:
    product: Product
    a: Edition
    b: Edition
    rows: int
    slices: int


def _variants(edition: Edition, risk: dict[str, object], count: int) -> list[str]:
    """The case's risk as JSON, one string input stepped through `count` values."""
    parsed = edition.inputs.parse(risk)
    spec = next(
        s
        for s in edition.inputs.specs
        if isinstance(parsed.get(s.name), str) and not s.enum and s.pattern is not None
    )
    out, value = [], parsed[spec.name]
    for _ in range(count):
        out.append(json.dumps(edition.inputs.to_json({**parsed, spec.name: value})))
        value = another(spec, value)
    return out


def generate(out: Path, rows: int, per_slice: int, seed: int = 7) -> Book:
    """Write `rows` sold policies, `per_slice` to a product-month folder."""
    product, case = next(
        (p, c)
        for p in load_catalog(PRODUCTS).products.values()
        if len(p.editions) >= 2
        for c in p.tests
        if c.expect.get("total") is not None
    )
    edition = product.edition_at(case.quoted_at)
    assert edition is not None
    variants = np.array(_variants(edition, case.risk, 40), dtype=object)
    rng = np.random.default_rng(seed)
    sold = case.quoted_at.astimezone(UTC)
    schema = parquet_book.SCHEMAS["policies"]
    slices = 0
    for start in range(0, rows, per_slice):
        n = min(per_slice, rows - start)
        stamps = pa.array([sold] * n, type=pa.timestamp("us", tz="UTC"))
        columns = {
            "id": pa.array([f"pol_gen{start + i:012d}" for i in range(n)]),
            "partner_id": pa.array(["ptn_generated"] * n),
            "livemode": pa.array([True] * n),
            "edition_id": pa.array([edition.id] * n),
            "status": pa.array(["active"] * n),
            "risk": pa.array(variants[rng.integers(0, len(variants), n)].tolist()),
            "currency": pa.array([edition.currency] * n),
            "premium_total": pa.array(np.full(n, 1000, dtype=np.int64)),
            "created_at": stamps,
            "updated_at": stamps,
            "coverage_start": stamps,
            "coverage_end": stamps,
            "version": pa.array(np.ones(n, dtype=np.int32)),
        }
        table = pa.table([columns.get(f.name, pa.nulls(n, f.type)) for f in schema], schema=schema)
        slices += 1
        month = f"{2000 + slices // 12:04d}-{slices % 12 + 1:02d}"
        parquet_book.write_table(out, "policies", slices, product.code, month, table)
    # as an export leaves it: every table's position (this book has no claims)
    for table in ("policies", "claims"):
        parquet_book.write_state(out, table, {"rows": rows if table == "policies" else 0})
    return Book(product, product.editions[0], product.editions[-1], rows, slices)
