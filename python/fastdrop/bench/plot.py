"""`fastdrop bench --plot PATH`: a PNG of GB/s against size, a panel per (op, direction, dtype), a
line per backend (dashed: into a preallocated output), and in every panel the copy roofline
measured in the same run. Also `python -m fastdrop.bench.plot RUN.json OUT.png` for a saved run.

matplotlib is imported here only, when a plot is asked for: fastdrop works without it.
"""

from __future__ import annotations

import math
import sys

from . import results_file
from .cases import size_label

_COLUMNS = 4


def require_matplotlib():
    """The matplotlib module, or a RuntimeError saying how to get it."""
    try:
        import matplotlib
    except ImportError as err:
        raise RuntimeError(f"--plot needs matplotlib ({err}): pip install matplotlib, "
                           "or install fastdrop with the bench extra") from None
    return matplotlib


def _panels(results: list[dict]) -> dict[tuple, dict[tuple, list[tuple[int, float]]]]:
    """(op, direction, dtype) -> (backend, mask, mode) -> [(size, GB/s)], in the run's order."""
    panels: dict = {}
    for r in results:
        if r.get("gbps") and r["backend"] != "copy":
            lines = panels.setdefault((r["op"], r["direction"], r["dtype"]), {})
            lines.setdefault((r["backend"], r["mask"], r["mode"]), []).append((r["size"], r["gbps"]))
    return panels


def _rooflines(results: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """dtype -> [(size, GB/s of the fastest copy)]."""
    best: dict = {}
    for r in results:
        if r.get("gbps") and r["backend"] == "copy":
            key = (r["dtype"], r["size"])
            best[key] = max(r["gbps"], best.get(key, 0.0))
    rooflines: dict = {}
    for (dtype, size), gbps in sorted(best.items()):
        rooflines.setdefault(dtype, []).append((size, gbps))
    return rooflines


def _draw(ax, title: str, lines: dict, roofline: list, colors: dict) -> None:
    if roofline:
        sizes, gbps = zip(*roofline)
        ax.plot(sizes, gbps, color="black", linewidth=2.5, alpha=0.35, label="copy (roofline)")
    for (backend, mask, mode), points in lines.items():
        sizes, gbps = zip(*sorted(points))
        ax.plot(sizes, gbps, marker="o", color=colors[backend, mask], linestyle="--" if mode == "out" else "-",
                label=f"{backend} {mask}" + (" (out)" if mode == "out" else ""))
    ax.set_title(title, fontsize=10)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("elements")
    ax.set_ylabel("GB/s")
    ticks = sorted({size for points in lines.values() for size, _ in points} | {s for s, _ in roofline})
    ax.set_xticks(ticks, [size_label(size) for size in ticks])
    ax.minorticks_off()
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)


def write_plot(run: dict, path: str) -> None:
    """Plot a run (as results_file.to_json gives it, or load reads it) into the PNG file ``path``."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = _panels(run["results"])
    if not panels:
        raise ValueError("nothing to plot: no case of the run was timed")
    rooflines = _rooflines(run["results"])
    # One colour per (backend, mask) in every panel; the mode is the line style.
    pairs = dict.fromkeys((backend, mask) for lines in panels.values() for backend, mask, _ in lines)
    colors = {pair: f"C{i % 10}" for i, pair in enumerate(pairs)}
    columns = min(_COLUMNS, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(4.5 * columns, 3.6 * rows), layout="constrained")
    canvas = FigureCanvasAgg(figure)  # Agg: a file, no display
    axes = list(figure.subplots(rows, columns, squeeze=False).flat)
    for ax, ((op, direction, dtype), lines) in zip(axes, panels.items()):
        _draw(ax, f"{op} {direction} {dtype}", lines, rooflines.get(dtype, []), colors)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    machine = run["machine"]
    figure.suptitle(f"fastdrop bench on {run['settings']['device']}: {machine['cpu_model']} "
                    f"({machine['logical_cpus']} logical CPUs)" + "".join(f", {gpu}" for gpu in machine["gpus"]))
    canvas.print_png(path)


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m fastdrop.bench.plot RUN.json OUT.png", file=sys.stderr)
        return 2
    write_plot(results_file.load(args[0]), args[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
