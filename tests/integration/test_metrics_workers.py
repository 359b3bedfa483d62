"""/metrics under gunicorn adds up every worker process (prometheus-client's multiprocess
mode, which serve sets up): quotes answered by two workers are all counted."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import PRODUCTS, make_partner
from tests.live_service import gunicorn_service, service_env

QUOTES = 12


@pytest.mark.slow
def test_two_workers_are_counted_together(db_url: str, engine: sa.Engine, tmp_path: Path) -> None:
    _, key = make_partner(engine)
    auth = {"Authorization": f"Bearer {key}"}
    env = service_env(db_url, PRODUCTS, tmp_path)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with gunicorn_service(env, tmp_path / "server.log", workers=2) as base:
        products = requests.get(f"{base}/v1/products", headers=auth, timeout=30).json()["data"]
        product = next(p for p in products if p["current_edition"])
        for _ in range(QUOTES):
            answer = requests.post(
                f"{base}/v1/quotes",
                json={"product": product["code"], "risk": product["example_risk"]},
                headers={**auth, "Connection": "close"},
                timeout=30,
            )
            assert answer.status_code == 201, answer.text
        text = requests.get(f"{base}/metrics", timeout=30).text
        pids = {p.name.split("_")[-1] for p in (tmp_path / "metrics").iterdir()}
    counted = {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "policy_service_quotes_total"
    }
    assert counted[(("mode", "test"), ("product", product["code"]))] == QUOTES
    assert len(pids) >= 2, pids  # more than one process wrote values
