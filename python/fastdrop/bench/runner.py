"""Runs benchmark cases: times them, then relates each to the copy roofline and to torch."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from . import devices, load, timing
from .cases import Case, size_label


@dataclass(frozen=True)
class Settings:
    repeats: int  # rounds: timed batches per case
    min_batch_s: float  # a batch calls the case at least this long, so that short calls time well


# On two cores the full CPU suite took 10 to 12 minutes while other processes used 70-80% of the CPUs
# (about 5 on a quiet machine, judging by a quiet run's times); --quick 20 to 45 seconds then.
DEFAULT_SETTINGS = Settings(repeats=20, min_batch_s=0.05)
QUICK_SETTINGS = Settings(repeats=3, min_batch_s=0.005)


@dataclass
class Result:
    case: Case
    timing: timing.Timing | None = None
    bytes_moved: int | None = None  # read + written per call
    kept_bytes: int | None = None  # kept from forward for backward
    skipped: str | None = None
    error: str | None = None
    gbps: float | None = None
    fraction_of_copy: float | None = None
    speedup_vs_torch: float | None = None
    other_load: float | None = None  # share of the CPUs other processes used while it was timed


def _prepare(case: Case, settings: Settings) -> tuple[Result, timing.Batch | None]:
    """The case's Result, and its batch to time (None for a case that does not run)."""
    try:
        reason = case.skip_reason()
        if reason is not None:
            return Result(case, skipped=reason), None
        workload = case.setup()
        batch = timing.calibrate(workload.run, devices.synchronizer(case.device), settings.min_batch_s)
        return Result(case, bytes_moved=workload.bytes_moved, kept_bytes=workload.kept_bytes), batch
    except Exception as err:  # one broken backend must not hide the others' results
        return Result(case, error=f"{type(err).__name__}: {err}"), None


def _run_group(group: list[Case], settings: Settings) -> tuple[dict[Case, Result], float | None]:
    """The group's results, and the share of the CPUs other processes used meanwhile."""
    results, timed, batches = {}, [], []
    start = load.snapshot()
    for case in group:
        results[case], batch = _prepare(case, settings)
        if batch is not None:
            timed.append(results[case])
            batches.append(batch)
    timings = timing.measure_in_turns(batches, settings.repeats, settings.min_batch_s)
    other_load = load.other_load_since(start)
    for result, measured in zip(timed, timings):
        result.timing, result.other_load = measured, other_load
        result.gbps = result.bytes_moved / measured.median / 1e9
    return results, other_load


def _relate(results: list[Result]) -> None:
    """Fill in the fraction of copy bandwidth and the speedup over torch, from the same run."""
    timed = [r for r in results if r.timing is not None]
    copy_gbps = {}
    for r in timed:
        if r.case.backend == "copy":
            key = r.case.bandwidth_key
            copy_gbps[key] = max(r.gbps, copy_gbps.get(key, 0.0))
    torch_median = {r.case.comparison_key: r.timing.median for r in timed if r.case.backend == "torch"}
    for r in timed:
        if r.case.bandwidth_key in copy_gbps:
            r.fraction_of_copy = r.gbps / copy_gbps[r.case.bandwidth_key]
        if r.case.backend != "copy" and r.case.comparison_key in torch_median:
            r.speedup_vs_torch = torch_median[r.case.comparison_key] / r.timing.median


def _progress_line(result: Result) -> str:
    if result.skipped:
        outcome = f"skipped: {result.skipped}"
    elif result.error:
        outcome = f"error: {result.error}"
    else:
        outcome = f"{result.timing.median * 1e3:.3f} ms, {result.gbps:.2f} GB/s"
    return f"  {result.case.id}: {outcome}"


def run(cases: list[Case], settings: Settings, log=sys.stderr) -> list[Result]:
    """Results in the order of ``cases``. Cases of the same device, dtype and size are timed in turns."""
    groups = {}
    for case in cases:
        groups.setdefault(case.bandwidth_key, []).append(case)
    results = {}
    for number, ((device, dtype, size), group) in enumerate(groups.items(), 1):
        print(f"[{number}/{len(groups)}] {device} {dtype} {size_label(size)}: {len(group)} cases, "
              f"{settings.repeats} rounds", file=log, flush=True)
        group_results, other_load = _run_group(group, settings)
        for case in group:
            print(_progress_line(group_results[case]), file=log, flush=True)
        if other_load is not None:
            print(f"  other processes used {100 * other_load:.0f}% of the CPUs meanwhile", file=log)
        results.update(group_results)
    ordered = [results[case] for case in cases]
    _relate(ordered)
    return ordered
