"""A Parquet book for `calibrate`: the columns of a CSV book (pricing/calibration_book.py),
typed as Parquet types them, in one .parquet file or a folder of them. Each cell is read
as the text a CSV would hold and checked the same way, so a book gives the same draft
whichever of the two it is written in; a message names the file and the row.

With --dask, a slice is one row group: a worker holds one row group at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from .calibration_book import Book, BookError, Where, book_from_text, cell_text
from .calibration_claims import Trigger, needed
from .model import Edition


def is_parquet_book(data: str) -> bool:
    path = Path(data)
    return (path.is_file() and path.suffix.lower() == ".parquet") or (
        path.is_dir() and any(path.rglob("*.parquet"))
    )


@dataclass(frozen=True)
class ParquetSlice:
    """One row group of one file of a Parquet book: its first row is the file's row
    `first` and the book's row `offset`; `every`: keep the book's rows 0, N, 2N ..."""

    path: str
    row_group: int
    offset: int = 0
    first: int = 0
    every: int = 1

    def load(self, edition: Edition, trigger: Trigger, checked: bool = False) -> Book:
        return read_parquet_book(self, edition, trigger, checks=not checked)


def _files(path: Path) -> list[Path]:
    return sorted(path.rglob("*.parquet")) if path.is_dir() else [path]


def parquet_slices(path: Path, every: int = 1) -> list[ParquetSlice]:
    """One slice per row group of every file of the book (empty ones left out), in the
    book's order: its files by name."""
    out, offset = [], 0
    for file in _files(path):
        meta, first = _metadata(file), 0
        for group in range(meta.num_row_groups):
            rows = meta.row_group(group).num_rows
            if rows:
                out.append(ParquetSlice(str(file), group, offset, first, every))
            offset, first = offset + rows, first + rows
    if not out:
        raise BookError(f"{path}: no rows in its Parquet files")
    return out


def _metadata(file: Path) -> Any:
    try:
        return pq.ParquetFile(file).metadata
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise BookError(f"{file}: not a Parquet file: {exc}") from None


def read_parquet_book(
    part: ParquetSlice, edition: Edition, trigger: Trigger, checks: bool = True
) -> Book:
    """The slice's rows as a calibration book; a message names the file and its row."""
    frame = _read(Path(part.path), part.row_group)
    index = np.arange(len(frame))
    keep = (index + part.offset) % part.every == 0
    frame = frame[keep].reset_index(drop=True)
    where = Where(part.path, part.path, index[keep] + part.first + 1, "row")
    text = pd.DataFrame({str(c): _text(frame[c]) for c in frame.columns}, index=frame.index)
    return book_from_text(
        text, where, edition, trigger.name, trigger.fields, needed(edition, trigger),
        check_inputs=checks, check_facts=checks,
    )  # fmt: skip


def _read(file: Path, row_group: int) -> pd.DataFrame:
    try:
        table = pq.ParquetFile(file).read_row_group(row_group)
    except (OSError, ValueError) as exc:
        raise BookError(f"{file}: not a Parquet file: {exc}") from None
    # integers stay integers where a column has nulls (not floats, which lose digits)
    return table.to_pandas(integer_object_nulls=True)


def _text(series: pd.Series) -> pd.Series:
    """A typed column as the text a CSV cell holds ("" where empty)."""
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # lists or structs: no hashing, each cell on its own
        return pd.Series([cell_text(v) for v in series], index=series.index, dtype=object)
    texts = np.array([cell_text(v) for v in uniques] + [""], dtype=object)
    return pd.Series(texts[codes], index=series.index, dtype=object)
