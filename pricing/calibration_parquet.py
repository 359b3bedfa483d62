"""A Parquet book for `calibrate`: the columns of a CSV book (pricing/calibration_book.py),
typed as Parquet types them, in one .parquet file or a folder of them. Each cell is read
as the text a CSV would hold and checked the same way, so a book gives the same draft
whichever of the two it is written in; a message names the file and the row.

With --dask, a slice is one row group: a worker holds one row group at a time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from .calibration_book import Book, BookError, Where, book_from_text
from .calibration_claims import Trigger, needed
from .model import Edition


def is_parquet_book(data: str) -> bool:
    path = Path(data)
    return (path.is_file() and path.suffix.lower() == ".parquet") or (
        path.is_dir() and any(path.rglob("*.parquet"))
    )


@dataclass(frozen=True)
class ParquetSlice:
    """A Parquet book file or folder, or one row group of one of its files (whose first
    row is the book's row `offset`); `every`: keep the book's rows 0, N, 2N ..."""

    path: str
    row_group: int | None = None
    offset: int = 0
    every: int = 1

    def load(self, edition: Edition, trigger: Trigger) -> Book:
        return read_parquet_book(self, edition, trigger)


def _files(path: Path) -> list[Path]:
    return sorted(path.rglob("*.parquet")) if path.is_dir() else [path]


def parquet_slices(path: Path, every: int = 1) -> list[ParquetSlice]:
    """One slice per row group of every file of the book, in the book's order."""
    out, offset = [], 0
    for file in _files(path):
        meta = _metadata(file)
        for group in range(meta.num_row_groups):
            out.append(ParquetSlice(str(file), group, offset, every))
            offset += meta.row_group(group).num_rows
    if not out:
        raise BookError(f"{path}: no rows in its Parquet files")
    return out


def _metadata(file: Path) -> Any:
    try:
        return pq.ParquetFile(file).metadata
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise BookError(f"{file}: not a Parquet file: {exc}") from None


def read_parquet_book(part: ParquetSlice, edition: Edition, trigger: Trigger) -> Book:
    """The slice's rows as a calibration book."""
    path = Path(part.path)
    if part.row_group is None:
        files = _files(path)
        frames = [_read(f, None) for f in files]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        source = str(path)
    else:
        frame = _read(path, part.row_group)
        source = str(path)
    if frame.empty:
        raise BookError(f"{source}: no rows")
    rows = np.arange(len(frame)) + part.offset
    keep = rows % part.every == 0
    frame, rows = frame[keep].reset_index(drop=True), rows[keep]
    # rows are numbered from 1 in the book (its files in name order, when a folder)
    where = Where(source, source, rows + 1, "row")
    text = pd.DataFrame({str(c): _text(frame[c]) for c in frame.columns}, index=frame.index)
    return book_from_text(
        text, where, edition, trigger.name, trigger.fields, needed(edition, trigger)
    )


def _read(file: Path, row_group: int | None) -> pd.DataFrame:
    try:
        handle = pq.ParquetFile(file)
        table = handle.read() if row_group is None else handle.read_row_group(row_group)
    except (OSError, ValueError) as exc:
        raise BookError(f"{file}: not a Parquet file: {exc}") from None
    return table.to_pandas()


def _text(series: pd.Series) -> pd.Series:
    """A typed column as the text a CSV cell holds ("" where empty)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = np.array([_cell(v) for v in uniques] + [""], dtype=object)
    return pd.Series(texts[codes], index=series.index, dtype=object)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        # an integer column with gaps comes back as floats
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    if isinstance(value, Decimal | np.integer | int):
        return str(value)
    return str(value)
