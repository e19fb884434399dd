"""Timing callables: a warm-up, then rounds in which each callable runs one batch of calls.

Taking turns matters on a shared machine: a burst of load from elsewhere slows every callable of
the round alike instead of one of them, so their ratios hold.
"""

from __future__ import annotations

import gc
import itertools
import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable, NamedTuple


@dataclass(frozen=True)
class Timing:
    seconds_per_call: tuple[float, ...]  # one value per round: batch time / calls in the batch
    calls_per_round: tuple[int, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds_per_call)

    @property
    def min(self) -> float:
        return min(self.seconds_per_call)

    @property
    def quartiles(self) -> tuple[float, float]:
        if len(self.seconds_per_call) < 2:
            return self.median, self.median
        q1, _, q3 = statistics.quantiles(self.seconds_per_call, n=4, method="inclusive")
        return q1, q3

    @property
    def relative_iqr(self) -> float:
        """Interquartile range over the median: the run's noise."""
        q1, q3 = self.quartiles
        return (q3 - q1) / self.median


# The clock is read about this many times per batch: often enough that a batch stays near its
# length when load from elsewhere slows every call, rarely enough to cost nothing.
_CLOCK_READS_PER_BATCH = 8


class Batch(NamedTuple):
    """What one batch of a case runs."""
    fn: Callable[[], object]
    # Returns once the device has finished the work fn queued (a no-op on the CPU): called before
    # every read of the clock, so that a batch of CUDA calls is timed to its end, not its launch.
    sync: Callable[[], object]
    calls_per_clock_read: int


def _calls_seconds(fn, sync, calls: int) -> float:
    sync()
    start = time.perf_counter()
    for _ in itertools.repeat(None, calls):
        fn()
    sync()
    return time.perf_counter() - start


def calibrate(fn, sync, min_batch_s: float) -> Batch:
    """Warm ``fn`` up; return its batch: how many calls to make between reads of the clock."""
    # The first call pays one-off costs (JIT compilation, first touch of output pages).
    fn()
    once = _calls_seconds(fn, sync, 1)
    return Batch(fn, sync, max(1, math.ceil(min_batch_s / _CLOCK_READS_PER_BATCH / max(once, 1e-9))))


def _run_batch(batch: Batch, min_batch_s: float) -> tuple[float, int]:
    """(seconds, calls) of a batch: calls until at least ``min_batch_s`` has passed."""
    calls = 0
    batch.sync()
    start = time.perf_counter()
    while True:
        for _ in itertools.repeat(None, batch.calls_per_clock_read):
            batch.fn()
        calls += batch.calls_per_clock_read
        batch.sync()
        seconds = time.perf_counter() - start
        if seconds >= min_batch_s:
            return seconds, calls


def measure_in_turns(batches: list[Batch], rounds: int, min_batch_s: float) -> list[Timing]:
    """Each round runs one batch of each in turn; a warm-up round comes first."""
    seconds = [[] for _ in batches]
    calls = [[] for _ in batches]
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection inside a batch would be charged to that callable
    try:
        # One untimed round first: the first batches over freshly allocated arrays run slower
        # (measured here: up to 40% on 16M elements).
        for batch in batches:
            _run_batch(batch, min_batch_s)
        for _ in range(rounds):
            for i, batch in enumerate(batches):
                batch_seconds, batch_calls = _run_batch(batch, min_batch_s)
                seconds[i].append(batch_seconds / batch_calls)
                calls[i].append(batch_calls)
    finally:
        if gc_was_enabled:
            gc.enable()
    return [Timing(tuple(s), tuple(c)) for s, c in zip(seconds, calls)]
