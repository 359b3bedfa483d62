"""Impact of a new edition on a real book: stored policies or quotes (priced again each at
the time it was sold or quoted), or a file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import pandas as pd

from pricing.impact import book_times, read_book_file

from .unit_of_work import UnitOfWork

T = TypeVar("T")


def load_book(
    uow: UnitOfWork,
    product: str,
    book: str,
    since: datetime | None,
    livemode: bool | None,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[pd.DataFrame, datetime | list[datetime]]:
    """The risks of a book and the time to price each at: `policies`, `quotes`, or a
    .csv/.parquet file (priced at its `priced_at` column, else at `now`). `progress`
    hears (rows read, rows in all) as stored rows arrive."""
    if book in ("policies", "quotes"):
        with uow.read() as tx:
            repo = tx.policies if book == "policies" else tx.quotes
            total, stream = repo.book_rows(product, since, livemode)
            rows = read_counted(stream, total, progress)
        return pd.DataFrame([r.risk for r in rows]), [r.created_at for r in rows]
    return book_times(read_book_file(Path(book)), book, now)


def read_counted(
    stream: Iterator[T], total: int, progress: Callable[[int, int], None] | None
) -> list[T]:
    """Every row of a stream, telling `progress` every ten thousand."""
    rows: list[T] = []
    for row in stream:
        rows.append(row)
        if progress is not None and len(rows) % 10_000 == 0:
            progress(len(rows), total)
    if progress is not None:
        progress(len(rows), max(total, len(rows)))
    return rows
