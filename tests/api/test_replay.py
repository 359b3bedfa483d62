"""`products replay`: stored policies priced again on their pinned edition match to the cent."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

from policy_service.adapters.tables import policies
from policy_service.adapters.unit_of_work import SqlUnitOfWork
from policy_service.cli import main
from policy_service.services.replay import replay
from pricing.loader import load_product

from .. import conftest
from ..claims_helpers import resident_id
from ..conftest import ApiClient, Clock, flight_policy, passenger, shipping_policy

PRODUCTS = Path(conftest.__file__).resolve().parents[1] / "products"


def test_stored_policies_price_the_same_again_and_a_changed_one_is_named(
    app: Flask,
    api: ApiClient,
    engine: sa.Engine,
    clock: Clock,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = []
    for n in range(5):
        status, pol = api.post(
            "/v1/policies", flight_policy(f"b-{n}", holder=passenger(resident_id(n)))
        )
        assert status == 201, pol
        ids.append(pol["id"])
    body = flight_policy("b-q")
    del body["policyholder"]  # named at issue
    status, quote = api.post("/v1/quotes", body)
    assert status == 201, quote
    clock.advance(minutes=10)  # issued later, at the quote's held premium
    status, pol = api.post(
        "/v1/policies", {"quote": quote["id"], "policyholder": passenger(resident_id(9))}
    )
    assert status == 201, pol
    assert api.post("/v1/policies", shipping_policy("order-1"))[0] == 201

    product = load_product(PRODUCTS / "flight_delay", PRODUCTS)
    report = replay(SqlUnitOfWork(engine), product)
    assert (report.checked, report.same, report.differences) == (6, 6, [])

    with engine.begin() as conn:  # a premium that the edition never gave
        conn.execute(
            policies.update()
            .where(policies.c.id == ids[2])
            .values(
                premium_net=policies.c.premium_net + 1,
                premium_total=policies.c.premium_total + 1,
            )
        )
    (diff,) = replay(SqlUnitOfWork(engine), product).differences
    assert diff.policy_id == ids[2] and set(diff.parts) == {"net", "total"}

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    answer = CliRunner().invoke(
        main, ["products", "replay", "flight_delay", "--path", str(PRODUCTS)]
    )
    assert answer.exit_code == 1
    assert "flight_delay: 6 policies replayed, 5 identical, 1 different" in answer.output
    assert f"{ids[2]} (2026-11-25): net:" in answer.output
    later = CliRunner().invoke(
        main,
        ["products", "replay", "flight_delay", "--since", "2099-01-01", "--path", str(PRODUCTS)],
    )
    assert later.exit_code == 0 and "0 policies replayed" in later.output
