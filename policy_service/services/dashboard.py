"""The ops dashboard's figures: sales and claims per day, loss ratios, how claims get decided.

Earned premium is premium net of tax, earned pro rata over the cover (a cover that has
ended is fully earned; a cancelled policy earns the share of it its refund did not return). Loss
ratio = paid claims / earned premium, per product and edition.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from policy_service.domain.money import from_minor

from .unit_of_work import UnitOfWork


@dataclass(frozen=True)
class DayFigures:
    day: date
    policies: int
    #: premium written that day, per currency
    premium: dict[str, Decimal]
    claims_auto: int
    claims_staff: int
    claims_open: int


@dataclass(frozen=True)
class LossRatio:
    product: str
    edition: str
    currency: str
    earned: Decimal
    paid: Decimal
    claims_paid: int

    @property
    def ratio(self) -> Decimal | None:
        return None if self.earned == 0 else self.paid / self.earned


@dataclass
class Dashboard:
    days: list[DayFigures]
    loss_ratios: list[LossRatio]
    decided_auto: int
    decided_staff: int
    in_review: int
    oldest_in_review: datetime | None
    awaiting_second_approval: int
    currencies: list[str] = field(default_factory=list)

    @property
    def auto_share(self) -> Decimal | None:
        total = self.decided_auto + self.decided_staff
        return None if total == 0 else Decimal(self.decided_auto) / total


def dashboard(
    uow: UnitOfWork, now: datetime, tz: str, livemode: bool = True, days: int = 30
) -> Dashboard:
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), zone)
    with uow.read() as tx:
        sold = tx.stats.policies_per_day(since, tz, now, livemode)
        opened = tx.stats.claims_per_day(since, tz, now, livemode)
        decided = tx.stats.decided_by_kind(since, livemode)
        paid = tx.stats.paid_claims(livemode)
        earned_rows = tx.stats.fully_earned(now, livemode)
        running = tx.stats.in_force(now, livemode)
        refunded = tx.stats.cancelled(livemode)
        backlog, oldest, second = tx.stats.review_backlog(livemode)

    count: dict[str, int] = defaultdict(int)
    premium: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for day, currency, n, total in sold:
        count[day] += n
        premium[day][currency] = from_minor(int(total or 0), currency)
    claims: dict[tuple[str, str], int] = defaultdict(int)
    for day, how, n in opened:
        claims[(day, how)] += n
    series = []
    for i in range(days):
        key = (first + timedelta(days=i)).isoformat()
        series.append(
            DayFigures(
                day=first + timedelta(days=i),
                policies=count[key],
                premium=premium.get(key, {}),
                claims_auto=claims[(key, "auto")],
                claims_staff=claims[(key, "staff")],
                claims_open=claims[(key, "open")],
            )
        )

    # Earned and paid per (product, edition, currency), in minor units until the end.
    earned: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for product, edition_id, currency, kept in earned_rows:
        earned[(product, edition_id, currency)] += Decimal(int(kept or 0))
    for product, edition_id, currency, total, tax, refund in refunded:
        # It keeps the share of its premium (ex tax) that the refund did not return.
        kept = Decimal(total - (refund or 0)) / total if total else Decimal(0)
        earned[(product, edition_id, currency)] += (total - tax) * kept
    for r in running:
        share = Decimal((now - r.coverage_start).total_seconds()) / Decimal(
            (r.coverage_end - r.coverage_start).total_seconds()
        )
        earned[(r.product_code, r.edition_id, r.currency)] += r.premium * share
    paid_by: dict[tuple[str, str, str], tuple[int, int]] = {
        (product, edition_id, currency): (n, int(amount or 0))
        for product, edition_id, currency, n, amount in paid
    }
    ratios = []
    for cell in sorted(set(earned) | set(paid_by)):
        product, edition_id, currency = cell
        n, amount = paid_by.get(cell, (0, 0))
        ratios.append(
            LossRatio(
                product=product,
                edition=edition_id.split("/", 1)[1],
                currency=currency,
                earned=from_minor(int(earned.get(cell, Decimal(0))), currency),
                paid=from_minor(amount, currency),
                claims_paid=n,
            )
        )
    currencies = sorted({c for d in series for c in d.premium} | {r.currency for r in ratios})
    return Dashboard(
        days=series,
        loss_ratios=ratios,
        decided_auto=decided.get("auto", 0),
        decided_staff=decided.get("staff", 0),
        in_review=backlog,
        oldest_in_review=oldest,
        awaiting_second_approval=second,
        currencies=currencies,
    )
