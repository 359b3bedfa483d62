"""calibrate on a generated Parquet book (default 400,000 rows), on this process against a
two-worker Dask LocalCluster, measured in the same run.

    .venv/bin/python bench/calibrate_scale.py [--rows 400000] [--per-group 50000] [--workers 2]

The product and the book are the ones tests/unit/test_calibrate_any.py writes (parcel
returns, two rating factors). The Parquet book is calibrated twice: read whole on this
process (priced once on the source edition, kept for every pass), then a row group at a
time on the cluster (each pass prices its row group again). Prints rows/s of each path
and the cluster's ratio. Never asserts on timings; it does check that both paths write
the same draft.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from book_scale import timed  # noqa: E402  (bench/ is the script's folder)

from policy_service.adapters.dask_runner import slice_runner  # noqa: E402
from pricing.calibrate import run  # noqa: E402
from pricing.loader import load_product  # noqa: E402
from tests.integration.test_calibrate_on_dask import draft_files, write_parquet  # noqa: E402
from tests.unit.test_calibrate_any import CODE, SOURCE, book_rows, write_product  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--per-group", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from distributed import LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        products = write_product(Path(tmp) / "products")
        rows, made = timed(lambda: book_rows(args.rows, seed=7))
        book = write_parquet(Path(tmp) / "book.parquet", rows, args.per_group)
        groups = -(-args.rows // args.per_group)
        print(f"{args.rows:,} rows in {groups} row groups made in {made:.1f} s")
        product = load_product(products / CODE, products)
        source = product.edition(SOURCE)
        assert source is not None

        def calibrate(out: str, day: int, runner: Any) -> Any:
            starts = datetime.fromisoformat(f"2029-01-{day:02d}T00:00:00+08:00")
            return run(
                products, load_product(products / CODE, products), source, str(book), 0.6,
                None, out, starts, runner=runner,
            )  # fmt: skip

        here, t_here = timed(lambda: calibrate("here", 1, None))
        with (
            LocalCluster(
                n_workers=args.workers, threads_per_worker=1, dashboard_address=":0"
            ) as cluster,
            slice_runner(cluster.scheduler_address) as runner,
        ):
            there, t_there = timed(lambda: calibrate("there", 2, runner))
        assert here.base == there.base and here.figures == there.figures
        assert draft_files(products, "here") == draft_files(products, "there")
        print(
            f"calibrate   this process {args.rows / t_here:>9,.0f} rows/s  "
            f"{args.workers}-worker LocalCluster {args.rows / t_there:>9,.0f} rows/s  "
            f"ratio {t_here / t_there:.2f}x  (cores: {os.cpu_count()})"
        )


if __name__ == "__main__":
    main()
