"""Exporting the book (policies, claims, ledger) to a Parquet dataset, for the actuarial
jobs (impact, experience) on one process or on a Dask cluster, and for any tool that
reads Parquet.

Incremental: each table's state says how far it went (the last (updated_at, id), or the
last ledger id); a run takes only what changed or was booked since, a batch at a time,
writing each batch's files and then the state. Resumable: stopped anywhere, the next run
starts from the last state it wrote (adapters/parquet_book.py). Rows changed in the last
few minutes wait for the next run: a transaction that began earlier may still commit
rows that sort before them, and an export must never step over a row for good.

Money leaves as minor units with its currency; a person leaves as the keyed hash of
their ID only (no name, phone or last 4), and an identifier input of the risk (an order or
tracking number, product.yaml's `identifiers:`) as a keyed hash too: the same order gives
the same hash, so a book can still be joined on it, but never the number. A claim leaves
with the facts of the report that decided it that claim rules read (for `calibrate`),
their identifiers hashed the same way; what a report only names its subject by stays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from policy_service.adapters import parquet_book
from pricing.loader import TriggerTypes
from pricing.model import Product

from .unit_of_work import UnitOfWork

#: rows read and written at a time (a file per product-month they fall in)
BATCH_ROWS = 50_000
#: rows changed this recently wait for the next run (see the module's docstring)
SETTLE_LAG = timedelta(minutes=5)
#: the tables whose rows carry identifiers (a risk's, a report's facts), hashed
MASKED = ("policies", "claims")


@dataclass(frozen=True)
class Masking:
    """What of a risk leaves an export as a keyed hash (each product's identifiers), and
    which facts of a report leave with a claim."""

    hash_key: bytes
    #: product code -> its identifiers, for every product the files hold
    identifiers: Mapping[str, tuple[str, ...]]
    #: product code -> trigger type -> the fields that leave: those its claim rules or the
    #: type's event time read (a report's order or tracking number never leaves)
    facts: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)

    @classmethod
    def of(cls, products: Iterable[Product], hash_key: bytes, triggers: TriggerTypes) -> Masking:
        products = list(products)
        return cls(
            hash_key,
            {p.code: p.identifiers for p in products},
            {p.code: _read_facts(p, triggers) for p in products},
        )

    def hide_facts(self, product: str, trigger: str, data: dict[str, Any]) -> dict[str, Any]:
        """A report's facts as a claim takes them out: only the fields read, identifiers
        among them hashed."""
        kept = self.facts.get(product, {}).get(trigger, frozenset())
        return self.hide(product, {k: v for k, v in data.items() if k in kept})

    def hide(self, product: str, risk: dict[str, Any]) -> dict[str, Any]:
        names = self.identifiers.get(product)
        if names is None:  # never guess that a product has nothing to hide
            raise LookupError(
                f"policies of {product}, which the product files do not hold (or refuse): "
                "which of its inputs are identifiers is unknown; restore its folder to export"
            )
        if not names:
            return risk
        return {k: self._hash(k, v) if k in names and v is not None else v for k, v in risk.items()}

    def fingerprint(self) -> str:
        """What a dataset's rows were hidden by: each product's identifiers and the key
        (as a keyed hash of a fixed text, never the key). Rows hidden otherwise cannot
        join a dataset, or one order would have two hashes, or its number would stay."""
        named = json.dumps(sorted((k, list(v)) for k, v in self.identifiers.items() if v))
        return f"{named}|{self._hash('fingerprint', 'policy-service')}"

    def _hash(self, name: str, value: Any) -> str:
        # the name keeps an order number and a tracking number that look alike apart
        message = f"input:{name}:{value}".encode()
        return hmac.new(self.hash_key, message, hashlib.sha256).hexdigest()


@dataclass
class ExportResult:
    table: str
    rows: int
    files: int
    #: where the next run starts: (updated_at, id), or the last ledger id
    position: Any


def export_table(
    uow: UnitOfWork,
    table: str,
    out: Path,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
    masking: Masking,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Add to `out` what `table` gained or changed since the last run (see the module's
    docstring); `since` keeps rows created (booked) from then, `until` stops at that time.
    `masking` hides each product's identifiers; `progress` hears the rows written so far."""
    if table not in parquet_book.TABLES:
        raise LookupError(f"export one of {', '.join(parquet_book.TABLES)}, not {table!r}")
    out.mkdir(parents=True, exist_ok=True)
    mine = parquet_book.read_state(out, table)
    since_text = since.isoformat() if since else None
    if mine and mine.get("since") != since_text:
        raise LookupError(
            f"{out} holds {table} exported with --since {mine.get('since') or '(none)'}; "
            "export into another folder, or with the same --since"
        )
    if table == "claims" and mine and "masking" not in mine:
        raise LookupError(
            f"{out} holds claims exported before a claim took its report's facts along: "
            f"delete {out / 'claims'} and {out / parquet_book.STATE_FOLDER / 'claims.json'}, "
            "then export the claims again (the policies and the ledger stay)"
        )
    if table in MASKED and mine and mine.get("masking") != masking.fingerprint():
        raise LookupError(
            f"{out} holds {table} whose identifiers were hidden otherwise (other "
            "identifiers: in product.yaml, another PII_HASH_KEY, or an export from before "
            "identifiers were hashed): export into a new folder, and delete this one"
        )
    bound = now - SETTLE_LAG if until is None else min(until, now - SETTLE_LAG)
    position = _position(table, mine.get("after"))
    batch, written, files = int(mine.get("batches", 0)), 0, 0
    while True:
        with uow.read() as tx:
            if table == "ledger":
                rows = tx.export.ledger_after(position, bound, since, batch_rows)
            elif table == "claims":
                rows = tx.export.claims_after(position, bound, since, batch_rows)
            else:
                rows = tx.export.policies_after(position, bound, since, batch_rows)
        if not rows:
            break
        batch += 1
        files += parquet_book.write_batch(out, table, batch, _partitioned(table, rows, masking))
        last = rows[-1]
        position = last.id if table == "ledger" else (last.updated_at, last.id)
        written += len(rows)
        mine.update(since=since_text, batches=batch, after=_saved(position))
        if table in MASKED:
            mine["masking"] = masking.fingerprint()
        mine["rows"] = int(mine.get("rows", 0)) + len(rows)
        parquet_book.write_state(out, table, mine)
        if progress is not None:
            progress(written)
    return ExportResult(table, written, files, position)


def _position(table: str, saved: Any) -> Any:
    if saved is None:
        return None
    if table == "ledger":
        return int(saved)
    return (datetime.fromisoformat(saved[0]), str(saved[1]))


def _saved(position: Any) -> Any:
    if isinstance(position, tuple):
        return [position[0].isoformat(), position[1]]
    return position


def _partitioned(
    table: str, rows: list[Any], masking: Masking
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Rows as the files hold them, by (product, month): a policy by the month it was sold,
    its claims with it, a ledger entry by its settlement month."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        values = dict(row._mapping)
        product = values.pop("product_code")
        if table == "policies":
            risk = masking.hide(product, values["risk"])
            values["risk"] = _json(risk)
            worksheet = values.pop("worksheet") or {}
            stamp = worksheet.get("priced_at")
            values["worksheet_priced_at"] = _time_or_none(stamp)
            month = parquet_book.month_of(values["created_at"])
        elif table == "claims":
            facts, kind = values["trigger_data"], values["trigger_type"]
            values["trigger_data"] = (
                None if facts is None else _json(masking.hide_facts(product, kind, facts))
            )
            month = parquet_book.month_of(values["policy_created_at"])
        else:
            month = values["period"]
        out[(product, month)].append(values)
    return out


def _read_facts(product: Product, triggers: TriggerTypes) -> dict[str, frozenset[str]]:
    """Per trigger type: the fields any edition's claim rules or the type's event time read."""
    out: dict[str, set[str]] = defaultdict(set)
    for edition in product.editions:
        for rule in edition.claims:
            out[rule.trigger] |= rule.when.names | (rule.payout.names if rule.payout else set())
    for name, read in out.items():
        found = triggers.get(name)
        if found is not None:
            read |= found.event_time.names
            read &= set(found.fields.by_name)
    return {name: frozenset(read) for name, read in out.items()}


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _time_or_none(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:  # replay from the database reports such a worksheet
        return None
