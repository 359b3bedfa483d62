"""The fit behind `calibrate`: one relativity per level of each rating factor by minimum
bias (the marginal totals of a Poisson GLM with a log link), credibility by
Buhlmann-Straub, with the current edition's factor as the complement."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from .model import Edition
from .tables import BandTable, ExactTable, Table, key_text


@dataclass(frozen=True)
class Level:
    """One level of a rating factor, as calibrated."""

    #: the draft's factor (Decimal, as written)
    factor: Decimal
    #: the source edition's factor for the level (its default when it has no row)
    current: Decimal
    #: the fitted relativity on the current table's scale (None: not in the data)
    fitted: float | None
    #: training rows at the level, and the credibility Z = n / (n + K) of its fit
    rows: int
    z: float


@dataclass
class FactorFit:
    name: str
    #: the credibility constant K (infinite: Z = 0, the data does not tell levels apart)
    k: float
    #: level label -> its calibration
    levels: dict[str, Level] = field(default_factory=dict)


def levels_of(edition: Edition, result: Any) -> list[tuple[str, Any, np.ndarray]]:
    """Per rating factor: its name, its table and each row's level label."""
    out = []
    env = result.env
    for factor in edition.rating.factors:
        table = factor.table
        if isinstance(table, BandTable):
            # rows the edition could not price hold None: they get no level (and are
            # left out of the fit by the caller)
            values = np.array(
                [np.nan if v is None else float(getattr(v, "amount", v)) for v in env[table.key]]
            )
            index = np.searchsorted(np.array([float(x) for x in table.lowers]), values, "right") - 1
            labels = np.array(
                [
                    f"[{table.lowers[i]}, {table.uppers[i]})" if 0 <= i < len(table.lowers) else ""
                    for i in index
                ],
                dtype=object,
            )
        else:
            assert isinstance(table, ExactTable)
            columns = [env[k] for k in table.keys]
            labels = np.array(
                [",".join(key_text(c[i]) for c in columns) for i in range(len(columns[0]))],
                dtype=object,
            )
        out.append((factor.name, table, labels))
    return out


def fit(
    cost: np.ndarray, levels: list[np.ndarray], rounds: int = 40, weights: np.ndarray | None = None
) -> list[dict[str, float]]:
    """Minimum-bias relativities (mean 1 over the rows) for each factor's levels; a row
    may stand for `weights` rows (a cell: its rows and their summed cost)."""
    n = np.ones(len(cost)) if weights is None else np.asarray(weights, dtype=float)
    codes = []
    for labels in levels:
        c, uniques = pd.factorize(labels)
        codes.append((c, uniques))
    rel = [np.ones(len(u)) for _, u in codes]
    mean = cost.sum() / n.sum() if len(cost) else 0.0
    for _ in range(rounds):
        for j, (c, _u) in enumerate(codes):
            others = mean * n
            for k, (ck, _) in enumerate(codes):
                if k != j:
                    others = others * rel[k][ck]
            actual = np.bincount(c, weights=cost, minlength=len(rel[j]))
            expected = np.bincount(c, weights=others, minlength=len(rel[j]))
            rel[j] = np.where(expected > 0, actual / np.where(expected > 0, expected, 1), 1.0)
            rel[j] = np.maximum(rel[j], 0.05)  # a level with no claims still costs something
            # keep the mean relativity at 1 (the base carries the level)
            rows = np.bincount(c, weights=n, minlength=len(rel[j]))
            rel[j] = rel[j] / (np.dot(rel[j], rows) / rows.sum())
    return [dict(zip(map(str, u), r, strict=True)) for (_, u), r in zip(codes, rel, strict=True)]


def current_factors(table: Table) -> tuple[dict[str, Decimal], Decimal | None]:
    """The source edition's factor of each level of a table (labelled as levels_of labels
    them), and its default (the factor of a level with no row of its own)."""
    if isinstance(table, BandTable):
        levels = {
            f"[{lo}, {hi})": hit.value
            for lo, hi, hit in zip(table.lowers, table.uppers, table.hits, strict=True)
        }
    else:
        levels = {",".join(key): hit.value for key, hit in table.rows.items()}
    return levels, table.default


def credible(
    fitted: dict[str, float],
    counts: dict[str, int],
    k: float,
    current: dict[str, Decimal],
    default: Decimal | None,
) -> dict[str, Level]:
    """Each level's new factor: Z = n / (n + K) of its fitted relativity and the rest of
    its current factor (the complement); a level the data never saw keeps its current
    factor exactly. Levels: the table's own, then those seen in the data without a row."""
    total = sum(counts.values())

    def now(label: str) -> Decimal:
        value = current.get(label, default)
        assert value is not None  # a level with no row and no default prices nothing
        return value

    # The fitted relativities average 1 over the training rows; the current factors are
    # relative to the base. Scaled by the current factors' average over the same rows,
    # the fitted ones are on the current table's scale: blending then keeps the table's
    # level, and the base alone carries the new rate level.
    scale = sum(n * float(now(label)) for label, n in counts.items()) / total if total else 1.0
    out: dict[str, Level] = {}
    for label in [*current, *(lab for lab in fitted if lab not in current)]:
        n = counts.get(label, 0)
        z = n / (n + k) if n and not math.isinf(k) else 0.0
        mine = fitted[label] * scale if n else None
        if mine is None or z == 0:
            out[label] = Level(now(label), now(label), mine, n, z)
        else:
            out[label] = Level(
                rounded(z * mine + (1 - z) * float(now(label))), now(label), mine, n, z
            )
    return out


def rounded(value: float, places: int = 3) -> Decimal:
    """A factor as written: at least 0.001, to `places` decimals."""
    return Decimal(str(round(max(value, 0.001), places)))


def buhlmann_k(cost: np.ndarray, labels: np.ndarray) -> float:
    """Bühlmann-Straub's credibility constant K = expected process variance / variance of
    the hypothetical means, estimated from the levels' claim costs (K is infinite, Z = 0,
    when the levels differ no more than chance would make them)."""
    frame = pd.DataFrame({"x": cost, "q": cost * cost, "g": labels})
    sums = frame.groupby("g").agg(n=("x", "size"), s=("x", "sum"), q=("q", "sum"))
    return buhlmann_from_sums(sums["n"].tolist(), sums["s"].tolist(), sums["q"].tolist())


def buhlmann_from_sums(n: Sequence[int], s: Sequence[Any], q: Sequence[Any]) -> float:
    """K from each level's rows, cost sum and squared cost sum, in exact fractions (so the
    same sums give the same K however they were added up)."""
    r, total = len(n), sum(n)
    if r < 2 or total <= r:
        return math.inf
    fs, fq = [Fraction(x) for x in s], [Fraction(x) for x in q]
    # within levels: the sum of (n_i - 1) var_i; between: the spread of the level means
    within = sum((qi - si * si / ni for ni, si, qi in zip(n, fs, fq, strict=True)), Fraction(0))
    epv = within / (total - r)
    mean = sum(fs, Fraction(0)) / total
    spread = sum((ni * (si / ni - mean) ** 2 for ni, si in zip(n, fs, strict=True)), Fraction(0))
    vhm = (spread - (r - 1) * epv) / (total - Fraction(sum(ni * ni for ni in n), total))
    return float(epv / vhm) if vhm > 0 else math.inf
