"""Two runs side by side: `fastdrop bench --compare BEFORE.json AFTER.json`."""

from __future__ import annotations

from .report import format_seconds


def _timed(run: dict) -> dict[str, dict]:
    return {r["id"]: r for r in run["results"] if r.get("median_s")}


def contract(run: dict) -> int:
    """The randomness contract version a run's kernels followed (runs older than the field: v1)."""
    return run["machine"].get("fastdrop", {}).get("contract", 1)


def _copy_fraction(result: dict) -> str:
    fraction = result.get("fraction_of_copy")
    return "-" if fraction is None else f"{100 * fraction:.0f}%"


def format_comparison(before: dict, after: dict) -> str:
    """A line per case timed in both runs: medians, the change and the speedup (before / after),
    and the fraction of a copy's bandwidth each reached within its own run (which noise between
    runs moves less than the times); then the cases that only one run has."""
    old, new = _timed(before), _timed(after)
    common = [case for case in new if case in old]
    rows = [("case", "before", "after", "change", "speedup", "% copy before", "% copy after")]
    for case in common:
        a, b = old[case]["median_s"], new[case]["median_s"]
        rows.append((case, format_seconds(a), format_seconds(b), f"{100 * (b / a - 1):+.1f}%", f"{a / b:.2f}x",
                     _copy_fraction(old[case]), _copy_fraction(new[case])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    only_before = sorted(set(old) - set(new))
    only_after = sorted(set(new) - set(old))
    if only_before:
        lines.append(f"only in the first run: {', '.join(only_before)}")
    if only_after:
        lines.append(f"only in the second run: {', '.join(only_after)}")
    lines.append(f"randomness contract: v{contract(before)} before, v{contract(after)} after")
    machines = {run["machine"].get("cpu_model") for run in (before, after)}
    if len(machines) > 1:
        lines.append(f"note: the runs come from different CPUs ({', '.join(sorted(map(str, machines)))})")
    return "\n".join(lines)
