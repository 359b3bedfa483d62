"""Fixtures of the integration tests: the Stripe-compatible peer (localstripe), started
once per module, behind a proxy that cuts the network on purpose."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from policy_service import create_app
from policy_service.config import Config
from tests.conftest import ApiClient, Clock, make_partner
from tests.payment_peer import PEER_KEY, FaultProxy, localstripe


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with localstripe(tmp_path_factory.mktemp("peer") / "localstripe.log") as url:
        yield url


@pytest.fixture
def proxy(peer: str) -> Iterator[FaultProxy]:
    p = FaultProxy(int(peer.rsplit(":", 1)[1]))
    yield p
    p.close()


@pytest.fixture
def stripe_app(
    config: Config, engine: sa.Engine, clock: Clock, proxy: FaultProxy
) -> Iterator[Flask]:
    cfg = config.with_(
        stripe_api_key=PEER_KEY,
        stripe_api_base=proxy.url,
        stripe_webhook_secret="whsec_test",
        stripe_timeout_seconds=1.0,
    )
    app = create_app(cfg, clock=clock)
    yield app
    app.extensions["policy_service"].dispose()


@pytest.fixture
def shop(stripe_app: Flask, engine: sa.Engine) -> ApiClient:
    partner_id, key = make_partner(engine, "Card Travel", billing="stripe")
    return ApiClient(stripe_app.test_client(), key, partner_id)
