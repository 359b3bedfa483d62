"""The fit behind `calibrate`: one relativity per level of each rating factor by minimum
bias (the marginal totals of a Poisson GLM with a log link), credibility by
Buhlmann-Straub, and levels never seen interpolated between their neighbours."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .model import Edition
from .tables import BandTable, ExactTable, key_text


@dataclass
class FactorFit:
    name: str
    #: level label -> (relativity, flights, credibility Z)
    levels: dict[str, tuple[float, int, float]] = field(default_factory=dict)


def levels_of(edition: Edition, result: Any) -> list[tuple[str, Any, np.ndarray]]:
    """Per rating factor: its name, its table and each flight's level label."""
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


def fit(cost: np.ndarray, levels: list[np.ndarray], rounds: int = 40) -> list[dict[str, float]]:
    """Minimum-bias relativities (mean 1 over the flights) for each factor's levels."""
    codes = []
    for labels in levels:
        c, uniques = pd.factorize(labels)
        codes.append((c, uniques))
    rel = [np.ones(len(u)) for _, u in codes]
    mean = cost.mean() if len(cost) else 0.0
    for _ in range(rounds):
        for j, (c, _u) in enumerate(codes):
            others = np.full(len(cost), mean)
            for k, (ck, _) in enumerate(codes):
                if k != j:
                    others *= rel[k][ck]
            actual = np.bincount(c, weights=cost, minlength=len(rel[j]))
            expected = np.bincount(c, weights=others, minlength=len(rel[j]))
            rel[j] = np.where(expected > 0, actual / np.where(expected > 0, expected, 1), 1.0)
            rel[j] = np.maximum(rel[j], 0.05)  # a level with no claims still costs something
            # keep the mean relativity at 1 (the base carries the level)
            weights = np.bincount(c, minlength=len(rel[j]))
            rel[j] = rel[j] / (np.dot(rel[j], weights) / weights.sum())
    return [dict(zip(map(str, u), r, strict=True)) for (_, u), r in zip(codes, rel, strict=True)]


def order_of(table: Any, edition: Edition) -> tuple[list[str], bool] | None:
    """The ordered levels of a factor (and whether they wrap around), when it has one."""
    if isinstance(table, BandTable):
        return [f"[{lo}, {hi})" for lo, hi in zip(table.lowers, table.uppers, strict=True)], False
    if len(table.keys) != 1:
        return None
    spec = next(
        (
            s
            for s in (*edition.inputs.specs, *(d.spec for d in edition.derived))
            if s.name == table.keys[0]
        ),
        None,
    )
    if spec is None or spec.type != "integer" or spec.minimum is None or spec.maximum is None:
        return None
    low, high = int(spec.minimum), int(spec.maximum)
    return [str(i) for i in range(low, high + 1)], (low, high) in ((1, 12), (0, 23))


def credible(
    fitted: dict[str, float], counts: dict[str, int], k: float, order: tuple[list[str], bool] | None
) -> dict[str, tuple[float, int, float]]:
    out: dict[str, tuple[float, int, float]] = {}
    labels = list(order[0]) if order else list(fitted)
    for label in labels:
        n = counts.get(label, 0)
        z = n / (n + k) if n else 0.0
        own = fitted.get(label, 1.0)
        out[label] = (z * own + (1 - z) * 1.0, n, z)
    if order:
        seen = [i for i, lab in enumerate(labels) if counts.get(lab, 0) > 0]
        size = len(labels)
        for i, label in enumerate(labels):
            if counts.get(label, 0) or not seen:
                continue
            # An unseen level is interpolated between the nearest seen level on each side
            # (months and hours wrap around), the closer one weighing more.
            if order[1]:
                before = min(seen, key=lambda j: (i - j) % size)
                after = min(seen, key=lambda j: (j - i) % size)
                d_before, d_after = (i - before) % size, (after - i) % size
            else:
                lower = [j for j in seen if j < i]
                upper = [j for j in seen if j > i]
                before = lower[-1] if lower else upper[0]
                after = upper[0] if upper else lower[-1]
                d_before, d_after = abs(i - before) or 1, abs(after - i) or 1
            r_before, r_after = out[labels[before]][0], out[labels[after]][0]
            value = (r_before / d_before + r_after / d_after) / (1 / d_before + 1 / d_after)
            out[label] = (value, 0, 0.0)
    return out


def buhlmann_k(cost: np.ndarray, labels: np.ndarray) -> float:
    """Bühlmann-Straub's credibility constant K = expected process variance / variance of
    the hypothetical means, estimated from the levels' claim costs (K is infinite, Z = 0,
    when the levels differ no more than chance would make them)."""
    frame = pd.DataFrame({"x": cost, "g": labels})
    groups = frame.groupby("g")["x"]
    n_i, mean_i, var_i = groups.count(), groups.mean(), groups.var(ddof=1).fillna(0)
    n, r = float(n_i.sum()), len(n_i)
    if r < 2 or n <= r:
        return math.inf
    epv = float(((n_i - 1) * var_i).sum() / (n - r))
    mean = float(cost.mean())
    vhm = (float((n_i * (mean_i - mean) ** 2).sum()) - (r - 1) * epv) / (
        n - float((n_i**2).sum()) / n
    )
    return epv / vhm if vhm > 0 else math.inf
