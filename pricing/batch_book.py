"""The batch path's state and its one kind of step (see pricing/batch.py): the rows being
priced, their statuses, errors and columns, and `Book.run`, which evaluates something once
per distinct tuple of the values it reads, typed with numpy where it can, else the
scalar way, group by group, with each group's exact result or error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .batch_columns import Column, from_results, from_typed, groups
from .errors import BreakdownError, EvaluationError
from .expressions import ColumnEvaluator, Expression
from .vector import VectorFn, compile_vector
from .vector_ops import DEC, TD, Unsupported, Vec, truth

#: row statuses
PRICED, REFUSED, INVALID, FAILED = "priced", "refused", "invalid", "failed"
#: a row's status is its index in here
STATUSES = np.array([PRICED, REFUSED, INVALID, FAILED], dtype=object)


class Failure:
    """A group's first problem (EvaluationError or BreakdownError), as the scalar path
    would report it."""

    def __init__(self, message: str) -> None:
        self.message = message


@dataclass
class Step:
    """A step's outcome for the rows it ran on: each row's group and, per group, the
    typed result (`vec`, never a failure) or Python results with the failed groups."""

    rows: np.ndarray
    group: np.ndarray
    vec: Any = None
    results: np.ndarray | None = None
    failed: np.ndarray | None = None


def typed(compiled: VectorFn | None, finish: Callable[[Vec], Any]) -> Any:
    if compiled is None:
        return None
    return lambda env, n: finish(compiled(env, n))


def as_value(vec: Vec) -> Vec:
    if vec.kind in (TD, DEC):
        raise Unsupported(vec.kind)  # no exact Python objects: the scalar way
    return vec


class Book:
    """The rows being priced: their statuses, errors and columns so far."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.status = np.zeros(n, dtype=np.int8)  # index into STATUSES
        self.error = np.full(n, None, dtype=object)
        self.columns: dict[str, Column] = {}

    def live(self) -> np.ndarray:
        return np.flatnonzero(self.status == 0)

    def fail(self, rows: np.ndarray, kind: str, messages: np.ndarray | str) -> None:
        keep = self.status[rows] == 0
        still = rows[keep]
        self.status[still] = STATUSES.tolist().index(kind)
        self.error[still] = messages[keep] if isinstance(messages, np.ndarray) else messages

    def run(
        self,
        names: Sequence[str],
        fn: Callable[[dict[str, Any]], Any],
        columns: ColumnEvaluator | None = None,
        vector: Callable[[dict[str, Vec], int], Any] | None = None,
    ) -> Step:
        """fn({name: value}) for the live rows, once per distinct tuple of values: with
        `vector` over typed columns when every name has one and it is Unsupported
        nowhere; else with `columns` (the same over all groups at once, see
        Expression.columns); on any error in that, fn group by group, so that each
        group gets exactly the scalar result or error. Failed rows are marked."""
        rows = self.live()
        cols = [self.columns[name] for name in names]
        group, elements = groups(cols, rows)
        count = int(group.max()) + 1 if len(group) else 0
        if vector is not None and count:
            vecs = {n: c.typed_at(e) for n, c, e in zip(names, cols, elements, strict=True)}
            if all(v is not None for v in vecs.values()):
                try:
                    return Step(rows, group, vec=vector(vecs, count))  # type: ignore[arg-type]
                except Exception:  # Unsupported, or anything unforeseen: the scalar way
                    pass
        failed = np.zeros(count, dtype=bool)
        if columns is not None and count:
            values = {
                n: c.objects[e].tolist() for n, c, e in zip(names, cols, elements, strict=True)
            }
            try:
                listed = columns(values, count)
            except Exception:
                pass
            else:
                # fromiter: a tuple result stays one object, never a row of a 2-D array
                results = np.fromiter(listed, dtype=object, count=count)
                return Step(rows, group, results=results, failed=failed)
        results = np.empty(count, dtype=object)
        for g in range(count):
            scope = {n: c.objects[e[g]] for n, c, e in zip(names, cols, elements, strict=True)}
            try:
                results[g] = fn(scope)
            except (EvaluationError, BreakdownError) as exc:
                results[g] = Failure(str(exc))
                failed[g] = True
        if failed.any():
            bad = np.flatnonzero(failed[group])
            messages = np.array([r.message for r in results[group[bad]]], dtype=object)
            self.fail(rows[bad], FAILED, messages)
        return Step(rows, group, results=results, failed=failed)

    def derive(self, name: str, step: Step) -> None:
        """The step's results as a column that later steps may read."""
        if step.vec is not None:
            self.columns[name] = from_typed(step.vec, step.rows, step.group, self.n)
        else:
            assert step.results is not None and step.failed is not None
            self.columns[name] = from_results(
                step.results, step.failed, step.rows, step.group, self.n
            )

    def truths(self, expr: Expression) -> Step:
        """bool(expr) per live row (step.vec: a bool array per group)."""
        return self.run(
            sorted(expr.names),
            lambda scope: bool(expr(scope)),
            lambda cols, count: [bool(v) for v in expr.columns(cols, count)],
            typed(compile_vector(expr), truth),
        )
