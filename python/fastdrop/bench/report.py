"""The results of a run as a plain-text or Markdown table, with notes."""

from __future__ import annotations

from collections import Counter

from . import copy_calls
from .cases import DROPOUT_P, size_label
from .runner import Result

COLUMNS = ("op", "dtype", "size", "direction", "mode", "mask", "backend", "median", "min", "iqr",
           "GB/s", "% copy", "vs torch", "kept")
_LEFT_ALIGNED = 7  # the columns naming the case; the measured ones are right-aligned
# Above this share of the CPUs taken by other processes, a parallel kernel's times are unreliable.
OTHER_LOAD_WARNING = 0.1


def format_seconds(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def format_bytes(count: int | None) -> str:
    """Binary units, three digits: '16 B', '1.5 KiB', '64 MiB'; '-' for None."""
    if count is None:
        return "-"
    value, unit = float(count), "B"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            break
        value /= 1024
    return f"{count} B" if unit == "B" else f"{value:.3g} {unit}"


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
        format_bytes(r.kept_bytes),
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
        "GB/s: bytes read + written per call: inputs, outputs and what is kept for backward (a "
        "composition's intermediates are not counted). forward, backward: one kernel call; train: a "
        "training step through autograd, forward then backward.",
        "% copy: of the GB/s of the fastest copy of the same dtype and size "
        f"({copy_calls.implementation()}).",
        "vs torch: torch's median time / this case's; for the other ops than dropout, torch is the "
        "PyTorch a user writes for them (torch's own op where there is one).",
        "mask: what backward uses (recompute: regenerated from seed and offset; bits: 1 bit per unit; "
        "noise: torch's scaled mask in the dtype; bool: torch's CUDA mask). kept: its bytes, kept "
        "from forward to backward besides the inputs.",
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
