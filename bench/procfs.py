"""What the benchmark reads about a server process from /proc: CPU time, memory, sockets.

CPU time is summed over a process tree (uvicorn's supervisor and its workers)
and over every thread of each process (aiosqlite runs SQLite in threads).
Two sources are read at each sample:

- `se.sum_exec_runtime` of every thread (`/proc/<pid>/task/<tid>/sched`),
  nanosecond precision but only for threads alive at the sample;
- `utime + stime` of every process (`/proc/<pid>/stat`), which also counts
  threads that have exited but only in clock ticks (10 ms here).

`cpu_seconds(a, b)` uses the precise figure when no thread seen at `a` has
gone by `b`, and the tick figure otherwise, so a window is never undercounted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def children(pid: int) -> list[int]:
    """Direct children of `pid` (scans /proc: works without CONFIG_PROC_CHILDREN)."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    """The command line of `pid` (empty when it is gone)."""
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    pids = [pid]
    for child in children(pid):
        pids.extend(tree(child))
    return pids


def _ticks(pid: int) -> int:
    fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def _runtime_ns(pid: int, tid: str) -> int:
    for line in (PROC / str(pid) / "task" / tid / "sched").read_text().splitlines():
        if line.startswith("se.sum_exec_runtime"):
            return round(float(line.split(":", 1)[1]) * 1e6)  # milliseconds
    return 0


@dataclass(frozen=True, slots=True)
class CpuSample:
    ticks: int
    runtime_ns: dict[tuple[int, str], int] = field(default_factory=dict)


def sample_cpu(pids: list[int]) -> CpuSample:
    ticks = 0
    runtime: dict[tuple[int, str], int] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            ticks += _ticks(pid)
            for tid in os.listdir(PROC / str(pid) / "task"):
                with contextlib.suppress(OSError):
                    runtime[(pid, tid)] = _runtime_ns(pid, tid)
    return CpuSample(ticks, runtime)


def cpu_seconds(start: CpuSample, end: CpuSample) -> float:
    """CPU time spent between two samples of the same processes."""
    precise = sum(end.runtime_ns.values()) > 0 and start.runtime_ns.keys() <= end.runtime_ns.keys()
    if precise:
        return sum(ns - start.runtime_ns.get(key, 0) for key, ns in end.runtime_ns.items()) / 1e9
    return (end.ticks - start.ticks) / CLOCK_TICKS


def system_busy_seconds() -> float:
    """CPU time every core has spent not idle since boot (all processes, /proc/stat)."""
    fields = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(value) for value in fields[:8]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS


async def wait_until_quiet(threshold: float = 0.2, limit: float = 60.0) -> float:
    """Wait (at most `limit` s) until the machine's busy cores drop below `threshold` of one
    core over half a second; the last busy figure seen. Other work on the machine (a test run,
    a build) would otherwise land in the middle of a measurement."""
    busy = 0.0
    for _ in range(max(1, int(limit / 0.5))):
        before = system_busy_seconds()
        await asyncio.sleep(0.5)
        busy = (system_busy_seconds() - before) / 0.5
        if busy < threshold:
            break
    return busy


def _status_kib(pid: int, key: str) -> int:
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def rss_kib(pids: list[int]) -> int:
    """Resident set size summed over the processes (VmRSS)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += _status_kib(pid, "VmRSS")
    return total


def pss_kib(pids: list[int]) -> int:
    """Proportional set size summed over the processes (shared pages split between them)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
    return total


def open_sockets(pid: int) -> int:
    """How many socket file descriptors `pid` holds (its share of the connections)."""
    count = 0
    with contextlib.suppress(OSError):
        for fd in os.listdir(PROC / str(pid) / "fd"):
            with contextlib.suppress(OSError):
                if os.readlink(PROC / str(pid) / "fd" / fd).startswith("socket:"):
                    count += 1
    return count


#: The machine's database and broadcast services: part of the system under test when used.
SERVICES = frozenset({"postgres", "redis-server"})


def service_pids() -> list[int]:
    """Every PostgreSQL and Redis process on the machine (backends come and go)."""
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in SERVICES:
                    found.append(int(entry.name))
    return found


def ticks_seconds(pids: list[int]) -> float:
    """utime + stime of the processes, in seconds (those that have exited count nothing)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += _ticks(pid)
    return total / CLOCK_TICKS


def pin(pid: int, cpus: set[int]) -> bool:
    """Restrict `pid` to `cpus`; False when the machine cannot (fewer cores, no permission)."""
    try:
        os.sched_setaffinity(pid, cpus)
    except (OSError, ValueError):
        return False
    return True
