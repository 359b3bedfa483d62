"""Who used the cores while a scenario ran: client, server, PostgreSQL and everything else
(from /proc), so that a noisy run shows itself."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

from .scenarios import Result

#: CPU (cores) used by processes outside the benchmark above which a scenario is flagged
NOISE_CORES = 0.2


TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class CpuSnapshot:
    wall: float
    #: CPU seconds of reaped children: wrk, or the fallback's pool processes
    client: float
    #: CPU seconds of the gunicorn master and its workers
    server: float
    #: CPU seconds of every process named postgres (this database's backends among them)
    postgres: float
    #: busy and total jiffies of the whole machine, from /proc/stat
    busy: int
    total: int


def _proc_stat(pid: str) -> tuple[str, int, float] | None:
    """(command, parent pid, CPU seconds) of a process, from /proc/<pid>/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # it exited meanwhile
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]  # the name may hold spaces
    fields = text[text.rindex(")") + 1 :].split()
    return comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def cpu_snapshot(server_pid: int) -> CpuSnapshot | None:
    """Who is using the cores; None where there is no Linux /proc."""
    try:
        # user nice system idle iowait irq softirq steal (guest time is already in user)
        jiffies = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError, IndexError):
        return None
    idle = jiffies[3] + jiffies[4]  # idle + iowait
    server, postgres = _process_cpu(server_pid)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuSnapshot(
        time.monotonic(),
        ru.ru_utime + ru.ru_stime,
        server,
        postgres,
        sum(jiffies) - idle,
        sum(jiffies),
    )


def _process_cpu(server_pid: int) -> tuple[float, float]:
    """CPU seconds of (the gunicorn master and its workers, every postgres process)."""
    server = postgres = 0.0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (info := _proc_stat(entry.name)):
            comm, ppid, cpu = info
            if int(entry.name) == server_pid or ppid == server_pid:
                server += cpu
            elif comm == "postgres":
                postgres += cpu
    return server, postgres


def server_cpu(server_pid: int) -> float | None:
    """CPU seconds of the gunicorn master and its workers; None without /proc."""
    return _process_cpu(server_pid)[0] if Path("/proc").is_dir() else None


def wait_idle(server_pid: int, timeout: float = 120) -> float:
    """Wait until the server has finished what the last client run left in flight, and return
    the seconds waited. A stopped client closes its sockets, but gunicorn still works through
    the requests already queued: 8 leftover batches of 1,000 are seconds of work that would
    otherwise eat into the next measurement."""
    start = time.monotonic()
    prev = server_cpu(server_pid)
    if prev is None:
        time.sleep(2)  # no /proc: a fixed pause instead
        return 2.0
    quiet = 0
    while quiet < 2 and time.monotonic() - start < timeout:
        time.sleep(0.25)
        cur = server_cpu(server_pid) or 0.0
        quiet = quiet + 1 if cur - prev < 0.025 else 0  # < 10% of a core, twice in a row
        prev = cur
    return time.monotonic() - start


def add_cpu(r: Result, before: CpuSnapshot | None, after: CpuSnapshot | None) -> None:
    """CPU in cores over the run. `other` is the rest of the machine's busy time: processes
    that are not part of this benchmark skew its numbers."""
    if before is None or after is None or after.total <= before.total:
        return
    wall = after.wall - before.wall
    r.client_cores = (after.client - before.client) / wall
    r.server_cores = (after.server - before.server) / wall
    r.postgres_cores = (after.postgres - before.postgres) / wall
    r.machine_busy = (after.busy - before.busy) / (after.total - before.total)
    used = r.machine_busy * (os.cpu_count() or 1)
    r.other_cores = max(0.0, used - r.client_cores - r.server_cores - r.postgres_cores)
