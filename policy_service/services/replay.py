"""Replay: price stored policies again on the edition they are pinned to, and report any
whose premium differs by even one cent (there should be none: editions never change)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from policy_service.adapters import policies_repo
from policy_service.domain.records import Policy
from pricing import engine
from pricing.model import Product

_BATCH = 1000


@dataclass(frozen=True)
class Difference:
    policy_id: str
    edition: str
    #: part -> (stored, replayed); or {"error": ...} when it could not be priced again
    parts: dict[str, tuple[str, str]]


@dataclass
class ReplayReport:
    product: str
    checked: int = 0
    same: int = 0
    differences: list[Difference] = field(default_factory=list)


def _stored(policy: Policy) -> dict[str, Decimal]:
    p = policy.premium
    return {
        "net": p.net,
        "tax": p.tax,
        "commission": p.commission,
        "fees": p.fees,
        "total": p.total,
    }


def replay_one(product: Product, policy: Policy) -> Difference | None:
    """None when the pinned edition gives the stored premium again, cent for cent."""
    edition = product.edition(policy.edition)
    if edition is None or edition.content_hash != policy.content_hash:
        found = "missing" if edition is None else f"content hash now {edition.content_hash}"
        return Difference(policy.id, policy.edition, {"edition": (policy.content_hash, found)})
    try:
        raw = policy.worksheet.get("priced_at")
        # Every worksheet records when it priced; an older one without it priced at issue.
        priced_at = datetime.fromisoformat(raw) if isinstance(raw, str) else policy.created_at
        priced = engine.price(edition, edition.inputs.parse(policy.risk), priced_at)
    except Exception as exc:  # one bad row is reported, never the end of the run
        return Difference(
            policy.id, policy.edition, {"error": ("", f"{type(exc).__name__}: {exc}")}
        )
    if priced.breakdown is None:
        refused = ", ".join(r.code for r in priced.refusals)
        return Difference(policy.id, policy.edition, {"refused": ("", refused)})
    again = {**priced.breakdown.parts(), "total": priced.breakdown.total}
    stored = _stored(policy)
    parts = {k: (str(stored[k]), str(again[k])) for k in stored if stored[k] != again[k]}
    return Difference(policy.id, policy.edition, parts) if parts else None


def replay(
    engine_: sa.Engine,
    product: Product,
    since: datetime | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> ReplayReport:
    report = ReplayReport(product.code)
    for batch in _batches(engine_, product.code, since):
        for policy in batch:
            diff = replay_one(product, policy)
            report.checked += 1
            if diff is None:
                report.same += 1
            else:
                report.differences.append(diff)
        progress(len(batch))
    return report


def count(engine_: sa.Engine, product: str, since: datetime | None) -> int:
    with engine_.connect() as conn:
        return policies_repo.count_for_replay(conn, product, since)


def _batches(engine_: sa.Engine, product: str, since: datetime | None) -> Iterator[list[Policy]]:
    after = None
    while True:
        with engine_.connect() as conn:
            batch = policies_repo.scan_for_replay(conn, product, _BATCH, after, since)
        if not batch:
            return
        yield batch
        after = batch[-1].id
