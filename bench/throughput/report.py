"""The tables printed after a run, the loud error report and the JSON results document."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from .cpu import NOISE_CORES
from .scenarios import (
    PRODUCT,
    REPO_ROOT,
    TARGET_BULK_POLICIES_PER_S,
    TARGET_ISSUE_PER_S,
    TARGET_ISSUE_RATIO,
    Result,
    Target,
)


def _fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def target_text(r: Result, bare_rps: float) -> tuple[str, str]:
    """(target, verdict); the verdict is information, not an assertion."""
    if r.scenario == "bare":
        return "baseline", ""
    if r.scenario == "issue":
        met = (
            bare_rps > 0 and r.rps >= TARGET_ISSUE_PER_S and r.rps / bare_rps >= TARGET_ISSUE_RATIO
        )
        return (
            f">= {TARGET_ISSUE_PER_S:,}/s and >= {TARGET_ISSUE_RATIO:.0%} of bare",
            "met" if met else "BELOW",
        )
    if r.scenario == "batch":
        met = (r.policies_per_s or 0) >= TARGET_BULK_POLICIES_PER_S
        return f">= {TARGET_BULK_POLICIES_PER_S:,} policies/s", "met" if met else "BELOW"
    return "-", ""


def print_rows(head: list[str], rows: list[list[str]], left: set[int]) -> None:
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    for i, row in enumerate([head, *rows]):
        cells = (
            x.ljust(w) if j in left else x.rjust(w)
            for j, (x, w) in enumerate(zip(row, widths, strict=True))
        )
        print("  " + "  ".join(cells).rstrip())
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths).rstrip())


def print_table(results: list[Result]) -> None:
    bare_rps = next(r.rps for r in results if r.scenario == "bare")
    rows = []
    for r in results:
        target, verdict = target_text(r, bare_rps)
        pol = r.policies_per_s
        rows.append(
            [
                r.scenario,
                _fmt(r.rps),
                _fmt(pol),
                _fmt(r.p50_ms, 2),
                _fmt(r.p99_ms, 2),
                f"{r.errors:,}" + (" !!" if r.errors else ""),
                f"{r.rps / bare_rps:.1%}" if bare_rps else "-",
                f"{pol / bare_rps:.1%}" if bare_rps and pol is not None else "-",
                target,
                verdict,
            ]
        )
    head = ["scenario", "req/s", "policies/s", "p50 ms", "p99 ms", "errors"]
    head += ["req/s÷bare", "pol/s÷bare", "target", ""]
    print_rows(head, rows, {0, 8, 9})

    # Context for reading the numbers: sample sizes, and who used the cores.
    print()
    rows = [
        [
            r.scenario,
            f"{r.requests:,}",
            f"{r.seconds:.2f}",
            _fmt(r.max_ms, 2),
            _fmt(r.client_cores, 2),
            _fmt(r.server_cores, 2),
            _fmt(r.postgres_cores, 2),
            _fmt(r.other_cores, 2) + (" !!" if (r.other_cores or 0) > NOISE_CORES else ""),
            "-" if r.machine_busy is None else f"{r.machine_busy:.0%}",
        ]
        for r in results
    ]
    head = ["scenario", "requests", "seconds", "max ms", "cores: client", "gunicorn"]
    head += ["postgres", "other", "machine busy"]
    print_rows(head, rows, {0})
    noisy = [r.scenario for r in results if (r.other_cores or 0) > NOISE_CORES]
    if noisy:
        print(
            f"  !! other processes used more than {NOISE_CORES} cores during {', '.join(noisy)}: "
            "those numbers are skewed; rerun on a quiet machine."
        )


def report_errors(results: list[Result], problems: list[str]) -> bool:
    """Say loudly, on stdout and stderr, what went wrong; True if anything did."""
    bad = [r for r in results if r.errors]
    if not bad:
        if problems:  # no failed request, but the server complained: show it, quietly
            print("\n  server log lines other than access lines:")
            print("\n".join(f"    {ln}" for ln in problems))
        return False
    bar = "!" * 78
    lines = [bar, "!!! THIS RUN HAD ERRORS: its numbers are not a valid measurement", bar]
    for r in bad:
        lines.append(
            f"!!! {r.scenario} ({r.phase}): {r.bad_status:,} responses not {r.expected_status} "
            f"(statuses {r.statuses}), {r.transport_errors:,} transport errors/timeouts, "
            f"{r.items_failed:,} batch items failed"
        )
        lines += [f"!!!   first: {sample}" for sample in r.error_samples]
    if problems:
        lines.append("!!! server log lines other than access lines:")
        lines += [f"!!!   {ln}" for ln in problems]
    lines.append(bar)
    text = "\n".join(lines)
    print(text)
    print(text, file=sys.stderr)
    return True


def print_header(
    args: argparse.Namespace, wrk: str | None, pg_version: str, db: str, t: Target
) -> None:
    print(f"policy-service API throughput  ({datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC)")
    print(
        f"  server : policy-service serve, {args.workers} gunicorn sync workers, PostgreSQL "
        f"{pg_version} (db {db}); {os.cpu_count()} cores, load avg {os.getloadavg()[0]:.2f}"
    )
    client = (
        f"wrk ({wrk}, {args.wrk_threads} thread(s))"
        if wrk
        else f"python fallback ({args.connections} processes, http.client)"
    )
    print(
        f"  client : {client}; {args.connections} connections, "
        f"{args.warmup} s warm-up + {args.seconds} s per scenario"
    )
    unique = "external_ref" + (f" and risk.{t.subject}" if t.subject else "")
    print(
        f"  bodies : {PRODUCT} example risk; {unique} unique per policy, Idempotency-Key per issue"
    )
    print(f"  notes  : the server answers `Connection: {t.connection_header}`", end="")
    if t.connection_header.lower() == "close":
        print(
            " (sync workers never keep a connection alive): every request opens a new TCP connection."
        )
    else:
        print(".")
    print(
        f"           a sync worker serves one connection at a time: {args.connections} connections on "
        f"{args.workers} workers queue in the listen backlog, and latency includes that wait."
    )
    print(
        "           the server's access log (one line per request, to a file) is part of the cost."
    )
    print(
        "           before each run the server is left to go idle: requests that a stopped client "
        "left queued would eat into the next run.\n"
    )


def results_doc(
    args: argparse.Namespace, client: str, results: list[Result], extra: dict[str, Any]
) -> dict[str, Any]:
    bare_rps = next(r.rps for r in results if r.scenario == "bare")
    rows = []
    for r in results:
        pol = r.policies_per_s
        rows.append(
            {
                **asdict(r),
                "requests_per_s": r.rps,
                "policies_per_s": pol,
                "ratio_to_bare": r.rps / bare_rps if bare_rps else None,
                "policies_ratio_to_bare": pol / bare_rps if pol is not None and bare_rps else None,
                "errors": r.errors,
                "target": target_text(r, bare_rps)[0],
                "target_verdict": target_text(r, bare_rps)[1] or None,
            }
        )
    return {
        "benchmark": "api_throughput",
        "config": {
            "workers": args.workers,
            "connections": args.connections,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "batch_size": args.batch_size,
            "quick": args.quick,
            "client": client,
            "wrk_threads": args.wrk_threads if client == "wrk" else None,
        },
        "targets": {
            "issue_per_s": TARGET_ISSUE_PER_S,
            "issue_ratio_to_bare": TARGET_ISSUE_RATIO,
            "bulk_policies_per_s": TARGET_BULK_POLICIES_PER_S,
        },
        "results": rows,
        **extra,
    }


def git_head() -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except OSError:
        return None
    return proc.stdout.strip() or None
