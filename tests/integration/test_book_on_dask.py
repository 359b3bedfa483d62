"""A book several times a Dask worker's memory limit is priced on a two-worker LocalCluster
held to that limit: each worker holds one product-month at a time, so its memory follows
the slice, not the book. The book is generated (tests/book_generator.py) from a product
read from products/.

It needs no database: it runs in the SQLite half of .ci/run only."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from policy_service.services.book_jobs import impact_of_book
from tests.book_generator import generate

LIMIT = 320 * 2**20  # per worker
ROWS = 3_300_000
PER_SLICE = 20_000


def _peak_rss() -> int:
    """This process's peak resident memory (VmHWM: of its own address space, unlike
    getrusage's, which a spawned process inherits from the one that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


@pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="needs no database: runs in the SQLite half"
)
def test_a_book_several_times_a_workers_memory_is_priced_within_it(tmp_path: Path) -> None:
    import dask
    from distributed import Client, LocalCluster

    book = generate(tmp_path / "book", ROWS, PER_SLICE)
    # the book held whole (its Arrow columns, before any decoding) is several times the
    # limit of a worker
    held = ds.dataset(tmp_path / "book" / "policies", format="parquet").to_table().nbytes
    assert held > 3 * LIMIT, held

    # A worker's own results are tiny: nothing to spill, and no reason to pause it (a
    # paused worker with memory the allocator keeps would wait for ever); the limit that
    # matters is the nanny's, which kills a worker past 95% of it.
    quiet = {"distributed.worker.memory.pause": False, "distributed.worker.memory.spill": False}
    with (
        dask.config.set(quiet),
        LocalCluster(
            n_workers=2, threads_per_worker=1, memory_limit=LIMIT, dashboard_address=":0"
        ) as cluster,
    ):
        # one client at a time in this process: the job's own, as the CLI runs it (a
        # second client beside it made the results' wait flaky in CI)
        with Client(cluster) as client:
            workers = set(client.run(os.getpid))
        part = impact_of_book(
            tmp_path / "book", book.product.code, book.a, book.b, None, True,
            datetime.now(UTC), cluster.scheduler_address,
        )  # fmt: skip
        with Client(cluster) as client:
            peaks = client.run(_peak_rss)
            # the same two workers did it all: none was killed for its memory and restarted
            assert set(client.run(os.getpid)) == workers
    assert part.rows == ROWS and part.priced_both + part.lose_cover + part.unpriceable > 0
    assert max(peaks.values()) < LIMIT, peaks
