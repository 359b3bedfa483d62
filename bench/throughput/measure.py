"""One closed-loop scenario, warm-up then measured, with who used the cores meanwhile."""

from __future__ import annotations

import argparse

from .cpu import add_cpu, cpu_snapshot, wait_idle
from .python_client import run_python
from .scenarios import Result, Scenario, Target
from .wrk import run_wrk


def run_scenario(
    sc: Scenario, t: Target, args: argparse.Namespace, wrk: str | None, run_id: str
) -> tuple[Result, Result | None]:
    """(measured, warm-up or None). Refs are f"b{run_id}{phase}{scenario initial}-..."."""
    print(f"  {sc.title}: warm-up {args.warmup} s, measuring {args.seconds} s ...", flush=True)
    phases = [("w", args.warmup)] if args.warmup else []
    warmup: Result | None = None
    for phase, seconds in [*phases, ("m", args.seconds)]:
        prefix = f"b{run_id}{phase}{sc.name[0]}"
        drained = wait_idle(t.server_pid)
        before = cpu_snapshot(t.server_pid)
        if wrk:
            r = run_wrk(wrk, sc, t, seconds, args, prefix)
        else:
            r = run_python(sc, t, seconds, args, prefix)
        add_cpu(r, before, cpu_snapshot(t.server_pid))
        r.waited_idle_s = round(drained, 2)
        if phase == "w":
            r.phase = "warm-up"
            warmup = r
    return r, warmup
