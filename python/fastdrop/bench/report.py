"""The results of a run as a plain-text table with notes, and as JSON."""

from __future__ import annotations

from collections import Counter

from . import copy_calls
from .cases import DROPOUT_P, size_label
from .runner import Result, Settings

COLUMNS = ("op", "dtype", "size", "direction", "mode", "mask", "backend", "median", "min", "iqr",
           "GB/s", "% copy", "vs torch")
_LEFT_ALIGNED = 7  # the columns naming the case; the measured ones are right-aligned
# Above this share of the CPUs taken by other processes, a parallel kernel's times are unreliable.
OTHER_LOAD_WARNING = 0.1


def format_seconds(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def _speedup(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.1f}x" if x >= 10 else f"{x:.2f}x"


def _row(r: Result) -> tuple[str, ...]:
    c = r.case
    return (
        c.op, c.dtype, size_label(c.size), c.direction, c.mode, c.mask, c.backend,
        format_seconds(r.timing.median),
        format_seconds(r.timing.min),
        f"{100 * r.timing.relative_iqr:.1f}%",
        f"{r.gbps:.2f}",
        "-" if r.fraction_of_copy is None else f"{100 * r.fraction_of_copy:.0f}%",
        _speedup(r.speedup_vs_torch),
    )


def format_table(results: list[Result]) -> str:
    """Timed cases, one line each; a blank line between (dtype, size, mode) groups."""
    timed = [r for r in results if r.timing is not None]
    rows = [COLUMNS] + [_row(r) for r in timed]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]

    def line(row):
        cells = [cell.ljust(w) if i < _LEFT_ALIGNED else cell.rjust(w)
                 for i, (cell, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    lines = [line(COLUMNS), "  ".join("-" * w for w in widths)]
    previous_group = None
    for r, row in zip(timed, rows[1:]):
        group = (r.case.dtype, r.case.size, r.case.mode)
        if previous_group is not None and group != previous_group:
            lines.append("")
        previous_group = group
        lines.append(line(row))
    return "\n".join(lines)


def format_markdown(results: list[Result], header: str) -> str:
    """The same table as a Markdown document, under a line naming the machine."""
    timed = [r for r in results if r.timing is not None]
    lines = ["# fastdrop bench", "", header, "", "| " + " | ".join(COLUMNS) + " |",
             "|" + "|".join("---" if i < _LEFT_ALIGNED else "---:" for i in range(len(COLUMNS))) + "|"]
    lines += ["| " + " | ".join(_row(r)) + " |" for r in timed]
    lines += ["", format_notes(results)]
    return "\n".join(lines) + "\n"


def format_notes(results: list[Result]) -> str:
    """What the columns mean, and which cases did not run and why."""
    notes = [
        f"p = {DROPOUT_P}. median, min: time per call over the repeats; iqr: their interquartile "
        "range / median. GB/s and ratios use the median.",
        "GB/s: bytes read + written per call, masks included (bits: 1 bit per element; "
        "noise: torch's mask, one element of the dtype per element).",
        "% copy: of the GB/s of the fastest copy of the same dtype and size "
        f"({copy_calls.implementation()}).",
        "vs torch: torch's median time / this case's. mask: what backward uses "
        "(recompute: regenerated from seed and offset, nothing stored).",
        "torch 'out' mode: forward is F.dropout(inplace=True) (F.dropout has no out=); backward is "
        "torch.mul(grad, saved noise, out=).",
    ]
    loaded = {}
    for r in results:
        if r.other_load is not None and r.other_load > OTHER_LOAD_WARNING:
            loaded[f"{r.case.dtype} {size_label(r.case.size)}"] = r.other_load
    if loaded:
        shares = ", ".join(f"{group} {100 * other_load:.0f}%" for group, other_load in loaded.items())
        notes.append(f"warning: other processes kept the CPUs busy while some cases ran ({shares} of "
                     "the CPUs): their times are not to be trusted; run again on a quiet machine.")
    skipped = Counter((r.case.backend, r.skipped) for r in results if r.skipped)
    for (backend, reason), count in skipped.items():
        if backend == "torch":
            notes.append(f"torch comparison skipped ({count} cases): {reason}")
        else:
            notes.append(f"skipped {count} {backend} cases: {reason}")
    for r in results:
        if r.error:
            notes.append(f"error in {r.case.id}: {r.error}")
    return "\n".join(notes)


def _result_json(r: Result) -> dict:
    c = r.case
    entry = {
        "id": c.id, "op": c.op, "backend": c.backend, "dtype": c.dtype, "size": c.size,
        "direction": c.direction, "mode": c.mode, "mask": c.mask, "bytes": c.bytes_moved,
        "skipped": r.skipped, "error": r.error,
    }
    if r.timing is not None:
        q1, q3 = r.timing.quartiles
        entry.update(
            seconds_per_call=list(r.timing.seconds_per_call),
            calls_per_round=list(r.timing.calls_per_round),
            median_s=r.timing.median, min_s=r.timing.min, q1_s=q1, q3_s=q3,
            gbps=r.gbps, fraction_of_copy=r.fraction_of_copy, speedup_vs_torch=r.speedup_vs_torch,
            other_load=r.other_load,
        )
    return entry


def to_json(results: list[Result], settings: Settings, machine: dict, threads: dict) -> dict:
    return {
        "machine": machine,
        "settings": {
            "repeats": settings.repeats,
            "min_batch_s": settings.min_batch_s,
            "threads": threads,
            "dropout_p": DROPOUT_P,
            "copy": copy_calls.implementation(),
        },
        "results": [_result_json(r) for r in results],
    }
