"""How much CPU other processes took while cases were timed.

On a shared machine a stretch where others kept the cores busy gives timings not to be trusted
(a parallel kernel waits for a core for a whole scheduler tick); this measures it so that the
report can say so. Linux only (/proc/stat); None elsewhere.
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple

_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user, nice, system, irq, softirq, steal in /proc/stat


class Snapshot(NamedTuple):
    wall_s: float
    machine_busy_s: float | None
    own_cpu_s: float


def _machine_busy_seconds() -> float | None:
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()[1:]
    except OSError:
        return None
    return sum(int(fields[i]) for i in _BUSY_FIELDS) / os.sysconf("SC_CLK_TCK")


def snapshot() -> Snapshot:
    own = os.times()
    return Snapshot(time.perf_counter(), _machine_busy_seconds(), own.user + own.system)


def other_load_since(start: Snapshot) -> float | None:
    """The fraction of all CPUs that other processes used since ``start`` (0 on a quiet machine)."""
    end = snapshot()
    if start.machine_busy_s is None or end.machine_busy_s is None:
        return None
    others = (end.machine_busy_s - start.machine_busy_s) - (end.own_cpu_s - start.own_cpu_s)
    capacity = (end.wall_s - start.wall_s) * (os.cpu_count() or 1)
    return max(0.0, others / capacity) if capacity > 0 else None
