"""impact and experience on a generated book (default 5,000,000 policies), on this process
against a two-worker Dask LocalCluster, measured in the same run.

    .venv/bin/python bench/book_scale.py [--rows 5000000] [--per-slice 100000] [--workers 2]

The book is written in the layout of `policy-service export` (tests/book_generator.py),
then each job runs twice: a slice at a time on this process, then on the cluster. Prints
rows/s for each path and the cluster's ratio to this process. Never asserts on timings;
it does check that both paths give the same figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from policy_service.services.book_jobs import experience_of_book, impact_of_book  # noqa: E402
from tests.book_generator import generate  # noqa: E402


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--per-slice", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from distributed import LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        book, made = timed(lambda: generate(Path(tmp), args.rows, args.per_slice))
        print(f"{book.rows:,} policies in {book.slices} slices written in {made:.1f} s")
        now = datetime.now(UTC)
        at = now + timedelta(days=400)
        code, a, b = book.product.code, book.a, book.b

        def impact(dask: str | None) -> Any:
            return impact_of_book(Path(tmp), code, a, b, None, True, now, dask)

        def experience(dask: str | None) -> Any:
            return experience_of_book(
                Path(tmp), code, ["edition"], at, "all", "Asia/Shanghai", True, dask
            )

        with LocalCluster(
            n_workers=args.workers, threads_per_worker=1, dashboard_address=":0"
        ) as cluster:
            address = cluster.scheduler_address
            jobs: list[tuple[str, Callable[[str | None], Any]]] = [
                ("impact", impact),
                ("experience", experience),
            ]
            for name, job in jobs:
                here, t_here = timed(partial(job, None))
                there, t_there = timed(partial(job, address))
                same = here == there if name == "impact" else here.equals(there)
                assert same, f"{name}: the two paths disagree"
                print(
                    f"{name:<11} this process {args.rows / t_here:>11,.0f} rows/s  "
                    f"{args.workers}-worker LocalCluster {args.rows / t_there:>11,.0f} rows/s  "
                    f"ratio {t_here / t_there:.2f}x  (cores: {os.cpu_count()})"
                )


if __name__ == "__main__":
    main()
