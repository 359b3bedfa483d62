"""`products experience`: earned premium, claims, frequency, severity and loss ratio from
the database, grouped as asked, with an HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

from policy_service.adapters.tables import claims, policies
from policy_service.cli import main

from ..conftest import Clock
from ..console_helpers import seed_book

PRODUCTS = Path(__file__).resolve().parents[2] / "products"


def test_experience_by_carrier_and_month_adds_up_to_the_book(
    app: Flask,
    engine: sa.Engine,
    clock: Clock,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed_book(app, engine, clock, days=4)
    with engine.connect() as conn:
        sold = conn.execute(
            sa.select(
                sa.func.count(), sa.func.sum(policies.c.premium_total - policies.c.premium_tax)
            ).where(policies.c.livemode.is_(True))
        ).one()
        paid = conn.execute(
            sa.select(sa.func.count(), sa.func.sum(claims.c.amount_paid)).where(
                claims.c.status == "paid", claims.c.livemode.is_(True)
            )
        ).one()
    assert sold[0] > 0 and paid[0] > 0
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    args = [
        "products",
        "experience",
        "flight_delay",
        "--path",
        str(PRODUCTS),
        "--at",
        "2030-01-01T00:00:00+00:00",
    ]
    answer = CliRunner().invoke(
        main, [*args, "--by", "carrier", "--period", "month", "--json", "--html", str(tmp_path)]
    )
    assert answer.exit_code == 0, answer.output
    rows = json.loads(answer.output)["flight_delay"]
    assert {r["carrier"] for r in rows} == {"MU"} and {r["period"] for r in rows} == {"2026-11"}
    assert sum(r["policies"] for r in rows) == sold[0]
    # every cover has ended by 2030: all premium (net of tax) is earned
    assert sum(r["earned_premium"] for r in rows) == pytest.approx(float(sold[1]) / 100)
    assert sum(r["claims"] for r in rows) == paid[0]
    assert sum(r["claim_cost"] for r in rows) == pytest.approx(float(paid[1]) / 100)
    (row,) = rows
    assert row["loss_ratio"] == pytest.approx((float(paid[1]) / 100) / (float(sold[1]) / 100))
    assert row["severity"] == pytest.approx(float(paid[1]) / 100 / paid[0])
    assert row["frequency"] == pytest.approx(paid[0] / sold[0])
    assert "Experience of flight_delay" in (tmp_path / "experience-flight_delay.html").read_text()
    bad = CliRunner().invoke(main, [*args, "--by", "shoe_size"])
    assert bad.exit_code == 1 and "cannot group by shoe_size" in bad.output
    text = CliRunner().invoke(main, [*args, "--by", "edition"])
    assert text.exit_code == 0 and "loss_ratio" in text.output
