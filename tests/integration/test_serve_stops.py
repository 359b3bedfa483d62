"""`serve` stops when told to, under either HTTP server, even when the signal comes while
a worker is still booting: granian waited for ever on such a worker (about one start in
seven here) until `WEB_GRACEFUL_TIMEOUT` bounded the wait."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PRODUCTS
from tests.live_service import gunicorn_service, service_env


@pytest.mark.slow
@pytest.mark.parametrize("server", ["gunicorn", "granian"])
def test_serve_exits_on_sigterm_right_after_it_answers(
    server: str, db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    env = service_env(db_url, PRODUCTS, tmp_path, WEB_GRACEFUL_TIMEOUT="2")
    for attempt in range(6):
        # The helper sends SIGTERM as soon as the first worker answers /healthz, while
        # the second may still boot, and fails if the server is not gone 30 s later.
        log = tmp_path / f"server-{attempt}.log"
        with gunicorn_service(env, log, 2, "--server", server):
            pass
