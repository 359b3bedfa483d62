"""The actuarial jobs on a Parquet book, a slice at a time: an exported dataset (a slice
is one product-month, adapters/parquet_book.py) or any Parquet book file (a slice is one
row group). Each slice is priced or counted by the same code as the whole book on one
process (pricing/impact.py, pricing/experience.py), here or on a Dask worker
(adapters/dask_runner.py), and the slices' results are merged in their order: the figures
are the same whichever way the book was read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow.parquet as pq

from policy_service.adapters import parquet_book
from policy_service.adapters.dask_runner import run_slices
from policy_service.domain.money import MINOR_UNITS, from_minor
from policy_service.domain.records import Policy, Premium
from pricing.experience import combine, experience_sums, ratios
from pricing.identifiers import stand_ins as identifier_stand_ins
from pricing.impact import ImpactPart, book_times, normalise_book, price_book
from pricing.model import Edition, Product

from . import replay
from .replay import ReplayReport

#: a policy counts as sold once it is paid for or partner-settled
SOLD = ("active", "expired", "cancelled")


@dataclass(frozen=True)
class Slice:
    """One task: a product-month folder of a dataset, or a row group of a book file."""

    path: str
    row_group: int | None = None


def slices(book: Path, product: str) -> list[Slice]:
    """The slices of a book for one product (a dataset), or of a book file."""
    if parquet_book.is_dataset(book):
        return [Slice(str(p)) for p in parquet_book.partitions(book, "policies", product)]
    if book.is_file() and book.suffix.lower() == ".parquet":
        groups = pq.ParquetFile(book).metadata.num_row_groups
        return [Slice(str(book), i) for i in range(groups)]
    raise LookupError(
        f"{book}: give a folder written by `policy-service export`, or a .parquet file"
    )


def sold_policies(
    part: Slice, since: datetime | None, livemode: bool | None, columns: list[str]
) -> pd.DataFrame:
    """A product-month's sold policies (their latest version), the columns asked for."""
    wanted = list(dict.fromkeys([*columns, "status", "livemode", "created_at"]))
    frame = parquet_book.read_partition(Path(part.path), "policies", wanted)
    keep = frame["status"].isin(SOLD)
    if livemode is not None:
        keep &= frame["livemode"] == livemode
    if since is not None:
        keep &= frame["created_at"] >= pd.Timestamp(since)
    return frame[keep].reset_index(drop=True)


def impact_slice(
    part: Slice,
    a: Edition,
    b: Edition,
    since: datetime | None,
    livemode: bool | None,
    now: datetime,
    stand_ins: Mapping[str, str] | None = None,
) -> ImpactPart:
    """One slice priced on both editions, each risk at the time it was sold (a book file's
    row: at its priced_at, else now). A dataset's hashed identifiers are priced as
    `stand_ins` (pricing/identifiers.py)."""
    if part.row_group is not None:  # a book file: its inputs as columns
        table = pq.ParquetFile(part.path).read_row_group(part.row_group)
        frame = normalise_book(table.to_pandas(), part.path)
        risks, times = book_times(frame, part.path, now)
        return price_book(a, b, risks, times)
    frame = sold_policies(part, since, livemode, ["risk"])
    # orjson and a whole-column conversion: a third of a slice's time went to these two
    # (bench/README.md, "The book on Dask")
    risks = pd.DataFrame([orjson.loads(r) for r in frame["risk"]])
    for name, value in (stand_ins or {}).items():
        if name in risks:
            risks[name] = value
    times = list(frame["created_at"].dt.to_pydatetime())
    return price_book(a, b, risks, times)


def impact_of_book(
    book: Path,
    product: str,
    a: Edition,
    b: Edition,
    since: datetime | None,
    livemode: bool | None,
    now: datetime,
    dask: str | None,
    progress: Callable[[int, int], None] | None = None,
    identifiers: tuple[str, ...] = (),
) -> ImpactPart:
    """The whole book's impact part, its slices merged in order. `identifiers`: the
    product's, which an exported book holds hashed."""
    if a.currency != b.currency:
        raise LookupError(f"{a.ref} is in {a.currency}, {b.ref} in {b.currency}")
    stand_ins = identifier_stand_ins(identifiers, [a, b])
    job = partial(
        impact_slice, a=a, b=b, since=since, livemode=livemode, now=now, stand_ins=stand_ins
    )
    total = ImpactPart()
    for part in run_slices(job, slices(book, product), dask, progress):
        total.merge(part)
    return total


def experience_slice(
    part: Slice,
    by: list[str],
    now: datetime,
    period: str,
    tz: str,
    livemode: bool,
) -> pd.DataFrame:
    """One product-month's experience sums (its policies and the claims paid on them)."""
    columns = ["edition_id", "partner_id", "coverage_start", "coverage_end", "currency"]
    columns += ["premium_total", "premium_tax", "refund_amount", "risk"]
    frame = sold_policies(part, None, livemode, columns)
    if not len(frame):
        return pd.DataFrame()  # nothing sold here (in this mode): no group to add to
    claims = parquet_book.read_partition(
        parquet_book.sibling(Path(part.path), "claims"),
        "claims",
        ["status", "livemode", "policy_id", "currency", "amount_paid"],
    )
    claims = claims[(claims["status"] == "paid") & (claims["livemode"] == livemode)]
    policies = pd.DataFrame(
        {
            "policy_id": frame["id"],
            "edition": frame["edition_id"].str.split("/", n=1).str[1],
            "partner": frame["partner_id"],
            "status": frame["status"],
            "created_at": frame["created_at"],
            "coverage_start": frame["coverage_start"],
            "coverage_end": frame["coverage_end"],
            "premium_total": _major(frame["premium_total"], frame["currency"]),
            "premium_tax": _major(frame["premium_tax"], frame["currency"]),
            "refund": _major(frame["refund_amount"], frame["currency"]),
        }
    )
    inputs = pd.DataFrame(
        [
            {k: (v["amount"] if isinstance(v, dict) else v) for k, v in orjson.loads(r).items()}
            for r in frame["risk"]
        ]
    )
    for column in inputs.columns:
        if column not in policies.columns:
            policies[column] = inputs[column].to_numpy()
    for column in by:  # an input this month's editions did not have
        if column not in policies.columns and column != "period":
            policies[column] = None
    paid = pd.DataFrame(
        {
            "policy_id": claims["policy_id"].to_numpy(),
            "amount_paid": _major(claims["amount_paid"], claims["currency"]).to_numpy(),
        }
    )
    return experience_sums(policies, paid, by, now, period, tz)


def experience_of_book(
    book: Path,
    product: str,
    by: list[str],
    now: datetime,
    period: str,
    tz: str,
    livemode: bool,
    dask: str | None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """A product's experience from an exported dataset, its slices' sums merged in order."""
    if not parquet_book.is_dataset(book):
        raise LookupError(f"{book}: experience reads a folder written by `policy-service export`")
    if not parquet_book.read_state(book, "claims"):
        raise LookupError(
            f"{book} holds no claims: `policy-service export claims --out {book}` first "
            "(experience without them would count no claim)"
        )
    job = partial(experience_slice, by=by, now=now, period=period, tz=tz, livemode=livemode)
    parts = [p for p in run_slices(job, slices(book, product), dask, progress) if len(p)]
    if not parts:
        return ratios(experience_sums(_no_policies(), _no_claims(), by, now, period, tz))
    return ratios(combine(parts))


def _major(minor: pd.Series, currency: pd.Series) -> pd.Series:
    # report figures, not money that moves: as the database path makes them
    scale = currency.map(lambda c: 10 ** MINOR_UNITS[c]).astype("float64")
    return (minor.astype("float64").fillna(0.0) / scale).fillna(0.0)


def _no_policies() -> pd.DataFrame:
    columns = ["policy_id", "edition", "partner", "status", "created_at", "coverage_start"]
    columns += ["coverage_end", "premium_total", "premium_tax", "refund"]
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


def _no_claims() -> pd.DataFrame:
    return pd.DataFrame({"policy_id": pd.Series(dtype="object"), "amount_paid": []})


def replay_slice(part: Slice, product: Product, since: datetime | None) -> ReplayReport:
    """One product-month's policies (every status and mode) priced again on their pinned
    edition: the same check as replay from the database. Hashed identifiers are priced
    as a stand-in every edition accepts."""
    frame = parquet_book.read_partition(Path(part.path), "policies")
    if since is not None:
        frame = frame[frame["created_at"] >= pd.Timestamp(since)]
    report = ReplayReport(product.code)
    stand_ins = identifier_stand_ins(product.identifiers, product.editions)
    batch = [_policy(row, stand_ins) for row in frame.itertuples(index=False)]
    report.checked = len(batch)
    for start in range(0, len(batch), 1000):
        report.differences += replay.differences(product, batch[start : start + 1000])
    report.same = report.checked - len(report.differences)
    return report


def replay_of_book(
    book: Path,
    product: Product,
    since: datetime | None,
    dask: str | None,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    """Replay on an exported dataset, a product-month at a time, the slices in order."""
    if not parquet_book.is_dataset(book):
        raise LookupError(f"{book}: replay reads a folder written by `policy-service export`")
    job = partial(replay_slice, product=product, since=since)
    total = ReplayReport(product.code)
    for part in run_slices(job, slices(book, product.code), dask, progress):
        total.checked += part.checked
        total.same += part.same
        total.differences += part.differences
    return total


def _standing(risk: dict[str, Any], stand_ins: Mapping[str, str]) -> dict[str, Any]:
    return risk | {k: v for k, v in stand_ins.items() if k in risk}


def _policy(row: Any, stand_ins: Mapping[str, str]) -> Policy:
    """A policy as replay reads it (what the dataset holds of it; no person)."""
    currency = row.currency

    def major(minor: Any) -> Decimal:
        return from_minor(int(minor), currency)

    stamp = row.worksheet_priced_at
    return Policy(
        id=row.id,
        partner_id=row.partner_id,
        livemode=bool(row.livemode),
        product_code="",
        edition=row.edition_id.split("/", 1)[1],
        content_hash=row.content_hash,
        quote_id=None,
        external_ref="",
        status=row.status,
        risk=_standing(json.loads(row.risk), stand_ins),
        policyholder=None,
        premium=Premium(
            currency,
            major(row.premium_total),
            major(row.premium_net),
            major(row.premium_tax),
            major(row.premium_commission),
            major(row.premium_fees),
        ),
        worksheet=None if pd.isna(stamp) else {"priced_at": stamp.isoformat()},
        coverage_start=row.coverage_start.to_pydatetime(),
        coverage_end=row.coverage_end.to_pydatetime(),
        created_at=row.created_at.to_pydatetime(),
        updated_at=row.updated_at.to_pydatetime(),
    )
