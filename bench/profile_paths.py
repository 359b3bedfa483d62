#!/usr/bin/env python3
"""Where a hot path's time goes, in process: the Flask app on a fresh PostgreSQL database
(or SQLite), one path driven through the test client N times under pyinstrument, and the
time per request split by package. What bench/README.md's profiles were made with.

    .venv/bin/python bench/profile_paths.py issue            # POST /v1/policies x 2,000
    .venv/bin/python bench/profile_paths.py quote report batch --n 500
    .venv/bin/python bench/profile_paths.py issue --sqlite --tree   # the call tree too

The HTTP server (gunicorn, sockets) is not in it: bench/targets.py measures the whole."""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from pyinstrument import Profiler
from throughput.scenarios import PRODUCT, REPO_ROOT, payloads, subject_field
from throughput.triggers import report_parts

PACKAGES = (
    "policy_service",
    "pricing",
    "sqlalchemy",
    "psycopg",
    "flask_smorest",
    "flask",
    "werkzeug",
    "marshmallow",
    "json",
    "orjson",
    "logging",
)


def _package(path: str) -> str:
    for name in PACKAGES:
        if f"/{name}/" in path or path.endswith(f"/{name}.py"):
            return name
    return "other (stdlib, C)"


def self_time_by_package(session: Any) -> dict[str, float]:
    """Seconds spent in each package's own frames (self time), from pyinstrument's tree."""
    out: dict[str, float] = collections.defaultdict(float)

    def walk(frame: Any, parent: str) -> None:
        # pyinstrument's synthetic frames ([self], [await]) have no file: their parent's
        own = _package(frame.file_path) if frame.file_path else parent
        child_time = sum(c.time for c in frame.children)
        out[own] += max(frame.time - child_time, 0.0)
        for c in frame.children:
            walk(c, own)

    root = session.root_frame()
    if root is not None:
        walk(root, "other (stdlib, C)")
    return dict(out)


def _watch_statements(app: Any) -> dict[str, list[float]]:
    """Each statement's text -> the seconds of each execution, from SQLAlchemy's events."""
    import sqlalchemy as sa

    stats: dict[str, list[float]] = collections.defaultdict(list)
    engine = app.extensions["policy_service"].uow.engine

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        stats[" ".join(statement.split())[:110]].append(
            time.perf_counter() - conn.info.pop("bench_started")
        )

    return stats


def _print_statements(stats: dict[str, list[float]], requests: int) -> None:
    count = sum(len(v) for v in stats.values())
    print(f"   {count / requests:.1f} statements a request (commits not counted):")
    for text, times in sorted(stats.items(), key=lambda kv: -sum(kv[1]))[:15]:
        print(f"   {len(times) / requests:5.2f}x {sum(times) / requests * 1e3:7.3f} ms  {text}")


Request = tuple[str, bytes, dict[str, str]]


def _sender(client: Any, path: str, ok: int) -> Callable[[Request], None]:
    def send(req: Request) -> None:
        url, body, headers = req
        r = client.post(url, data=body, headers=headers)
        if r.status_code != ok:
            raise SystemExit(f"{path}: {r.status_code} {r.get_data()[:400]!r}")

    return send


def _cpu_profile(send: Callable[[Request], None], reqs: list[Request]) -> None:
    """CPU, not wall, time: what the process computes, without the waits for the database."""
    import cProfile
    import pstats

    prof = cProfile.Profile(time.process_time)
    prof.enable()
    for req in reqs:
        send(req)
    prof.disable()
    st = pstats.Stats(prof)
    total = sum(v[2] for v in st.stats.values())  # type: ignore[attr-defined]
    print(f"   CPU by own time ({total / len(reqs) * 1e3:.3f} ms a request under cProfile):")
    rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:25]  # type: ignore[attr-defined]
    for (file, line, fn), (_, calls, own, cum, _) in rows:
        where = "/".join(file.split("/")[-2:])
        print(
            f"   {own / total:6.1%} own {cum / len(reqs) * 1e3:7.3f} ms cum "
            f"{calls / len(reqs):6.1f}x  {where}:{line} {fn}"
        )


def make_app(sqlite: bool, tmp: Path, pg_url: str) -> tuple[Any, str, Callable[[], None]]:
    from policy_service import create_app
    from policy_service.adapters.db import create_db_engine, upgrade
    from policy_service.adapters.unit_of_work import SqlUnitOfWork
    from policy_service.config import load_config
    from policy_service.services.partners import create_partner

    name = f"profile_{os.getpid()}"
    if sqlite:
        url = f"sqlite:///{tmp / 'profile.db'}"
    else:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = "postgresql+psycopg://" + pg_url.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name
    env = {
        "DATABASE_URL": url,
        "DATA_DIR": str(tmp),
        "PII_HASH_KEY": "bench",
        "RATE_LIMIT_DEFAULT": "none",
    }
    config = load_config(env).with_(products_dir=REPO_ROOT / "products")
    engine = create_db_engine(config.database_url)
    upgrade(engine)
    _, key = create_partner(
        SqlUnitOfWork(engine), "Profile", "partner_settled", False, datetime.now(UTC)
    )
    engine.dispose()
    app = create_app(config)

    def cleanup() -> None:
        app.extensions["policy_service"].dispose()
        if not sqlite:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return app, key, cleanup


def requests_for(
    path: str, client: Any, key: str, n: int
) -> list[tuple[str, bytes, dict[str, str]]]:
    """(url, body, headers) of each of n requests; what they need is set up first."""
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    product = client.get(f"/v1/products/{PRODUCT}", headers=auth).get_json()
    quote, parts = payloads(product["example_risk"], subject_field(product))
    if path == "quote":
        return [("/v1/quotes", quote.encode(), auth)] * n
    if path == "issue":
        return [
            ("/v1/policies", f"p{i}".join(parts).encode(), {**auth, "Idempotency-Key": f"p{i}"})
            for i in range(n)
        ]
    if path == "batch":
        return [
            (
                "/v1/policies/batch",
                (
                    '{"items":[' + ",".join(f"b{i}-{j}".join(parts) for j in range(1000)) + "]}"
                ).encode(),
                auth,
            )
            for i in range(max(n // 1000, 1))
        ]
    if path == "report":
        for start in range(0, n, 1000):
            items = ",".join(f"r{i}".join(parts) for i in range(start, min(start + 1000, n)))
            r = client.post("/v1/policies/batch", data=f'{{"items":[{items}]}}', headers=auth)
            assert r.status_code == 200 and not r.get_json()["failed"], r.get_json()
        report = report_parts(product["example_risk"])
        return [("/v1/trigger-events", f"r{i}".join(report).encode(), auth) for i in range(n)]
    raise SystemExit(f"unknown path {path!r}: quote, issue, batch, report")


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("paths", nargs="+", help="quote, issue, batch, report")
    p.add_argument("--n", type=int, default=2000, help="requests per path (batch: items)")
    p.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    p.add_argument("--tree", action="store_true", help="print pyinstrument's call tree")
    p.add_argument("--sql", action="store_true", help="statements per request and their time")
    p.add_argument(
        "--cpu", action="store_true", help="cProfile on CPU time: the top functions by own time"
    )
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app, key, cleanup = make_app(args.sqlite, Path(tmp), args.pg_url)
        try:
            client = app.test_client()
            stats = _watch_statements(app) if args.sql else None
            for path in args.paths:
                reqs = requests_for(path, client, key, args.n)
                ok = {"quote": 201, "issue": 201, "batch": 200, "report": 201}[path]
                # Disjoint slices: a request sent twice would be an idempotent replay.
                parts = 3 if args.cpu else 2
                nwarm = min(20, len(reqs) // (parts + 1))
                warm, reqs = reqs[:nwarm], reqs[nwarm:]
                timed, reqs, cpu_reqs = (
                    reqs[: len(reqs) // parts],
                    reqs[len(reqs) // parts : 2 * len(reqs) // parts],
                    reqs[2 * len(reqs) // parts :],
                )
                send = _sender(client, path, ok)
                for req in warm:  # warm caches and connections
                    send(req)
                # First without the profiler: wall and CPU time of this process per request
                # (the difference is waiting, mostly for the database).
                wall0, cpu0 = time.perf_counter(), time.process_time()
                for req in timed:
                    send(req)
                wall_ms = (time.perf_counter() - wall0) / len(timed) * 1e3
                cpu_ms = (time.process_time() - cpu0) / len(timed) * 1e3
                if stats is not None:
                    stats.clear()
                profiler = Profiler(interval=0.0005)
                started = time.perf_counter()
                with profiler:
                    for req in reqs:
                        send(req)
                wall = time.perf_counter() - started
                print(
                    f"\n== {path}: {wall_ms:.3f} ms a request, {cpu_ms:.3f} ms of it CPU in "
                    f"this process (no profiler); profiled: {len(reqs):,} in {wall:.2f} s"
                )
                by_pkg = self_time_by_package(profiler.last_session)
                total = sum(by_pkg.values()) or 1.0
                for name, secs in sorted(by_pkg.items(), key=lambda kv: -kv[1]):
                    print(f"   {secs / total:6.1%}  {secs / len(reqs) * 1e3:7.3f} ms  {name}")
                if stats is not None:
                    _print_statements(stats, len(reqs))
                if args.cpu:
                    _cpu_profile(send, cpu_reqs)
                if args.tree:
                    print(profiler.output_text(unicode=True, color=False, show_all=False))
        finally:
            cleanup()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
