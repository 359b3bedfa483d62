"""Replay: price stored policies again on the edition they are pinned to, and report any
whose premium differs by even one cent (there should be none: editions never change)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import pandas as pd

from policy_service.domain.money import to_minor
from policy_service.domain.records import Policy
from pricing import engine
from pricing.batch import PRICED, price_frame
from pricing.model import Product

from .unit_of_work import UnitOfWork

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
    edition = product.pinned(policy.edition, policy.content_hash)
    if edition is None:
        now = product.edition(policy.edition)
        found = "missing" if now is None else f"content hash now {now.content_hash}"
        return Difference(policy.id, policy.edition, {"edition": (policy.content_hash, found)})
    try:
        # Every worksheet records when it priced; an older one without it priced at issue.
        priced_at = _priced_at(policy) or policy.created_at
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


def _priced_at(policy: Policy) -> datetime | None:
    """When the worksheet says it priced (None: not recorded, or no worksheet stored: a
    direct issue priced at created_at); ValueError when malformed."""
    raw = (policy.worksheet or {}).get("priced_at")
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None


def _suspects(product: Product, batch: list[Policy]) -> list[Policy]:
    """The policies of a batch that the batch path does not price to their stored premium
    (each edition's policies priced at once, each at its own time)."""
    suspects = []
    by_edition: dict[str, list[Policy]] = {}
    for policy in batch:
        by_edition.setdefault(policy.edition, []).append(policy)
    for edition_id, group in by_edition.items():
        edition = product.edition(edition_id)
        try:
            times: list[datetime | None] = [
                _priced_at(policy) or policy.created_at for policy in group
            ]
        except ValueError:
            times = [None]  # a time that is not one: the scalar replay reports it
        if edition is None or any(t is None for t in times):
            suspects.extend(group)  # the scalar replay says what is wrong
            continue
        result = price_frame(edition, pd.DataFrame([p.risk for p in group]), times)  # type: ignore[arg-type]
        frame = result.frame
        for i, policy in enumerate(group):
            stored = _stored(policy)
            priced = frame["status"].iat[i] == PRICED and all(
                int(frame[f"{k}_minor"].iat[i]) == to_minor(stored[k], edition.currency)
                for k in stored
            )
            if not priced or product.pinned(edition_id, policy.content_hash) is None:
                suspects.append(policy)
    return suspects


def replay(
    uow: UnitOfWork,
    product: Product,
    since: datetime | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> ReplayReport:
    """The batch path prices every policy; the scalar engine then explains the few that
    differ. Should the two paths ever disagree, that is reported too (it is a bug)."""
    report = ReplayReport(product.code)
    for batch in _batches(uow, product.code, since):
        report.checked += len(batch)
        report.differences += differences(product, batch)
        report.same = report.checked - len(report.differences)
        progress(len(batch))
    return report


def differences(product: Product, batch: list[Policy]) -> list[Difference]:
    """The policies of a batch whose pinned edition does not give their premium again."""
    found = []
    for policy in _suspects(product, batch):
        found.append(
            replay_one(product, policy)
            or Difference(
                policy.id,
                policy.edition,
                {"engines": ("batch path differs", "scalar engine matches: a pricing bug")},
            )
        )
    return found


def count(uow: UnitOfWork, product: str, since: datetime | None) -> int:
    with uow.read() as tx:
        return tx.policies.count_for_replay(product, since)


def _batches(uow: UnitOfWork, product: str, since: datetime | None) -> Iterator[list[Policy]]:
    after = None
    while True:
        with uow.read() as tx:
            batch = tx.policies.scan_for_replay(product, _BATCH, after, since)
        if not batch:
            return
        yield batch
        after = batch[-1].id
