#!/usr/bin/env python3
"""HTTP throughput of the hot path, measured end to end (the targets are in bench/README.md).

One run: a fresh PostgreSQL database, `policy-service serve` with N gunicorn workers, then a
fixed-duration, fixed-concurrency load on four scenarios (bare /healthz, quote, single issue,
batch issue). Prints a table with ratios to the bare endpoint and writes the same results as
JSON under bench/results/. A measurement, never a test: nothing here asserts on timings.

    .venv/bin/python bench/api_throughput.py            # 10 s per scenario, 8 connections
    .venv/bin/python bench/api_throughput.py --quick    # 2 s per scenario, batch of 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

from throughput.measure import run_scenario
from throughput.report import git_head, print_header, print_table, report_errors, results_doc
from throughput.scenarios import REPO_ROOT, RESULTS_DIR, Result, Target, scenarios
from throughput.server import count_policies, server_problems
from throughput.service import Service, bench_setup, running_service
from throughput.wrk import find_wrk

# -- command line -----------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    p.add_argument("--connections", type=int, default=8, help="concurrent connections (default 8)")
    p.add_argument(
        "--seconds", type=int, default=None, help="measured seconds per scenario (default 10)"
    )
    p.add_argument(
        "--warmup", type=int, default=None, help="warm-up seconds per scenario (default 2)"
    )
    p.add_argument(
        "--batch-size", type=int, default=None, help="items per batch request (default 1000)"
    )
    p.add_argument(
        "--quick", action="store_true", help="smoke test: 2 s per scenario, batch of 200"
    )
    p.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator: wrk (installed with apt-get if missing) or the Python fallback",
    )
    p.add_argument(
        "--wrk-threads", type=int, default=1, help="wrk threads (default 1: it shares the cores)"
    )
    p.add_argument("--no-install", action="store_true", help="do not try `apt-get install wrk`")
    p.add_argument(
        "--scenarios",
        default="bare,quote,issue,batch",
        help="comma-separated subset of bare,quote,issue,batch (bare is always run: it is the baseline)",
    )
    p.add_argument(
        "--server-log",
        type=Path,
        default=None,
        help="keep the server's log (access lines) at this path",
    )
    p.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="maintenance database used to create and drop the bench database",
    )
    args = p.parse_args(argv)
    # --quick only changes what was not given explicitly.
    args.seconds = args.seconds or (2 if args.quick else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    args.batch_size = args.batch_size or (200 if args.quick else 1000)
    if min(args.seconds, args.workers, args.connections, args.batch_size, args.wrk_threads) < 1:
        p.error("--seconds, --workers, --connections, --batch-size and --wrk-threads must be >= 1")
    args.wrk_threads = min(args.wrk_threads, args.connections)
    wanted = {s.strip() for s in args.scenarios.split(",") if s.strip()}
    unknown = wanted - {"bare", "quote", "issue", "batch"}
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.scenarios = wanted | {"bare"}
    return args


# -- database and server ------------------------------------------------------------------


# -- request bodies ----------------------------------------------------------------------------


# -- load generator: wrk ----------------------------------------------------------------------


# -- load generator: Python fallback -------------------------------------------------------------


# -- CPU accounting (Linux /proc; None elsewhere) ----------------------------------------------


# -- report ------------------------------------------------------------------------------------


# -- main ----------------------------------------------------------------------------------------


def measure(
    args: argparse.Namespace, wrk: str | None, t: Target
) -> tuple[list[Result], list[Result]]:
    """(measured results, warm-up results) of every chosen scenario."""
    run_id = secrets.token_hex(3)  # refs stay unique even if the database were reused
    results: list[Result] = []
    warmups: list[Result] = []
    for sc in scenarios(args.batch_size):
        if sc.name in args.scenarios:
            measured, warmup = run_scenario(sc, t, args, wrk, run_id)
            results.append(measured)
            warmups.extend([warmup] if warmup else [])
    return results, warmups


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exe = bench_setup()
    if exe is None:
        return 2
    wrk = None if args.client == "python" else find_wrk(not args.no_install)
    if args.client == "wrk" and wrk is None:
        print("--client wrk: wrk is not installed and could not be installed", file=sys.stderr)
        return 2
    client = "wrk" if wrk else "python"
    loadavg = os.getloadavg()[0]
    try:
        with running_service(exe, args.workers, args.pg_url, keep_log=args.server_log) as svc:
            return _run(args, wrk, client, svc, loadavg)
    except RuntimeError as exc:
        print(f"\nbench failed: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: the server is stopped and the database dropped", file=sys.stderr)
        return 130


def _run(
    args: argparse.Namespace, wrk: str | None, client: str, svc: Service, loadavg: float
) -> int:
    target = svc.target
    assert svc.pg_dsn is not None
    db_name = svc.pg_dsn.rsplit("/", 1)[1]
    print_header(args, wrk, svc.database_detail, db_name, target)
    results, warmups = measure(args, wrk, target)

    # Durability cross-check: every acknowledged issue must be a row. There may be more
    # rows: requests still in flight when the client stopped commit after it.
    acked = sum(r.ok for r in results + warmups if r.scenario == "issue")
    acked += sum(r.items_issued for r in results + warmups if r.scenario == "batch")
    rows = count_policies(args.pg_url, db_name)
    problems = server_problems(svc.log)

    print()
    print_table(results)
    verdict = "ok" if rows >= acked else "!!! FEWER ROWS THAN ACKNOWLEDGED ISSUES"
    print(
        f"\n  db check: {rows:,} policy rows for {acked:,} acknowledged issues (incl. warm-up): {verdict}"
    )
    print(
        "  the other targets (open-loop p99, bulk issue vs raw COPY, settlement, SQLite, "
        "pricing, memory): bench/targets.py"
    )
    had_errors = report_errors(results + warmups, problems) or rows < acked

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    doc = results_doc(
        args,
        client,
        results,
        {
            "timestamp": stamp,
            "environment": {
                "cores": os.cpu_count(),
                "loadavg_at_start": loadavg,
                "python": platform.python_version(),
                "postgresql": svc.database_detail,
                "server_connection_header": target.connection_header,
                "unique_risk_field": target.subject,
                "git_head": git_head(),
            },
            "db_check": {"policy_rows": rows, "acknowledged_issues": acked, "ok": rows >= acked},
            "had_errors": had_errors,
            "server_log_problems": problems,
        },
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"api_throughput-{stamp}.json"
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\n  results: {out.relative_to(REPO_ROOT)}")
    return 1 if had_errors else 0


if __name__ == "__main__":
    sys.exit(main())
