"""What `calibrate` reports: the fit, the loss ratios it measured, and warnings about what
deserves a look before the draft is published (levels the data barely saw, an example
premium that moves a lot)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from .calibration_fit import FactorFit

#: a level whose credibility Z is below this is mostly its current factor: worth a look
BARELY_SEEN = 0.5
#: the example risk's premium moving by more than this share is worth a look
EXAMPLE_MOVE = 0.25
#: levels named in one warning at most
_NAMED = 12


@dataclass
class CalibrationReport:
    edition: str
    data: str
    trigger: str
    target_loss_ratio: float
    train_until: date | None
    train_rows: int = 0
    holdout_rows: int = 0
    #: rows the edition did not price (left out), by reason
    unpriced: dict[str, int] = field(default_factory=dict)
    base: Decimal = Decimal(0)
    factors: list[FactorFit] = field(default_factory=list)
    #: per part ("train", "holdout"): rows, claims, claim cost, premium net of tax, loss ratio
    figures: dict[str, dict[str, float]] = field(default_factory=dict)
    #: share of the training rows with a claim, in all and per amount paid
    frequencies: dict[str, float] = field(default_factory=dict)
    #: the draft's minimum and maximum premium
    limits: dict[str, str] = field(default_factory=dict)
    #: the example risk's total premium on the source edition and on the draft
    example: dict[str, Any] = field(default_factory=dict)
    written: str | None = None

    @property
    def credibility(self) -> dict[str, float]:
        """Each factor's credibility constant K (Z = n / (n + K))."""
        return {f.name: f.k for f in self.factors}

    def warnings(self) -> list[dict[str, Any]]:
        """What to look at before publishing, each with a code and a message."""
        out = []
        for fit in self.factors:
            unseen = [label for label, lv in fit.levels.items() if lv.rows == 0]
            if unseen:
                out.append(
                    _warning(
                        "not_seen",
                        fit.name,
                        unseen,
                        f"{len(unseen)} level(s) not in the training data keep their current "
                        f"factor: {_names(unseen)}",
                    )
                )
            if math.isinf(fit.k):
                out.append(
                    _warning(
                        "not_credible",
                        fit.name,
                        [],
                        "the data does not tell its levels apart (K is infinite): every "
                        "level keeps its current factor",
                    )
                )
                continue
            barely = {
                lab: lv for lab, lv in fit.levels.items() if lv.rows > 0 and lv.z < BARELY_SEEN
            }
            if barely:
                listed = [f"{lab} (n={lv.rows}, Z={lv.z:.2f})" for lab, lv in barely.items()]
                out.append(
                    _warning(
                        "barely_seen",
                        fit.name,
                        list(barely),
                        f"{len(barely)} level(s) barely seen (Z < {BARELY_SEEN}) are mostly "
                        f"their current factor: {_names(listed)}",
                    )
                )
        change = self.example.get("change")
        if change is not None and abs(change) > EXAMPLE_MOVE:
            out.append(
                _warning(
                    "example_premium_moves",
                    None,
                    [],
                    f"the example risk's premium moves by {change:+.1%} "
                    f"({self.example['current']} -> {self.example['draft']})",
                )
            )
        elif self.example and change is None:
            out.append(
                _warning(
                    "example_not_priced",
                    None,
                    [],
                    "the example risk is not priced on both editions: "
                    f"{self.example.get('current')} -> {self.example.get('draft')}",
                )
            )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "edition": self.edition,
            "data": self.data,
            "trigger": self.trigger,
            "target_loss_ratio": self.target_loss_ratio,
            "train_until": self.train_until.isoformat() if self.train_until else None,
            "train_rows": self.train_rows,
            "holdout_rows": self.holdout_rows,
            "unpriced": self.unpriced,
            "base": str(self.base),
            "frequencies": self.frequencies,
            "limits": self.limits,
            "credibility_k": {
                k: (None if math.isinf(v) else round(v, 1)) for k, v in self.credibility.items()
            },
            "figures": self.figures,
            "factors": {
                f.name: {
                    label: {
                        "factor": str(lv.factor),
                        "current": str(lv.current),
                        "fitted": None if lv.fitted is None else round(lv.fitted, 4),
                        "rows": lv.rows,
                        "credibility": round(lv.z, 3),
                    }
                    for label, lv in f.levels.items()
                }
                for f in self.factors
            },
            "example": self.example,
            "warnings": self.warnings(),
            "written": self.written,
        }


def _warning(code: str, factor: str | None, levels: list[str], message: str) -> dict[str, Any]:
    where = f"{factor}: " if factor else ""
    return {"code": code, "factor": factor, "levels": levels, "message": where + message}


def _names(items: list[str]) -> str:
    more = len(items) - _NAMED
    return ", ".join(items[:_NAMED]) + (f" and {more} more" if more > 0 else "")
