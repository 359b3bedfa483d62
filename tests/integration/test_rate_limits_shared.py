"""Rate limits shared by every process through Redis (REDIS_URL): two services (as on two
machines, or two gunicorn workers) count one key's requests together, so the limit holds
for the whole service, not per process. Needs the Redis at 127.0.0.1:6379 (skipped without it, unless REQUIRE_REDIS=1, as
in .ci/run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis
import requests
import sqlalchemy as sa

from tests.conftest import PRODUCTS, make_partner
from tests.live_service import gunicorn_service, service_env

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LIMIT = 20


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.mark.slow
def test_two_workers_share_one_count_per_key(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    if not _redis_up():
        if os.environ.get("REQUIRE_REDIS"):
            pytest.fail(f"no Redis at {REDIS_URL}")
        pytest.skip(f"no Redis at {REDIS_URL}")
    _, key = make_partner(engine)
    _, other = make_partner(engine, "Other")
    env = service_env(
        db_url, PRODUCTS, tmp_path, RATE_LIMIT_DEFAULT=f"{LIMIT}/minute", REDIS_URL=REDIS_URL
    )
    with (
        gunicorn_service(env, tmp_path / "a.log", workers=1) as first,
        gunicorn_service(env, tmp_path / "b.log", workers=1) as second,
    ):
        statuses = []
        for i in range(LIMIT + 10):
            base = (first, second)[i % 2]  # every other request to each process
            answer = requests.get(
                f"{base}/v1/products", headers={"Authorization": f"Bearer {key}"}, timeout=30
            )
            statuses.append(answer.status_code)
        # per process, each would have let LIMIT through; shared, the key gets LIMIT in all
        assert statuses == [200] * LIMIT + [429] * 10, statuses
        # the other partner's key has its own count
        answer = requests.get(
            f"{second}/v1/products", headers={"Authorization": f"Bearer {other}"}, timeout=30
        )
        assert answer.status_code == 200
        assert answer.headers["RateLimit-Remaining"] == str(LIMIT - 1)
