"""The batch path's last step and its output (see pricing/batch.py): each row's cover, and
the frame's columns made as pandas would make them from Python objects, without pandas
looking at every row to infer their types."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from . import engine
from .batch_book import STATUSES, Book
from .model import Edition
from .vector import compile_vector
from .vector_ops import DT, Unsupported, Vec


def cover(edition: Edition, book: Book, index: pd.Index) -> tuple[Any, Any]:
    """Each row's cover (None where it is not priced) as the frame's two columns; a cover
    longer than the edition's longest refuses the row, a broken one fails it."""
    begins, finishes = edition.coverage_starts, edition.coverage_ends
    longest = edition.longest_cover
    vb, ve = compile_vector(begins), compile_vector(finishes)

    def typed(env: dict[str, Vec], count: int) -> tuple[Vec, Vec, np.ndarray]:
        assert vb is not None and ve is not None
        start, end = vb(env, count), ve(env, count)
        if start.kind != DT or end.kind != DT or not (start.instant() < end.instant()).all():
            raise Unsupported("not a cover: the scalar way says why")
        length = end.instant() - start.instant()  # fixed offsets: as datetime subtracts
        too_long = np.zeros(count, dtype=bool)
        if longest is not None:
            too_long = length > longest // timedelta(microseconds=1)
        return start, end, too_long

    def one(scope: dict[str, Any]) -> tuple[Any, Any]:
        # The scalar engine's order: start, end, then the check.
        start, end = begins(scope), finishes(scope)
        engine.check_cover(edition, start, end)
        return start, end

    def covers(cols: dict[str, list[Any]], count: int) -> list[tuple[Any, Any]]:
        pairs = list(zip(begins.columns(cols, count), finishes.columns(cols, count), strict=True))
        for start, end in pairs:
            engine.check_cover(edition, start, end)  # one fails: group by group
        return pairs

    names = sorted(begins.names | finishes.names)
    step = book.run(names, one, covers, typed if vb and ve else None)
    if step.vec is not None:
        start_vec, end_vec, too_long = step.vec
    else:
        assert step.results is not None and step.failed is not None
        pairs = step.results
        too_long = np.zeros(len(pairs), dtype=bool)
        for g in np.flatnonzero(~step.failed).tolist():
            too_long[g] = engine.cover_too_long(edition, *pairs[g]) is not None
    long = step.rows[too_long[step.group]]
    long = long[book.status[long] == 0]
    book.status[long] = 1
    book.error[long] = engine.COVER_TOO_LONG
    starts = np.full(book.n, None, dtype=object)
    ends = np.full(book.n, None, dtype=object)
    priced = book.status[step.rows] == 0
    rows, group = step.rows[priced], step.group[priced]
    if step.vec is not None:
        # objects only for the groups that stay priced
        used = np.zeros(len(too_long), dtype=bool)
        used[group] = True
        kept = np.flatnonzero(used)
        where = np.cumsum(used) - 1
        starts[rows] = start_vec.take(kept).objects()[where[group]]
        ends[rows] = end_vec.take(kept).objects()[where[group]]
        return _datetimes(starts, start_vec, kept, index), _datetimes(ends, end_vec, kept, index)
    starts[rows] = [pairs[g][0] for g in group.tolist()]
    ends[rows] = [pairs[g][1] for g in group.tolist()]
    return starts, ends


def _datetimes(values: np.ndarray, vec: Vec, kept: np.ndarray, index: pd.Index) -> Any:
    """A column of datetimes (and Nones) as the frame should hold it. Pandas looks at
    every value to see if they share a time zone and makes a datetime64 column if they
    do; they cannot when two of them have other UTC offsets, so then it would keep the
    objects, and so can we without the look."""
    assert vec.off is not None
    offsets = vec.off[kept]
    if len(offsets) and (offsets != offsets[0]).any():
        return pd.Series(values, index=index, dtype=object, copy=False)
    return values


@cache
def _arrow_strings() -> Any:
    """The dtype pandas gives a column of texts when it is pyarrow's (pandas 3), else None."""
    dtype = pd.DataFrame({"x": np.array(["x"], dtype=object)})["x"].dtype
    return dtype if getattr(dtype, "storage", None) == "pyarrow" else None


def _text(texts: np.ndarray, codes: np.ndarray, dtype: Any) -> Any:
    """texts[codes] (None where the code is -1) as the column pandas makes of texts."""
    import pyarrow as pa

    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    decoded = pa.DictionaryArray.from_arrays(indices, pa.array(texts.tolist(), pa.large_string()))
    return pd.array(decoded.dictionary_decode(), dtype=dtype)


def texts(status: np.ndarray, error: np.ndarray) -> tuple[Any, Any]:
    """The status column (from the status codes) and the error column."""
    dtype = _arrow_strings()
    if dtype is None or not len(status):
        return STATUSES[status], error  # pandas infers what they are
    codes, distinct = pd.factorize(error)  # None: -1
    if len(distinct):
        error = _text(np.asarray(distinct, dtype=object), codes, dtype)
    # (no text at all: pandas keeps the Nones as objects, and so do we)
    return _text(STATUSES, status, dtype), error
