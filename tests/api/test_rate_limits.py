"""Rate limits per API key: 429 with Retry-After past the limit, RateLimit-* headers on
every answer, one key's burst never touching another key, a partner's own limit over the
default. Across processes (Redis): tests/integration/test_rate_limits_shared.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from policy_service import create_app
from policy_service.adapters.unit_of_work import SqlUnitOfWork
from policy_service.config import Config, load_config
from policy_service.domain.errors import InvalidRequest, NotFound
from policy_service.services.partners import set_rate_limit
from tests.claims_helpers import Bearer, provider_key
from tests.conftest import ApiClient, Clock, add_key, make_partner


@pytest.fixture
def limited_app(config: Config, engine: sa.Engine, clock: Clock) -> Iterator[Flask]:
    app = create_app(config.with_(rate_limit_default="3/minute"), clock=clock)
    yield app
    app.extensions["policy_service"].dispose()


def _client(app: Flask, engine: sa.Engine) -> ApiClient:
    partner_id, key = make_partner(engine)
    return ApiClient(app.test_client(), key, partner_id)


def test_past_the_limit_a_key_gets_429_with_the_headers(
    limited_app: Flask, engine: sa.Engine
) -> None:
    api = _client(limited_app, engine)
    for remaining in (2, 1, 0):
        answer = api.client.get("/v1/products", headers={"Authorization": f"Bearer {api.key}"})
        assert answer.status_code == 200
        assert answer.headers["RateLimit-Limit"] == "3"
        assert answer.headers["RateLimit-Remaining"] == str(remaining)
        assert 0 <= int(answer.headers["RateLimit-Reset"]) <= 60
    refused = api.client.get("/v1/products", headers={"Authorization": f"Bearer {api.key}"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Remaining"] == "0"
    error = refused.get_json()["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "rate_limited"
    assert "3/minute" in error["message"]

    # another key, of the same partner or another one, is not touched by that burst
    other_key = add_key(engine, api.partner_id, live=False)
    assert (
        ApiClient(limited_app.test_client(), other_key, api.partner_id).get("/v1/products")[0]
        == 200
    )
    assert _client(limited_app, engine).get("/v1/products")[0] == 200


def test_a_refused_request_changes_nothing(limited_app: Flask, engine: sa.Engine) -> None:
    api = _client(limited_app, engine)
    for _ in range(3):
        api.get("/v1/products")
    status, _ = api.post("/v1/quotes", {"product": "x", "risk": {}})
    assert status == 429
    assert api.get("/v1/quotes")[0] == 429  # still counted: the window has not moved


def test_a_partner_or_provider_may_have_its_own_limit(
    limited_app: Flask, engine: sa.Engine
) -> None:
    uow = SqlUnitOfWork(engine)
    api = _client(limited_app, engine)
    set_rate_limit(uow, api.partner_id, "5/minute")  # before its first request: not cached
    statuses = [api.get("/v1/products")[0] for _ in range(6)]
    assert statuses == [200] * 5 + [429]

    feed_key = provider_key(engine)
    feed = Bearer(limited_app.test_client(), feed_key)
    statuses = [
        feed.post("/v1/trigger-events", {"type": "nothing", "data": {}})[0] for _ in range(4)
    ]
    assert statuses == [400, 400, 400, 429]


def test_a_rate_limit_is_checked_when_it_is_set() -> None:
    with pytest.raises(SystemExit, match="RATE_LIMIT_DEFAULT must be a rate limit"):
        load_config({"RATE_LIMIT_DEFAULT": "lots", "DATA_DIR": "/tmp"})
    assert (
        load_config(
            {"RATE_LIMIT_DEFAULT": "none", "PII_HASH_KEY": "k", "SESSION_SECRET": "s"}
        ).rate_limit_default
        is None
    )


def test_setting_a_bad_or_unknown_limit_is_refused(engine: sa.Engine) -> None:
    uow = SqlUnitOfWork(engine)
    partner_id, _ = make_partner(engine)
    with pytest.raises(InvalidRequest) as bad:
        set_rate_limit(uow, partner_id, "fast")
    assert bad.value.param == "rate_limit"
    with pytest.raises(NotFound):
        set_rate_limit(uow, "ptn_nobody", "5/second")
