"""A derived value looked up in a table prices the same on every path: the pricing plan's
generated code as the interpreted oracle (reference_engine.py), the batch path as the
scalar engine, row by row; the worksheet shows it, and claim rules read it. The product
is written into a folder of the test's own (tests/route_edition.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing import engine, explain
from pricing.batch import FAILED, PRICED, price_frame
from pricing.claims import PolicyFacts, decide
from pricing.model import Edition
from pricing.plan import plan_of
from tests.risk_strategies import instants, offsets
from tests.route_edition import CODE, EDITION, route_edition

from . import reference_engine
from .test_batch_pricing import _scalar
from .test_pricing_plan import _outcome

NOW = datetime(2026, 12, 1, tzinfo=UTC)
#: airports with rows of their own, and one without
AIRPORTS = ["SHA", "PEK", "CAN", "NRT", "LHR", "XYZ"]
#: the routes the tables list (None: any two airports, mostly a route they do not list)
ROUTES = [("SHA", "PEK"), ("PEK", "SHA"), ("SHA", "CAN"), ("SHA", "NRT"), ("PEK", "LHR"), None]


@st.composite
def quotes(draw: st.DrawFn) -> tuple[dict[str, Any], datetime]:
    """A risk as a partner sends it, and when it is quoted: mostly valid, the departure
    mostly far enough ahead, so that most risks reach the tables."""
    now = draw(instants).astimezone(UTC)
    departure = now + timedelta(hours=draw(st.integers(-3, 24 * 400)))
    offset = draw(offsets)
    good = departure.astimezone(offset).isoformat()
    route = draw(st.sampled_from(ROUTES)) or (
        draw(st.sampled_from([*AIRPORTS * 2, "sha"])),
        draw(st.sampled_from([*AIRPORTS * 2, "PEK1"])),
    )
    raw = {
        "carrier": "MU",
        "flight_number": draw(st.sampled_from(["MU5101", "MU51"] * 5 + ["mu51"])),
        "origin": route[0],
        "destination": route[1],
        "scheduled_departure": draw(st.sampled_from([good] * 10 + ["2026-13-01"])),
        "cabin": draw(st.sampled_from(["economy", "business"] * 5 + ["first"])),
        "frequent_flyer": draw(st.sampled_from([True, False, None] * 3 + ["yes"])),
    }
    return {k: v for k, v in raw.items() if v is not None}, now


@pytest.fixture(scope="module")
def edition(tmp_path_factory: pytest.TempPathFactory) -> Edition:
    return route_edition(tmp_path_factory.mktemp("products"))


def test_the_plan_prices_a_looked_up_value_as_the_oracle(
    edition: Edition, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the generated code never hands a risk that prices to the step-by-step path
    stepwise: list[dict[str, Any]] = []
    plan = plan_of(edition)
    monkeypatch.setattr(plan, "price_stepwise", lambda risk, now: stepwise.append(risk))

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(quote=quotes())
    def check(quote: tuple[dict[str, Any], datetime]) -> None:
        raw, now = quote
        want = _outcome(reference_engine.price, edition, raw, now)
        assert _outcome(engine.price, edition, raw, now) == want
        assert _outcome(engine.price, edition, raw, now) == want  # from the memo
        assert stepwise == []

    check()


def test_the_batch_path_prices_a_looked_up_value_as_the_scalar_engine(edition: Edition) -> None:
    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(drawn=st.lists(quotes(), min_size=1, max_size=30))
    def check(drawn: list[tuple[dict[str, Any], datetime]]) -> None:
        rows = [raw for raw, _ in drawn]
        now = drawn[0][1]  # one time for the whole book
        result = price_frame(edition, pd.DataFrame(rows), now)
        for i, risk in enumerate(rows):
            row = result.frame.iloc[i]
            want = _scalar(edition, risk, now)
            if row["status"] != PRICED:
                assert (row["status"], row["error"]) == want, risk
                continue
            premium = result.premium(i)
            assert premium is not None
            got = (
                PRICED,
                *(premium[k] for k in ("net", "tax", "commission", "fees", "total")),
                row["coverage_start"],
                row["coverage_end"],
            )
            assert got == want, risk

    check()


def _risk(edition: Edition, **changes: Any) -> dict[str, Any]:
    return {**edition.example(NOW), **changes}


def test_the_batch_path_shows_the_looked_up_values(edition: Edition) -> None:
    rows = [
        _risk(edition),
        _risk(edition, origin="PEK", destination="LHR", frequent_flyer=True),
        _risk(edition, origin="XYZ"),
    ]
    result = price_frame(edition, pd.DataFrame(rows), NOW)
    assert list(result.frame["status"]) == [PRICED] * 3
    assert list(result.env["route_band"]) == ["domestic_trunk", "international", "regional"]
    assert list(result.env["distance_km"]) == [1080, 8150, 900]
    assert list(result.env["member_discount"]) == [
        Decimal("0.00"),
        Decimal("0.05"),
        Decimal("0.00"),
    ]
    for i, risk in enumerate(rows):
        priced = engine.price(edition, edition.inputs.parse(risk), NOW)
        assert result.premium(i) == {**priced.breakdown.parts(), "total": priced.breakdown.total}


def test_a_key_with_no_row_fails_alike_on_every_path(edition: Edition) -> None:
    # the loader refuses a table without a default that misses a key the inputs can
    # take; should one miss all the same, every path raises the table's own error
    weight = next(d for d in edition.derived if d.spec.name == "cabin_weight")
    assert weight.table is not None
    rows = {k: v for k, v in weight.table.rows.items() if k != ("business", "regional")}
    table = dataclasses.replace(weight.table, rows=rows)
    broken = dataclasses.replace(
        edition,
        derived=tuple(
            dataclasses.replace(d, table=table) if d is weight else d for d in edition.derived
        ),
        compiled={},
    )
    risk = _risk(broken, cabin="business", origin="XYZ")
    message = (
        f"{CODE}/editions/{EDITION}/cabin_weights.csv: no row for "
        "{'cabin': 'business', 'route_band': 'regional'} and no default"
    )
    want = ("EvaluationError", message)
    assert _outcome(reference_engine.price, broken, risk, NOW) == want
    assert _outcome(engine.price, broken, risk, NOW) == want
    result = price_frame(broken, pd.DataFrame([risk, _risk(broken)]), NOW)
    assert list(result.frame["status"]) == [FAILED, PRICED]
    assert result.frame["error"].iloc[0] == message


def test_the_worksheet_shows_the_looked_up_values(edition: Edition) -> None:
    priced = engine.price(edition, edition.inputs.parse(_risk(edition)), NOW)
    sheet = priced.worksheet
    assert sheet["derived"] == {
        "route_band": "domestic_trunk",
        "distance_km": 1080,
        "cabin_weight": "1.0",
        "member_discount": "0.00",
        "hours_to_departure": "27048",
        "long_haul": False,
    }
    route = next(s for s in sheet["steps"] if s.get("name") == "route")
    assert route["lookup"] == {"route_band": "domestic_trunk"}
    assert route["source"] == f"{CODE}/editions/{EDITION}/route_factor.csv:2"
    assert "route_band               domestic_trunk" in explain.as_text(sheet)


@pytest.mark.parametrize(
    ("origin", "destination", "cabin", "pays"),
    [
        ("PEK", "LHR", "economy", Decimal("300.00")),
        ("SHA", "PEK", "business", Decimal("200.00")),
        ("XYZ", "PEK", "business", Decimal("180.00")),
    ],
)
def test_a_claim_rule_reads_a_looked_up_value(
    edition: Edition, origin: str, destination: str, cabin: str, pays: Decimal
) -> None:
    risk = edition.inputs.parse(_risk(edition, origin=origin, destination=destination, cabin=cabin))
    departure = risk["scheduled_departure"]
    priced = engine.price(edition, risk, NOW)
    assert priced.breakdown is not None and priced.coverage_start is not None
    assert priced.coverage_end is not None
    facts = PolicyFacts(
        "ref-1", priced.breakdown.total, priced.coverage_start, priced.coverage_end, NOW
    )
    late = departure + timedelta(minutes=150)
    trigger = {
        "carrier": "MU",
        "flight_number": "MU5101",
        "scheduled_departure": departure,
        "status": "delayed",
        "delay_minutes": 150,
        "actual_departure": None,
    }
    decision = decide(edition, "flight.status", risk, facts, trigger, late, late)
    assert decision.problem is None
    assert decision.rule is not None and decision.rule.code == "delay"
    assert decision.amount == pays
