"""The README's first command is the whole service: `policy-service serve` starts a worker
beside the server, so a webhook goes out with nothing else running (a real receiver over
real HTTP). Production runs `serve --no-worker` and its own workers."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import PRODUCTS, make_partner
from tests.live_service import gunicorn_service, service_env
from tests.webhook_receiver import receiver


@pytest.mark.slow
def test_serve_alone_delivers_webhooks(db_url: str, engine: sa.Engine, tmp_path: Path) -> None:
    _, key = make_partner(engine)
    auth = {"Authorization": f"Bearer {key}"}
    env = service_env(db_url, PRODUCTS, tmp_path, WORKER_POLL_SECONDS="0.2")
    with (
        receiver() as hooks,
        gunicorn_service(env, tmp_path / "server.log", workers=1, with_worker=True) as base,
    ):
        answer = requests.post(
            f"{base}/v1/webhook-endpoints",
            json={"url": hooks.url, "events": ["policy.issued"]},
            headers=auth,
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        products = requests.get(f"{base}/v1/products", headers=auth, timeout=30).json()["data"]
        product = next(
            p for p in products if p["current_edition"] and p["policyholder"] != "required"
        )
        answer = requests.post(
            f"{base}/v1/policies",
            json={
                "product": product["code"],
                "risk": product["example_risk"],
                "external_ref": "serve-alone-1",
            },
            headers={**auth, "Idempotency-Key": "serve-alone-1"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        policy = answer.json()
        hooks.wait_for(lambda r: len(r.received) >= 1, timeout=30)
        event = hooks.received[0].event
        assert event["type"] == "policy.issued"
        assert event["data"]["object"]["id"] == policy["id"]
