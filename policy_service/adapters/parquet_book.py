"""The book as a Parquet dataset: one folder per table, partitioned by product and month
(Hive style: policies/product=flight_delay/month=2026-12/part-00000003.parquet), so that a
job can take one product-month at a time, here or on a Dask worker.

A file is written under a temporary name and renamed, and the export's state (how far
each table has gone) is written the same way after its files: a run stopped at any point
leaves whole files only, and the next run starts again from the last state. A batch done
twice writes the same file names again; a row exported twice (a policy changed since, or
a batch repeated after a crash) is read once: readers keep each id's latest version.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

STATE_FOLDER = "_export_state"
TABLES = ("policies", "claims", "ledger")
#: when a row changed, to keep its latest version (the ledger never changes)
VERSION_COLUMN = {"policies": "updated_at", "claims": "updated_at", "ledger": "id"}

_TS = pa.timestamp("us", tz="UTC")
_COMMON = [("id", pa.string()), ("partner_id", pa.string()), ("livemode", pa.bool_())]


def _typed(kind: pa.DataType, names: str) -> list[tuple[str, pa.DataType]]:
    return [(name, kind) for name in names.split()]


SCHEMAS: dict[str, pa.Schema] = {
    "policies": pa.schema(
        [
            *_COMMON,
            *_typed(pa.string(), "edition_id content_hash status"),
            ("risk", pa.string()),  # JSON, as stored
            *_typed(pa.string(), "policyholder_id_hash currency"),
            *_typed(
                pa.int64(),
                "premium_total premium_net premium_tax premium_commission premium_fees "
                "refund_amount",
            ),
            *_typed(
                _TS, "coverage_start coverage_end priced_at created_at updated_at cancelled_at"
            ),
            # when a policy stored before 0008 says its worksheet priced it (replay's time)
            ("worksheet_priced_at", _TS),
            ("cancel_reason", pa.string()),
            ("version", pa.int32()),
        ]
    ),
    "claims": pa.schema(
        [
            *_COMMON,
            *_typed(pa.string(), "policy_id edition_id origin type status currency"),
            *_typed(pa.int64(), "amount_claimed amount_approved amount_paid"),
            ("trigger_event_id", pa.string()),
            *_typed(
                _TS,
                "event_time observed_at decided_at paid_at created_at updated_at policy_created_at",
            ),
            ("reject_code", pa.string()),
            # the deciding report's type and its facts (JSON, identifiers hashed)
            *_typed(pa.string(), "trigger_type trigger_data"),
        ]
    ),
    "ledger": pa.schema(
        [
            ("id", pa.int64()),
            *_typed(pa.string(), "partner_id"),
            ("livemode", pa.bool_()),
            *_typed(pa.string(), "policy_id kind claim_id endorsement_id collected_by currency"),
            *_typed(pa.int64(), "amount tax commission fees net"),
            ("occurred_at", _TS),
            ("period", pa.string()),
        ]
    ),
}


def read_state(out: Path, table: str) -> dict[str, Any]:
    """How far a table's export went (empty: never exported here)."""
    path = out / STATE_FOLDER / f"{table}.json"
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def write_state(out: Path, table: str, state: dict[str, Any]) -> None:
    """One file per table: exports of different tables into one folder never overwrite
    each other's position."""
    (out / STATE_FOLDER).mkdir(parents=True, exist_ok=True)
    _replace(out / STATE_FOLDER / f"{table}.json", json.dumps(state, indent=2).encode())


def write_batch(
    out: Path, table: str, batch: int, partitions: dict[tuple[str, str], list[dict[str, Any]]]
) -> int:
    """One batch's rows, a file per (product, month) they fall in; returns the files."""
    schema = SCHEMAS[table]
    for (product, month), rows in sorted(partitions.items()):
        write_table(out, table, batch, product, month, pa.Table.from_pylist(rows, schema=schema))
    return len(partitions)


def write_table(
    out: Path, table: str, batch: int, product: str, month: str, data: pa.Table
) -> Path:
    """One file of a product-month, written whole or not at all."""
    folder = out / table / f"product={product}" / f"month={month}"
    folder.mkdir(parents=True, exist_ok=True)
    sink = pa.BufferOutputStream()
    pq.write_table(data, sink, compression="zstd")
    path = folder / f"part-{batch:08d}.parquet"
    _replace(path, sink.getvalue().to_pybytes())
    return path


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def is_dataset(path: Path) -> bool:
    """A folder written by `export` (or laid out like one)."""
    return path.is_dir() and any((path / t).is_dir() for t in TABLES)


def partitions(root: Path, table: str, product: str) -> list[Path]:
    """The month folders of one product's rows of a table, oldest month first."""
    folder = root / table / f"product={product}"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("month="))


def sibling(partition: Path, table: str) -> Path:
    """The same product-month's folder of another table (a policy's claims sit with it)."""
    return partition.parent.parent.parent / table / partition.parent.name / partition.name


def read_partition(folder: Path, table: str, columns: list[str] | None = None) -> pd.DataFrame:
    """One product-month of a table, each row in its latest version."""
    files = _files(folder)
    schema = SCHEMAS[table]
    wanted = list(dict.fromkeys(["id", VERSION_COLUMN[table], *(columns or schema.names)]))
    if not files:
        return schema.empty_table().select(wanted).to_pandas()
    frames = [pq.read_table(f, columns=wanted, schema=schema).to_pandas() for f in files]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    # the latest version of each row: files in batch order, then the version column
    frame = frame.sort_values(VERSION_COLUMN[table], kind="stable")
    frame = frame.drop_duplicates("id", keep="last").sort_values("id", kind="stable")
    return frame.reset_index(drop=True)


def month_of(when: datetime) -> str:
    return f"{when:%Y-%m}"


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(folder.glob("compact-*.parquet")) + sorted(folder.glob("part-*.parquet"))


def compact(root: Path, table: str) -> int:
    """Rewrite each product-month holding superseded versions (a policy changed, or a
    person erased, since it was first exported) as one file of its latest versions, and
    delete the files it replaces; returns the folders rewritten. Stopped midway, the
    folder holds both (readers keep the latest), and the next run finishes it. Not while
    an export writes into the same folder."""
    done = 0
    for folder in sorted((root / table).glob("product=*/month=*")):
        files = _files(folder)
        ids = pa.concat_tables([pq.read_table(f, columns=["id"]) for f in files])
        if len(files) < 2 and len(ids) == len(pc.unique(ids["id"])):
            continue
        latest = pa.Table.from_pandas(read_partition(folder, table), schema=SCHEMAS[table])
        last = max(int(f.stem.split("-")[1]) for f in files)
        sink = pa.BufferOutputStream()
        pq.write_table(latest, sink, compression="zstd")
        kept = folder / f"compact-{last:08d}.parquet"
        _replace(kept, sink.getvalue().to_pybytes())
        for f in files:
            if f != kept:
                f.unlink()
        done += 1
    return done
