"""The real service under gunicorn (or granian), in its own processes, for tests across
worker processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

#: the `policy-service` command of the running virtualenv
COMMAND = str(Path(sys.executable).with_name("policy-service"))


def service_env(db_url: str, products: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "PRODUCTS_DIR": str(products),
        "DATA_DIR": str(data_dir),
        "PII_HASH_KEY": "test-pii-key",
        "RATE_LIMIT_DEFAULT": "none",  # a test that wants one sets it in `extra`
        "WEB_GRACEFUL_TIMEOUT": "5",
        **extra,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn_service(
    env: dict[str, str], log_path: Path, workers: int, *serve_args: str, with_worker: bool = False
) -> Iterator[str]:
    """`policy-service serve` on a free port; yields its base URL once /healthz answers.
    Without the worker beside it unless `with_worker` (tests run their own)."""
    port = _free_port()
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                COMMAND,
                "serve",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                *([] if with_worker else ["--no-worker"]),
                *serve_args,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, so a hung server's workers go with it
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except (requests.ConnectionError, requests.Timeout):  # still booting
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(log_path.read_text())
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(30)  # the graceful timeout above, with room for a slow machine
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
