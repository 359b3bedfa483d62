"""The load generator of choice: wrk, driven by scenario.lua."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

from .scenarios import Result, Scenario, Target

#: the scenario script; run_wrk passes it what to send after wrk's "--"
SCRIPT = Path(__file__).with_name("scenario.lua")


def script_args(sc: Scenario, t: Target, prefix: str) -> list[str]:
    """scenario.lua's arguments, in the order its init() reads them."""
    head = [sc.body, sc.method, sc.path, str(sc.ok_status), str(sc.batch), prefix]
    return [*head, f"127.0.0.1:{t.port}", t.key, t.quote_body, *t.item_parts]


def find_wrk(allow_install: bool) -> str | None:
    found = shutil.which("wrk")
    if found or not allow_install or not shutil.which("apt-get") or os.geteuid() != 0:
        return found
    print("wrk not found: trying `apt-get update && apt-get install -y wrk` ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"  {' '.join(cmd)}: {exc}")
            return None
        if proc.returncode != 0:
            print(f"  {' '.join(cmd)} failed: {proc.stderr.strip()[-300:]}")
            return None
    return shutil.which("wrk")


def run_wrk(
    wrk: str,
    sc: Scenario,
    t: Target,
    seconds: int,
    args: argparse.Namespace,
    prefix: str,
) -> Result:
    # --timeout: a queued batch of 1,000 can take seconds; wrk's 2 s default would count it as lost.
    cmd = [wrk, "-t", str(args.wrk_threads), "-c", str(args.connections), "-d", f"{seconds}s"]
    cmd += ["--timeout", "60s", "-s", str(SCRIPT), t.base + sc.path, "--"]
    cmd += script_args(sc, t, prefix)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}")
    d = json.loads(line.removeprefix("BENCH_JSON "))
    return Result(
        scenario=sc.name,
        client="wrk",
        seconds=d["duration_us"] / 1e6,
        connections=args.connections,
        expected_status=sc.ok_status,
        requests=d["requests"],
        ok=d["ok"],
        bad_status=d["bad_status"],
        transport_errors=d["connect"] + d["read"] + d["write"] + d["timeout"],
        items_issued=d["issued"],
        items_failed=d["failed"],
        p50_ms=d["p50_us"] / 1000 if d["requests"] else None,
        p99_ms=d["p99_us"] / 1000 if d["requests"] else None,
        max_ms=d["max_us"] / 1000 if d["requests"] else None,
        statuses=dict(sorted(d["statuses"].items())),
        error_samples=d["samples"][:3],
    )
