"""The README's performance tables, generated from a run's JSON file so that they are never typed:

    python -m fastdrop.bench.readme_table bench/results/NAME.json [README.md]

rewrites what lies between the two marker comments in README.md. The first marker names the JSON
file, so that a test can check that the README shows what that file holds.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
from typing import NamedTuple

from . import results_file
from .cases import size_label
from .report import OTHER_LOAD_WARNING, format_bytes, format_seconds

BEGIN = "<!-- performance tables: generated from {path} by python -m fastdrop.bench.readme_table; do not edit -->"
END = "<!-- end of the performance tables -->"
_BEGIN_PATTERN = re.compile(re.escape(BEGIN).replace(re.escape("{path}"), r"(\S+)"))
DTYPE = "float32"
_WIDTH = 100  # the README's line length


class Row(NamedTuple):
    """A row of the dropout table: fastdrop's case, and how torch does the same where it differs."""
    label: str
    backend: str
    direction: str
    mode: str
    mask: str
    torch_label: str = ""


DROPOUT_ROWS = (
    Row("forward into a preallocated output", "native", "forward", "out", "recompute", "in place"),
    Row("forward, allocating, 1 bit per element kept", "native", "forward", "alloc", "bits"),
    Row("backward from the bits, preallocated", "native", "backward", "out", "bits", "multiply by its saved noise"),
    Row("training step (forward and backward under autograd)", "native", "train", "alloc", "bits"),
    Row("Numba fallback, forward into out", "numba", "forward", "out", "recompute", "in place"),
)


def _speedup(x: float) -> str:
    return f"{x:.0f}x" if x >= 10 else f"{x:.1f}x" if x >= 1 else f"{x:.2f}x"


class _Run:
    """The timed results of a run in one dtype and size, found by what they are."""

    def __init__(self, run: dict, size: int):
        self.results = [r for r in run["results"] if r.get("median_s") and r["dtype"] == DTYPE and r["size"] == size]

    def find(self, **fields) -> dict | None:
        return next((r for r in self.results if all(r[k] == v for k, v in fields.items())), None)

    def with_torch(self, **fields) -> tuple[dict, dict] | None:
        """(fastdrop's result, torch's doing the same work), or None when either is missing."""
        mine = self.find(**fields)
        if mine is None:
            return None
        theirs = self.find(op=mine["op"], backend="torch", direction=mine["direction"], mode=mine["mode"])
        return None if theirs is None else (mine, theirs)


def _bandwidth(r: dict) -> str:
    share = "" if r.get("fraction_of_copy") is None else f" ({100 * r['fraction_of_copy']:.0f}%)"
    return f"{r['gbps']:.1f} GB/s{share}"


def _kept(mine: dict, theirs: dict) -> str:
    return f"{format_bytes(mine['kept_bytes'])} / {format_bytes(theirs['kept_bytes'])}"


def _dropout_table(found: _Run, title: str) -> list[str]:
    lines = [f"| {title} | fastdrop | torch | speedup | fastdrop GB/s (% of a copy) | kept for backward: fastdrop / torch |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in DROPOUT_ROWS:
        pair = found.with_torch(op="dropout", backend=row.backend, direction=row.direction, mode=row.mode,
                                mask=row.mask)
        if pair is None:
            continue
        mine, theirs = pair
        how = f" ({row.torch_label})" if row.torch_label else ""
        lines.append(f"| {row.label} | {format_seconds(mine['median_s'])} | {format_seconds(theirs['median_s'])}{how} | "
                     f"{_speedup(mine['speedup_vs_torch'])} | {_bandwidth(mine)} | {_kept(mine, theirs)} |")
    return lines if len(lines) > 2 else []


def _variant_table(found: _Run, title: str) -> list[str]:
    lines = [f"| {title} | forward: fastdrop / torch | speedup | training step: fastdrop / torch | speedup | "
             "fastdrop forward GB/s (% of a copy) | kept for backward: fastdrop / torch |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    # The ops timed through autograd: all but dropout, which has its own table.
    ops = dict.fromkeys(r["op"] for r in found.results if r["op"] not in ("dropout", "-"))
    for op in ops:
        forward = found.with_torch(op=op, backend="native", direction="forward")
        train = found.with_torch(op=op, backend="native", direction="train")
        if forward is None or train is None:
            continue
        (fwd, fwd_torch), (step, step_torch) = forward, train
        lines.append(f"| {op} | {format_seconds(fwd['median_s'])} / {format_seconds(fwd_torch['median_s'])} | "
                     f"{_speedup(fwd['speedup_vs_torch'])} | {format_seconds(step['median_s'])} / "
                     f"{format_seconds(step_torch['median_s'])} | {_speedup(step['speedup_vs_torch'])} | "
                     f"{_bandwidth(fwd)} | {_kept(fwd, fwd_torch)} |")
    return lines if len(lines) > 2 else []


def _largest_size(run: dict) -> int:
    sizes = [r["size"] for r in run["results"] if r.get("median_s") and r["dtype"] == DTYPE and r["backend"] != "copy"]
    if not sizes:
        raise ValueError(f"no {DTYPE} case was timed in this run: nothing to tabulate")
    return max(sizes)


def tables(run: dict, source: str) -> str:
    """The Markdown between the markers for ``run``, read from the file ``source`` (as the README links it)."""
    size = _largest_size(run)
    found = _Run(run, size)
    machine, settings = run["machine"], run["settings"]
    isa = (machine["fastdrop"].get("cpu_isa") or "-").upper()
    threads = ", ".join(f"{backend} {count}" for backend, count in settings["threads"].items())
    on_gpu = "".join(f", {gpu}" for gpu in machine["gpus"]) if settings["device"] == "cuda" else ""
    title = f"{size_label(size)} {DTYPE}" + (f" on {settings['device']}" if settings["device"] != "cpu" else "")
    intro = (f"Measured by `fastdrop bench` on {machine['cpu_model']} ({machine['logical_cpus']} logical CPUs, "
             f"{isa}{on_gpu}), fastdrop {machine['versions']['fastdrop']} against PyTorch "
             f"{machine['versions']['torch']}, p = {settings['dropout_p']}, threads: {threads}; medians of "
             f"{settings['repeats']} rounds in which the cases took turns ([`{source}`]({source})).")
    lines = [textwrap.fill(intro, _WIDTH, break_long_words=False, break_on_hyphens=False)]
    load = max((r.get("other_load") or 0.0 for r in found.results), default=0.0)
    if load > OTHER_LOAD_WARNING:
        lines.append(f"Other processes used up to {100 * load:.0f}% of the CPUs during this run: its times are noisy.")
    for table in (_dropout_table(found, title), _variant_table(found, title)):
        if table:
            lines += [""] + table
    return "\n".join(lines)


def source_of(readme_text: str) -> str:
    """The JSON file the README's tables were generated from (as the first marker names it)."""
    match = _BEGIN_PATTERN.search(readme_text)
    if match is None or END not in readme_text:
        raise ValueError(f"the README has no performance-table markers ({BEGIN.format(path='PATH')} ... {END})")
    return match.group(1)


def rewrite(readme_text: str, run: dict, source: str) -> str:
    """The README with the text between its markers replaced by the tables of ``run``."""
    source_of(readme_text)
    start = _BEGIN_PATTERN.search(readme_text).start()
    end = readme_text.index(END, start)
    return (readme_text[:start] + BEGIN.format(path=source) + "\n" + tables(run, source) + "\n"
            + readme_text[end:])


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print("usage: python -m fastdrop.bench.readme_table RUN.json [README.md]", file=sys.stderr)
        return 2
    json_path, readme_path = args[0], args[1] if len(args) == 2 else "README.md"
    # The README links the file relative to itself.
    source = os.path.relpath(json_path, os.path.dirname(os.path.abspath(readme_path))).replace(os.sep, "/")
    with open(readme_path) as readme:
        text = readme.read()
    with open(readme_path, "w") as readme:
        readme.write(rewrite(text, results_file.load(json_path), source))
    return 0


if __name__ == "__main__":
    sys.exit(main())
