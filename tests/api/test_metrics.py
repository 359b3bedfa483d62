"""/metrics for Prometheus: requests by route and status, quotes and issues by product and
mode, the outbox's backlog; served to loopback or with METRICS_TOKEN only. Across
gunicorn workers: tests/integration/test_metrics_workers.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from policy_service import create_app
from policy_service.config import Config
from tests.conftest import ApiClient, Clock, make_partner, shipping_policy


def samples(app: Flask, **environ: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = app.test_client().get("/metrics", environ_base=environ or {})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    out = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_a_quote_and_an_issue_are_counted(app: Flask, api: ApiClient) -> None:
    status, products = api.get("/v1/products")
    product = next(p for p in products["data"] if p["current_edition"])
    before = samples(app)
    status, _ = api.post(
        "/v1/quotes", {"product": product["code"], "risk": product["example_risk"]}
    )
    assert status == 201
    status, policy = api.post("/v1/policies", shipping_policy("metrics-1"), key="metrics-1")
    assert status == 201
    api.post("/v1/policies", shipping_policy("metrics-1"), key="metrics-1")  # a replay: not again
    after = samples(app)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("policy_service_quotes_total", product=product["code"], mode="test") == 1
    assert (
        delta("policy_service_policies_issued_total", product=policy["product"], mode="test") == 1
    )
    assert (
        delta(
            "policy_service_http_requests_total", method="POST", route="/v1/policies", status="201"
        )
        == 2
    )
    assert ("policy_service_outbox_backlog", (("kind", "events"),)) in after
    assert delta("policy_service_http_request_seconds_count", route="/v1/quotes") == 1


@pytest.fixture
def token_app(config: Config, engine: sa.Engine, clock: Clock) -> Iterator[Flask]:
    app = create_app(config.with_(metrics_token="scrape-me"), clock=clock)
    yield app
    app.extensions["policy_service"].dispose()


def test_metrics_are_for_this_machine_or_the_token(token_app: Flask, engine: sa.Engine) -> None:
    client = token_app.test_client()
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    answer = client.get("/metrics", environ_base=outside)
    assert answer.status_code == 403
    answer = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 403
    answer = client.get(
        "/metrics", environ_base=outside, headers={"Authorization": "Bearer scrape-me"}
    )
    assert answer.status_code == 200 and "policy_service_http_requests_total" in answer.get_data(
        as_text=True
    )
    make_partner(engine)
