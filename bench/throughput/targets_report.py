"""The targets table: what was measured, against what baseline of the same run, and
whether the target was met (information, never an assertion)."""

from __future__ import annotations

from dataclasses import dataclass

from .report import print_rows


@dataclass
class Row:
    what: str
    value: float | None
    unit: str
    #: the baseline measured in the same run (same unit as the value), if the target has one
    baseline: float | None
    target: str
    #: None for a baseline row
    met: bool | None
    errors: int = 0
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline


def _num(x: float | None, unit: str) -> str:
    if x is None:
        return "-"
    if unit in ("s", "ms", "MiB/100k"):
        return f"{x:,.2f}"
    return f"{x:,.0f}"


def print_targets(rows: list[Row]) -> None:
    head = ["measure", "value", "unit", "baseline", "ratio", "errors", "target", "", "note"]
    table = [
        [
            r.what,
            _num(r.value, r.unit),
            r.unit,
            _num(r.baseline, r.unit),
            "-" if r.ratio is None else f"{r.ratio:.1%}",
            str(r.errors),
            r.target,
            "" if r.met is None else ("met" if r.met else "BELOW"),
            r.note,
        ]
        for r in rows
    ]
    print_rows(head, table, {0, 2, 6, 7, 8})
