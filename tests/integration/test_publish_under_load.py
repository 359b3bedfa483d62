"""Publishing a new edition while partners keep quoting: gunicorn worker processes switch
without a restart, no request fails, and every quote is priced wholly on the old edition or
wholly on the new one. Policies sold before keep their edition; `replay` finds no
difference. Runs on the suite's database (SQLite by default, PostgreSQL in .ci/run)."""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from policy_service.adapters.tables import edition_publications
from policy_service.services.publishing import FIRST_START_ACTOR
from pricing import engine as pricing
from pricing.loader import load_product
from tests.conftest import PRODUCTS, make_partner, shipping_risk
from tests.edition_files import write_shipping_edition
from tests.live_service import COMMAND, gunicorn_service, service_env

SHIPPING = load_product(PRODUCTS / "return_shipping", PRODUCTS)
# the edition in force today, and the one this test drops in
OLD = SHIPPING.editions[-1].id
NEW = "2026-12-load"
CATEGORIES = ("apparel", "shoes", "electronics", "books")
CLIENTS = 4
RELOAD_SECONDS = 1


@dataclass(frozen=True)
class Answer:
    sent: float
    category: str
    status: int
    edition: str | None
    total: str | None
    error: str | None


def _risk(category: str, delivery: date) -> dict:  # type: ignore[type-arg]
    return shipping_risk(category=category, delivery_date=delivery.isoformat())


def _expected(products: Path, delivery: date) -> dict[tuple[str, str], str]:
    """(edition, category) -> the premium the scalar engine gives: the only right answers."""
    product = load_product(products / "return_shipping", products)
    now = datetime.now(UTC)
    expected = {}
    for edition_id in (OLD, NEW):
        edition = product.edition(edition_id)
        assert edition is not None
        for category in CATEGORIES:
            priced = pricing.price(edition, edition.inputs.parse(_risk(category, delivery)), now)
            assert priced.breakdown is not None
            expected[edition_id, category] = format(priced.breakdown.total, ".2f")
    return expected


@pytest.mark.slow
def test_publishing_while_quotes_run_switches_every_worker_cleanly(
    db_url: str, engine: sa.Engine, tmp_path: Path, products_copy: Path
) -> None:
    delivery = datetime.now(UTC).date() + timedelta(days=30)
    env = service_env(db_url, products_copy, tmp_path, PRODUCTS_RELOAD_SECONDS=str(RELOAD_SECONDS))
    _, key = make_partner(engine)
    auth = {"Authorization": f"Bearer {key}"}

    with gunicorn_service(env, tmp_path / "server.log", workers=2) as base:

        def post(path: str, body: dict) -> requests.Response:  # type: ignore[type-arg]
            return requests.post(f"{base}{path}", json=body, headers=auth, timeout=30)

        def policy(ref: str, category: str = "apparel") -> dict:  # type: ignore[type-arg]
            r = post(
                "/v1/policies",
                {
                    "product": "return_shipping",
                    "external_ref": ref,
                    "risk": _risk(category, delivery) | {"order_id": ref},
                },
            )
            assert r.status_code == 201, r.text
            return r.json()

        # sold on the edition in force before anything changes
        before = policy("before-1")
        held = post("/v1/quotes", {"product": "return_shipping", "risk": _risk("shoes", delivery)})
        assert held.status_code == 201 and held.json()["edition"]["id"] == OLD

        # the actuary drops the new edition in: in force by date, but nobody published it
        effective = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
        assert effective.isoformat() > "2026-11-25T00:00:00+00:00"
        write_shipping_edition(
            products_copy,
            NEW,
            effective,
            source=OLD,
            base="0.85",
            apparel="2.40",
            cap="20.00",
            refund_before_delivery="none",
        )
        expected = _expected(products_copy, delivery)
        # a mix of old and new parts would give a premium that is neither
        assert expected[OLD, "apparel"] != expected[NEW, "apparel"]
        # past the reload interval: the load's first requests make each worker see the file
        time.sleep(RELOAD_SECONDS + 0.5)

        answers: list[Answer] = []
        stop = threading.Event()

        def quote_loop(n: int) -> None:
            session = requests.Session()
            i = 0
            while not stop.is_set():
                category = CATEGORIES[(n + i) % len(CATEGORIES)]
                i += 1
                sent = time.monotonic()
                r = session.post(
                    f"{base}/v1/quotes",
                    json={"product": "return_shipping", "risk": _risk(category, delivery)},
                    headers=auth,
                    timeout=30,
                )
                data = r.json() if r.status_code == 201 else {}
                answers.append(
                    Answer(
                        sent,
                        category,
                        r.status_code,
                        data.get("edition", {}).get("id"),
                        data.get("premium", {}).get("total", {}).get("amount"),
                        None if r.status_code == 201 else r.text,
                    )
                )
            session.close()

        threads = [threading.Thread(target=quote_loop, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(2)
        published_from = time.monotonic()
        done = subprocess.run(
            [COMMAND, "products", "publish", "return_shipping", NEW, "--by", "load-test"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        published_at = time.monotonic()
        assert done.returncode == 0, done.stderr
        assert f"in force now, replacing {OLD}" in done.stdout
        time.sleep(RELOAD_SECONDS + 3)
        stop.set()
        for t in threads:
            t.join(60)

        failures = [a for a in answers if a.status != 201]
        assert failures == [], failures[:5]
        wrong = [a for a in answers if expected.get((a.edition or "", a.category)) != a.total]
        assert wrong == [], wrong[:5]  # each premium is exactly one edition's
        early = {a.edition for a in answers if a.sent < published_from}
        late = {a.edition for a in answers if a.sent > published_at + RELOAD_SECONDS + 1}
        assert early == {OLD} and late == {NEW}
        assert len(answers) > 50  # a real load, not a handful of requests

        # a quote held from before is still sold at its price, on its edition
        r = post("/v1/policies", {"quote": held.json()["id"], "external_ref": "held-1"})
        assert r.status_code == 201, r.text
        bought = r.json()
        assert bought["edition"]["id"] == OLD
        assert bought["premium"] == held.json()["premium"]

        # refunds follow each policy's own edition: full on the old, none on the new
        after = policy("after-1")
        assert after["edition"]["id"] == NEW
        for pol, refund in ((before, before["premium"]["total"]["amount"]), (after, "0.00")):
            r = post(f"/v1/policies/{pol['id']}/cancel", {"reason": "other"})
            assert r.status_code == 200, r.text
            assert r.json()["cancellation"]["refund"]["amount"] == refund
            assert r.json()["edition"]["id"] == pol["edition"]["id"]

    # two workers started at once on a fresh database: the first start was recorded once
    with engine.connect() as conn:
        first_start = (
            conn.execute(
                sa.select(edition_publications.c.edition_id).where(
                    edition_publications.c.actor == FIRST_START_ACTOR,
                    edition_publications.c.product_code == "return_shipping",
                )
            )
            .scalars()
            .all()
        )
    in_force = [e.ref for e in SHIPPING.editions if e.effective_from <= datetime.now(UTC)]
    assert sorted(first_start) == sorted(in_force)

    replayed = subprocess.run(
        [COMMAND, "products", "replay", "return_shipping"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "3 policies replayed, 3 identical, 0 different" in replayed.stdout
