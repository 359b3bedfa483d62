"""Impact of a new edition on a real book: stored policies or quotes (priced again each at
the time it was sold or quoted), or a file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from pricing.impact import read_book_file

from .unit_of_work import UnitOfWork


def load_book(
    uow: UnitOfWork,
    product: str,
    book: str,
    since: datetime | None,
    livemode: bool | None,
    now: datetime,
) -> tuple[pd.DataFrame, datetime | list[datetime]]:
    """The risks of a book and the time to price each at: `policies`, `quotes`, or a
    .csv/.parquet file (priced at its `priced_at` column, else at `now`)."""
    if book in ("policies", "quotes"):
        with uow.read() as tx:
            repo = tx.policies if book == "policies" else tx.quotes
            rows = repo.book_rows(product, since, livemode)
        return pd.DataFrame([r.risk for r in rows]), [r.created_at for r in rows]
    frame = read_book_file(Path(book))
    if "priced_at" not in frame.columns:
        return frame, now
    times = []
    for row, value in enumerate(frame.pop("priced_at"), start=2):
        try:
            when = (
                now
                if value is None
                else pd.Timestamp(value).to_pydatetime()
                if not isinstance(value, str)
                else datetime.fromisoformat(value)
            )
        except ValueError:
            raise LookupError(f"{book}: row {row}: priced_at {value!r} is not a time") from None
        if when.tzinfo is None:
            raise LookupError(f"{book}: row {row}: priced_at {value!r} needs a UTC offset")
        times.append(when)
    return frame, times
