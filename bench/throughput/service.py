"""A running `policy-service serve` for a bench: its database (a fresh PostgreSQL database
or a SQLite file), a partner's test key, the server, and everything removed afterwards."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from .scenarios import PRODUCT, REPO_ROOT, Target, payloads, subject_field
from .server import (
    cli,
    create_database,
    db_url,
    drop_database,
    free_port,
    get_json,
    start_server,
    stop_server,
    wait_healthy,
)


def bench_setup() -> Path | None:
    """What every bench script does first: SIGTERM takes Ctrl-C's clean-up path, and the
    `policy-service` next to this Python (the project's venv) is found; None (with a
    message) when it is missing."""

    def _sigterm(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _sigterm)
    exe = Path(sys.executable).parent / "policy-service"
    if not exe.exists():
        print(f"no {exe}: run with the project's venv python (.venv/bin/python)", file=sys.stderr)
        return None
    return exe


#: one bench run may start several services, one after the other
_SERIAL = itertools.count()


@dataclass
class Service:
    target: Target
    #: "postgresql" or "sqlite"
    database: str
    #: the server's version string (PostgreSQL) or the SQLite file
    database_detail: str
    #: the bench database's URL as psycopg takes it (PostgreSQL only)
    pg_dsn: str | None
    log: Path
    product: dict[str, Any]

    @property
    def base(self) -> str:
        return self.target.base


def _env(tmp: Path, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(tmp),
        "PII_HASH_KEY": "bench",
        "PRODUCTS_DIR": str(REPO_ROOT / "products"),
        # one key drives the whole load: the default 100/second would be the ceiling
        "RATE_LIMIT_DEFAULT": os.environ.get("RATE_LIMIT_DEFAULT", "none"),
    }


@contextmanager
def running_service(
    exe: Path,
    workers: int,
    pg_url: str | None,
    keep_log: Path | None = None,
    server_args: tuple[str, ...] = (),
) -> Iterator[Service]:
    """The service on a fresh PostgreSQL database next to `pg_url`'s, or on SQLite when
    `pg_url` is None; stopped and dropped when the block ends, whatever happened."""
    tmp = Path(tempfile.mkdtemp(prefix="policy-bench-"))
    log = tmp / "server.log"
    db_name = f"bench_{os.getpid()}_{next(_SERIAL)}"
    created = False
    server = None
    try:
        if pg_url is not None:
            detail = create_database(pg_url, db_name)
            created = True
            dsn = db_url(pg_url, db_name)
            env = _env(tmp, "postgresql+psycopg://" + dsn.split("://", 1)[1])
            database = "postgresql"
        else:
            detail, dsn, database = str(tmp / "bench.db"), None, "sqlite"
            env = _env(tmp, f"sqlite:///{tmp / 'bench.db'}")
        cli(exe, env, "db", "upgrade")
        key = cli(exe, env, "partners", "create", "Bench").strip().splitlines()[-1].strip()
        if not key.startswith("sk_test_"):
            raise RuntimeError(f"unexpected `partners create` output, last line {key!r}")
        port = free_port()
        server = start_server(exe, env, port, workers, log, server_args)
        headers = wait_healthy(server, f"http://127.0.0.1:{port}", log)
        product = get_json(f"http://127.0.0.1:{port}/v1/products/{PRODUCT}", key)
        subject = subject_field(product)
        quote_body, item_parts = payloads(product["example_risk"], subject)
        connection = headers.get("connection", "(none)")
        target = Target(port, key, connection, server.pid, quote_body, item_parts, subject)
        yield Service(target, database, detail, dsn, log, product)
    finally:
        # A second Ctrl-C during clean-up must not leave the server or the database behind.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            if server is not None:
                stop_server(server)
            if keep_log and log.exists():
                shutil.copyfile(log, keep_log)
            if created and pg_url is not None:
                drop_database(pg_url, db_name)
            shutil.rmtree(tmp, ignore_errors=True)
        finally:
            signal.signal(signal.SIGINT, previous)
