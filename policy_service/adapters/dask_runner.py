"""Running the slices of a job: in this process, or on a Dask cluster (`local`: a
LocalCluster of this machine's cores; `tcp://HOST:PORT`: a running scheduler whose workers
have this package installed).

Each slice is one task. A local worker holds one slice at a time (one thread per worker
process), so its memory follows the slice, not the book; start a remote cluster's
workers with `--nthreads 1` for the same bound. Results come back as they finish
and are released on the cluster at once; the caller gets them in the slices' order, so
that merging them gives the same figures however the cluster scheduled them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)


def run_slices(
    fn: Callable[[T], R],
    slices: Sequence[T],
    dask: str | None,
    progress: Callable[[int, int], None] | None = None,
) -> list[R]:
    """fn on every slice, here (dask None) or on the cluster; results in slice order."""
    with slice_runner(dask) as run:
        return run(fn, slices, progress)


class Runner(Protocol):
    def __call__(
        self,
        fn: Callable[[T], R],
        slices: Sequence[T],
        progress: Callable[[int, int], None] | None = None,
    ) -> list[R]: ...


def _here(
    fn: Callable[[T], R],
    slices: Sequence[T],
    progress: Callable[[int, int], None] | None = None,
) -> list[R]:
    results = []
    for i, item in enumerate(slices, start=1):
        results.append(fn(item))
        if progress is not None:
            progress(i, len(slices))
    return results


@contextmanager
def slice_runner(dask: str | None) -> Iterator[Runner]:
    """A runner of passes over slices, here (dask None) or on one cluster for all of them
    (a job of several passes starts its LocalCluster once)."""
    if dask is None:
        yield _here
        return
    from distributed import Client, LocalCluster, as_completed

    if dask != "local" and not dask.startswith("tcp://"):
        raise LookupError(f"--dask must be local or tcp://HOST:PORT, not {dask!r}")
    cluster = None
    try:
        if dask == "local":
            cluster = LocalCluster(threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster or dask, timeout="20s")
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise LookupError(f"--dask {dask}: no scheduler answered ({exc})") from None

    def run(
        fn: Callable[[T], R],
        slices: Sequence[T],
        progress: Callable[[int, int], None] | None = None,
    ) -> list[R]:
        futures = client.map(fn, list(slices), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        found: dict[int, Any] = {}
        for done in as_completed(futures):
            found[index[done.key]] = done.result()
            done.release()
            if progress is not None:
                progress(len(found), len(slices))
        return [found[i] for i in range(len(slices))]

    try:
        yield run
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
