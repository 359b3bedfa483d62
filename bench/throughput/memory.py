"""Does a worker's memory stay flat? Its resident set, sampled while the server issues
policy after policy (single issues and batches, the two write paths)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .scenarios import Target
from .triggers import post_json


def worker_rss_kib(server_pid: int) -> dict[int, int]:
    """Resident set (KiB) of each process whose parent is the server (its workers)."""
    out: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry.name}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("PPid", "0").strip()) == server_pid and "VmRSS" in fields:
            out[int(entry.name)] = int(fields["VmRSS"].split()[0])
    return out


@dataclass
class MemoryRun:
    issued: int = 0
    #: (policies issued so far, the workers' total RSS in KiB)
    samples: list[tuple[int, int]] = field(default_factory=list)
    #: workers replaced during the run (a restart would hide a leak)
    workers_changed: bool = False

    def growth_kib_per_100k(self) -> float | None:
        """RSS growth per 100,000 issues between the end of the first fifth (warm caches)
        and the end of the run."""
        if len(self.samples) < 3:
            return None
        start = next(s for s in self.samples if s[0] >= self.issued / 5)
        end = self.samples[-1]
        if end[0] == start[0]:
            return None
        return (end[1] - start[1]) / (end[0] - start[0]) * 100_000


def issue_for_memory(t: Target, policies: int, prefix: str, batch: int = 1000) -> MemoryRun:
    """Issue `policies` policies, nine in ten through batches and one in ten one by one,
    sampling the workers' RSS twenty times along the way."""
    run = MemoryRun()
    workers = set(worker_rss_kib(t.server_pid))
    run.samples.append((0, sum(worker_rss_kib(t.server_pid).values())))
    every = max(policies // 20, batch)
    next_sample, n = every, 0
    while run.issued < policies:
        n += 1
        refs = [f"{prefix}-{n}-{i}" for i in range(batch)]
        items = ",".join(r.join(t.item_parts) for r in refs[: batch * 9 // 10])
        status, body = post_json(
            t.port, "/v1/policies/batch", t.key, f'{{"items":[{items}]}}'.encode()
        )
        if status != 200 or body["failed"]:
            raise RuntimeError(f"batch issue: {status} {str(body)[:300]}")
        run.issued += int(body["issued"])
        for ref in refs[batch * 9 // 10 :]:
            body_bytes = ref.join(t.item_parts).encode()
            status, body = post_json(
                t.port, "/v1/policies", t.key, body_bytes, {"Idempotency-Key": ref}
            )
            if status != 201:
                raise RuntimeError(f"issue: {status} {str(body)[:300]}")
            run.issued += 1
        if run.issued >= next_sample:
            rss = worker_rss_kib(t.server_pid)
            run.workers_changed |= set(rss) != workers
            run.samples.append((run.issued, sum(rss.values())))
            next_sample += every
    return run
