"""Experience: earned premium, claims, frequency, severity and loss ratio of a book, by any
mix of edition, partner, input and period.

Earned premium is premium net of tax earned pro rata over the cover (a cover that has
ended is fully earned, one not started earns nothing, a cancelled policy earns the share
of its premium its refund did not return), as on the ops dashboard. Exposure is the
same fraction counted in policies; frequency = paid claims / exposure, severity = claim
cost / paid claims, loss ratio = claim cost / earned premium.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

PERIODS = ("all", "month", "quarter")


def earned_share(policies: pd.DataFrame, now: datetime) -> np.ndarray:
    """The earned fraction of each policy's premium at `now`."""
    start = pd.to_datetime(policies["coverage_start"], utc=True)
    end = pd.to_datetime(policies["coverage_end"], utc=True)
    stamp = pd.Timestamp(now)
    length = (end - start).dt.total_seconds().to_numpy()
    elapsed = (stamp - start).dt.total_seconds().to_numpy()
    share = np.clip(np.where(length > 0, elapsed / np.where(length > 0, length, 1), 1.0), 0, 1)
    cancelled = (policies["status"] == "cancelled").to_numpy()
    total = policies["premium_total"].to_numpy(dtype="float64")
    refund = policies["refund"].fillna(0).to_numpy(dtype="float64")
    kept = np.where(total > 0, 1 - refund / np.where(total > 0, total, 1), 0)
    return np.where(cancelled, kept, share)


#: the columns that add up across slices of a book (the ratios are made from them last)
SUMS = ("policies", "exposure", "earned_premium", "claims", "claim_cost")


def experience(
    policies: pd.DataFrame,
    claims: pd.DataFrame,
    by: list[str],
    now: datetime,
    period: str = "all",
    tz: str = "Asia/Shanghai",
) -> pd.DataFrame:
    """One row per group: policies, exposure, earned premium, claims, claim cost,
    frequency, severity, loss ratio. `policies` holds policy_id, edition, partner, status,
    created_at, coverage_start, coverage_end, premium_total, premium_tax and refund, plus
    any risk input to group by; `claims` holds policy_id and amount_paid (paid claims
    only). Amounts are in major units of the book's currency."""
    return ratios(experience_sums(policies, claims, by, now, period, tz))


def combine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The sums of slices of a book (each from experience_sums, in a fixed order) as one."""
    if len(parts) == 1:
        return parts[0]
    frame = pd.concat(parts, ignore_index=True)
    keys = [c for c in frame.columns if c not in SUMS]
    return frame.groupby(keys, dropna=False, sort=True)[list(SUMS)].sum().reset_index()


def experience_sums(
    policies: pd.DataFrame,
    claims: pd.DataFrame,
    by: list[str],
    now: datetime,
    period: str = "all",
    tz: str = "Asia/Shanghai",
) -> pd.DataFrame:
    """Per group, what adds up: policies, exposure, earned premium, claims, claim cost."""
    if period not in PERIODS:
        raise LookupError(f"--period must be one of {', '.join(PERIODS)}")
    missing = [c for c in by if c not in policies.columns]
    if missing:
        known = ", ".join(c for c in policies.columns if c not in ("policy_id", "risk"))
        raise LookupError(f"cannot group by {', '.join(missing)}; one of: {known}")
    frame = policies.copy()
    share = earned_share(frame, now)
    frame["exposure"] = share
    frame["earned_premium"] = (frame["premium_total"] - frame["premium_tax"]) * share
    paid = claims.groupby("policy_id")["amount_paid"].agg(["size", "sum"])
    frame["claims"] = frame["policy_id"].map(paid["size"]).fillna(0).astype(int)
    frame["claim_cost"] = frame["policy_id"].map(paid["sum"]).fillna(0.0)
    keys = list(by)
    if period != "all":
        local = pd.to_datetime(frame["created_at"], utc=True).dt.tz_convert(ZoneInfo(tz))
        # the local calendar month or quarter of issue (tz dropped first: it is local time)
        naive = local.dt.tz_localize(None)
        frame["period"] = naive.dt.to_period("M" if period == "month" else "Q").astype(str)
        keys = ["period", *keys]
    if keys:
        grouped = frame.groupby(keys, dropna=False)
    else:
        grouped = frame.assign(book="all").groupby("book")
    return grouped.agg(
        policies=("policy_id", "size"),
        exposure=("exposure", "sum"),
        earned_premium=("earned_premium", "sum"),
        claims=("claims", "sum"),
        claim_cost=("claim_cost", "sum"),
    ).reset_index()


def ratios(sums: pd.DataFrame) -> pd.DataFrame:
    """Frequency, severity and loss ratio of each group's sums."""
    out = sums.copy()
    out["frequency"] = np.where(
        out["exposure"] > 0, out["claims"] / out["exposure"].where(out["exposure"] > 0, 1), np.nan
    )
    out["severity"] = np.where(
        out["claims"] > 0, out["claim_cost"] / out["claims"].where(out["claims"] > 0, 1), np.nan
    )
    out["loss_ratio"] = np.where(
        out["earned_premium"] > 0,
        out["claim_cost"] / out["earned_premium"].where(out["earned_premium"] > 0, 1),
        np.nan,
    )
    return out
