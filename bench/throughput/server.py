"""The bench database and the server: create, start, wait until healthy, stop, drop."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psycopg

#: gunicorn access-log lines ('127.0.0.1 "GET /healthz" 200 16 1ms'); anything else in the
#: server log is worth showing when a run had errors.
ACCESS_LINE = re.compile(r'^\S+ "[A-Z]+ \S+" \d{3} ')


def create_database(pg_url: str, name: str) -> str:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        version = conn.execute("SHOW server_version").fetchone()
    return str(version[0]) if version else "?"


def drop_database(pg_url: str, name: str) -> None:
    # FORCE: a server that did not stop cleanly may still hold connections.
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def db_url(pg_url: str, name: str) -> str:
    """The bench database on the same server as the maintenance database."""
    return pg_url.rsplit("/", 1)[0] + "/" + name


def count_policies(pg_url: str, name: str) -> int:
    with psycopg.connect(db_url(pg_url, name)) as conn:
        row = conn.execute("SELECT count(*) FROM policies").fetchone()
    return int(row[0]) if row else 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(exe: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(
            f"policy-service {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}"
        )
    return proc.stdout


def start_server(
    exe: Path,
    env: dict[str, str],
    port: int,
    workers: int,
    log: Path,
    extra: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    with log.open("wb") as fh:
        # Own session: Ctrl-C reaches only this script, whose finally stops the server in order.
        # Output goes to a file, never an undrained pipe that would block the access log.
        return subprocess.Popen(
            [
                str(exe),
                "serve",
                "--no-worker",  # the bench measures the API alone
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                *extra,
            ],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # gunicorn: graceful stop of master and workers
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group is ours: start_new_session=True
        proc.wait(timeout=10)


def wait_healthy(
    proc: subprocess.Popen[bytes], base: str, log: Path, timeout: float = 60
) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return {k.lower(): v for k, v in resp.headers.items()}
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"GET /healthz did not answer 200 within {timeout:.0f} s:\n{tail(log)}")


def get_json(url: str, key: str) -> Any:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"GET {url}: {exc.code} {exc.read()[:400]!r}") from None


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def server_problems(log: Path, limit: int = 60) -> list[str]:
    """Server log lines that are neither access lines nor gunicorn's own INFO lines."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return []
    out = [
        ln
        for ln in text.splitlines()
        if ln.strip() and not ACCESS_LINE.match(ln) and "[INFO]" not in ln
    ]
    out = [ln for ln in out if " INFO " not in ln and not ln.startswith("policy-service on ")]
    return out[:limit]
