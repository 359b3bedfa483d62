"""A new scenario from files alone, on a running service: an actuary drops a product folder
and the trigger type it reacts to beside the products, validates, tests and publishes them,
and partners quote and issue it while a data provider's report pays its claim. No restart,
no code. Runs on the suite's database (SQLite by default, PostgreSQL in .ci/run).

The trigger type is published first (it is in force once published, as an edition is on
sale once published), then the edition. The product is read from products/: the one whose claim rules react to a trigger type no
other product uses (so the running service knows nothing of either before the drop). Its
own tests.yaml gives the report that pays, replayed today."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from pricing.loader import load_catalog
from pricing.model import Product
from pricing.model import TestCase as ProductCase
from tests.claims_helpers import provider_key
from tests.conftest import PRODUCTS, make_partner, passenger
from tests.live_service import COMMAND, gunicorn_service, service_env


def _scenarios() -> list[tuple[Product, str, ProductCase]]:
    """Each product whose trigger type no other product reacts to, that type, and a case
    of its tests.yaml where a report pays without review."""
    catalog = load_catalog(PRODUCTS)
    uses: dict[str, set[str]] = {}
    for product in catalog.products.values():
        for edition in product.editions:
            for rule in edition.claims:
                uses.setdefault(rule.trigger, set()).add(product.code)
    out = []
    for trigger, users in sorted(uses.items()):
        if len(users) != 1:
            continue
        product = catalog.products[users.pop()]
        for case in product.tests:
            fact = case.trigger
            pays = case.expect.get("claim") == "pays" and not case.expect.get("review")
            if fact and fact.type.name == trigger and pays:
                out.append((product, trigger, case))
                break
    assert out, "products/ ships no product with a trigger type of its own and a paying case"
    return out


SCENARIOS = _scenarios()


def _shifted(values: dict[str, Any], days: int) -> dict[str, Any]:
    """The same values `days` later (dates and times only): the case replayed today."""
    delta = timedelta(days=days)
    return {k: v + delta if isinstance(v, datetime | date) else v for k, v in values.items()}


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [COMMAND, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("product", "trigger", "case"), SCENARIOS, ids=[p.code for p, _, _ in SCENARIOS]
)
def test_a_product_and_its_trigger_type_dropped_in_are_sold_and_paid_without_a_restart(
    db_url: str,
    engine: sa.Engine,
    tmp_path: Path,
    product: Product,
    trigger: str,
    case: ProductCase,
) -> None:
    fact = case.trigger
    assert fact is not None
    # The service starts on every other product and trigger type.
    live = tmp_path / "products"
    shutil.copytree(PRODUCTS, live)
    shutil.rmtree(live / product.code)
    (live / "triggers" / f"{trigger}.yaml").unlink()
    env = service_env(db_url, live, tmp_path, PRODUCTS_RELOAD_SECONDS="1")
    _, key = make_partner(engine)
    partner = {"Authorization": f"Bearer {key}"}
    feed = {"Authorization": f"Bearer {provider_key(engine, name='Courier')}"}

    with gunicorn_service(env, tmp_path / "server.log", workers=1) as base:
        # Nothing of the scenario is known yet.
        report = {"type": trigger, "data": fact.type.fields.to_json(fact.values)}
        r = requests.post(f"{base}/v1/trigger-events", json=report, headers=feed, timeout=30)
        assert r.status_code == 400 and r.json()["error"]["param"] == "type"
        spec = requests.get(f"{base}/openapi.json", timeout=30).json()
        assert trigger not in spec["components"]["schemas"]["TriggerEventRequest"]["properties"][
            "type"
        ].get("enum", [])

        # The actuary drops the files in, validates, tests and publishes.
        shutil.copytree(PRODUCTS / product.code, live / product.code)
        shutil.copy(PRODUCTS / "triggers" / f"{trigger}.yaml", live / "triggers")
        assert re.search(
            rf"^ok\s+{product.code}:", _cli(env, "products", "validate", str(live)), re.M
        )
        assert "all passed" in _cli(env, "products", "test", product.code, "--path", str(live))
        assert "not in force: trigger type" in _cli(
            env, "products", "triggers", "--path", str(live)
        )
        _cli(env, "products", "publish-trigger", trigger, "--by", "actuary", "--path", str(live))
        edition = product.editions[-1].id
        _cli(
            env,
            "products",
            "publish",
            product.code,
            edition,
            "--by",
            "actuary",
            "--path",
            str(live),
        )

        deadline = time.monotonic() + 30
        while (
            requests.get(
                f"{base}/v1/products/{product.code}", headers=partner, timeout=30
            ).status_code
            != 200
        ):
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.2)

        # Partners are told what is on sale now, and what a provider may report.
        spec = requests.get(f"{base}/openapi.json", timeout=30).json()
        schemas = spec["components"]["schemas"]
        assert trigger in schemas["TriggerEventRequest"]["properties"]["type"]["enum"]
        names = {"".join(p.capitalize() for p in product.code.split("_")) + "Risk"}
        assert names <= set(schemas), sorted(schemas)

        # The case of tests.yaml, replayed today: quote, issue, report, paid.
        days = (datetime.now(UTC) - case.quoted_at).days
        ed = product.edition(case.edition) if case.edition else product.edition_at(case.quoted_at)
        assert ed is not None
        risk = ed.inputs.to_json(_shifted(ed.inputs.parse(case.risk), days))
        r = requests.post(
            f"{base}/v1/quotes",
            json={"product": product.code, "risk": risk},
            headers=partner,
            timeout=30,
        )
        assert r.status_code == 201, r.text
        r = requests.post(
            f"{base}/v1/policies",
            json={
                "quote": r.json()["id"],
                "external_ref": case.external_ref,
                **({"policyholder": passenger()} if product.policyholder == "required" else {}),
            },
            headers={**partner, "Idempotency-Key": "scenario-1"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        policy = r.json()
        observed = fact.observed_at + timedelta(days=days)
        report = {
            "type": trigger,
            "data": fact.type.fields.to_json(_shifted(fact.values, days)),
            # a test key simulates the day of the report (test mode only)
            "observed_at": observed.isoformat(),
        }
        r = requests.post(f"{base}/v1/trigger-events", json=report, headers=partner, timeout=30)
        assert r.status_code == 201, r.text
        assert r.json()["result"]["paid"] == 1, r.json()
        r = requests.get(
            f"{base}/v1/claims", params={"policy": policy["id"]}, headers=partner, timeout=30
        )
        assert r.status_code == 200, r.text
        [claim] = r.json()["data"]
        assert claim["status"] == "paid"
        assert claim["amount_paid"]["amount"] == format(case.expect["amount"], "f")
