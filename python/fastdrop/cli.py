"""The ``fastdrop`` command: ``fastdrop info`` (backends, ISA, threads, randomness contract, CUDA) and
``fastdrop bench``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from .bench import cases as bench_cases
from .bench import compare, devices, machine, plot, report, results_file, runner, threads


def _list_of(valid: tuple[str, ...], what: str):
    """An argparse type: a comma-separated list, each item one of ``valid``."""
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(item.strip() for item in text.split(",") if item.strip())
        unknown = [item for item in items if item not in valid]
        if not items or unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(unknown) or repr(text)}: expected a comma-separated "
                f"list of {', '.join(valid)}")
        return items
    return parse


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(bench_cases.parse_size(item) for item in text.split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a count >= 1, got {value}")
    return value


def _add_bench_arguments(bench: argparse.ArgumentParser) -> None:
    c = bench_cases
    bench.add_argument("--ops", type=_list_of(c.OPS, "op"), default=c.OPS,
                       help=f"comma-separated (default {','.join(c.OPS)})")
    bench.add_argument("--backends", type=_list_of(c.BACKENDS, "backend"), default=c.BACKENDS,
                       help=f"comma-separated (default {','.join(c.BACKENDS)}); torch gives the "
                            "'vs torch' column, copy the '%% copy' one")
    bench.add_argument("--device", choices=devices.DEVICES, default="cpu",
                       help="cpu, or cuda: fastdrop's CUDA dropout against torch's (default cpu)")
    bench.add_argument("--dtypes", type=_list_of(c.DTYPES, "dtype"), default=None,
                       help=f"comma-separated (default {','.join(c.SWEEP.dtypes)} for dropout at the kernel, "
                            f"{','.join(c.ONE_SIZE.dtypes)} for the cases timed through autograd: the other ops "
                            f"and dropout's training step; {','.join(c.CUDA_SWEEP.dtypes)} on cuda)")

    def labels(sizes):
        return ",".join(map(c.size_label, sizes))

    bench.add_argument("--sizes", type=_sizes, default=None,
                       help=f"elements, comma-separated, K and M binary (default {labels(c.SWEEP.sizes)} "
                            f"for dropout at the kernel, {labels(c.ONE_SIZE.sizes)} through autograd, "
                            f"{labels(c.CUDA_SWEEP.sizes)} on cuda; with --quick {labels(c.SWEEP.quick_sizes)}, "
                            f"{labels(c.ONE_SIZE.quick_sizes)} and {labels(c.CUDA_SWEEP.quick_sizes)})")
    bench.add_argument("--directions", type=_list_of(c.DIRECTIONS, "direction"),
                       default=c.DIRECTIONS, help=f"comma-separated (default {','.join(c.DIRECTIONS)})")
    bench.add_argument("--modes", type=_list_of(c.MODES, "mode"), default=c.MODES,
                       help="alloc: a new output per call; out: into a preallocated output "
                            f"(default {','.join(c.MODES)})")
    bench.add_argument("--threads", type=_positive, default=None,
                       help="threads for fastdrop, Numba and torch alike (default: each one's own)")
    bench.add_argument("--quick", action="store_true",
                       help="small sizes and few repeats: a smoke run in under a minute")
    bench.add_argument("--repeats", type=_positive, default=None,
                       help=f"timed repeats per case (default {runner.DEFAULT_SETTINGS.repeats}, "
                            f"with --quick {runner.QUICK_SETTINGS.repeats})")
    bench.add_argument("--markdown", metavar="PATH", default=None,
                       help="also write the table and notes to PATH as Markdown")
    bench.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"), default=None,
                       help="run nothing: compare two --json files case by case")
    bench.add_argument("--json", metavar="PATH", default=None,
                       help="also write the results and machine info to PATH as JSON")
    bench.add_argument("--plot", metavar="PATH", default=None,
                       help="also plot GB/s against size per backend, with the copy roofline, to PATH "
                            "as PNG (needs matplotlib)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastdrop", description="fastdrop: fused dropout kernels")
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="version, backends, CPU ISA, threads, randomness contract, CUDA")
    info.set_defaults(handler=info_command)
    bench = commands.add_parser("bench", help="time fastdrop against torch and a plain copy")
    _add_bench_arguments(bench)
    bench.set_defaults(handler=bench_command)
    return parser


def info_command(args) -> int:
    about = machine.machine_info()
    backends = about["fastdrop"]
    versions = about["versions"]
    lines = [f"fastdrop {versions['fastdrop']}"]
    if "error" in backends:
        lines.append(f"backend:   none usable ({backends['error']})")
    else:
        lines += [
            f"backend:   {backends['active']} (available: {', '.join(backends['available'])})",
            f"cpu isa:   {backends['cpu_isa'] or '-'} "
            f"(supported: {', '.join(backends['cpu_isas_supported']) or '-'})",
            f"threads:   {backends['threads']}",
            f"contract:  v{backends['contract']} (randomness)",
            "cuda:      " + (f"built, {backends['cuda_devices']} device(s) found"
                             if backends["cuda_built"] else "not built"),
        ]
        if "native_error" in backends:
            lines.append(f"native:    does not load ({backends['native_error']})")
    for name in ("torch", "numba", "ml_dtypes", "numpy", "python"):
        lines.append(f"{name + ':':<10} {versions[name] or 'not installed'}")
    lines.append(f"cpu:       {about['cpu_model']} ({about['logical_cpus']} logical CPUs)")
    lines.append(f"gpu:       {', '.join(about['gpus']) or '-'}")
    print("\n".join(lines))
    return 0


def _header(about: dict, threads_used: dict, device: str) -> str:
    backends = about["fastdrop"]
    isa = backends.get("cpu_isa") or "-"
    used = ", ".join(f"{backend} {count}" for backend, count in threads_used.items())
    on_gpu = f" and {', '.join(about['gpus'])}" if device == "cuda" else ""
    return (f"fastdrop {about['versions']['fastdrop']} on {about['cpu_model']} "
            f"({about['logical_cpus']} logical CPUs){on_gpu}, native ISA {isa}, threads: {used or '-'}")


def _cannot_run(args) -> str | None:
    """Why the run asked for cannot start (checked before a run that may take minutes), or None."""
    if args.device != "cpu":
        reason = devices.unavailable(args.device)
        if reason is not None:
            return f"--device {args.device}: {reason}"
    if args.plot:
        try:
            plot.require_matplotlib()
        except RuntimeError as err:
            return str(err)
    return None


def bench_command(args) -> int:
    if args.compare:
        before, after = (results_file.load(path) for path in args.compare)
        print(compare.format_comparison(before, after))
        return 0
    problem = _cannot_run(args)
    if problem is not None:
        print(f"fastdrop bench: {problem}", file=sys.stderr)
        return 2
    settings = runner.QUICK_SETTINGS if args.quick else runner.DEFAULT_SETTINGS
    if args.repeats is not None:
        settings = dataclasses.replace(settings, repeats=args.repeats)
    selected = bench_cases.cases(ops=args.ops, backends=args.backends, device=args.device, dtypes=args.dtypes,
                                 sizes=args.sizes, directions=args.directions, modes=args.modes,
                                 quick=args.quick)
    used_backends = sorted({case.backend for case in selected})
    if args.threads is not None:
        threads.set_threads(args.threads, used_backends)
    threads_used = threads.threads_in_use(used_backends)
    about = machine.machine_info()

    results = runner.run(selected, settings)
    header = _header(about, threads_used, args.device)
    print(header)
    print()
    print(report.format_table(results))
    print()
    print(report.format_notes(results))
    run = results_file.to_json(results, settings, about, threads_used, args.device)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(run, out, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as out:
            out.write(report.format_markdown(results, header))
    if args.plot:
        plot.write_plot(run, args.plot)
    return 1 if any(r.error for r in results) else 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
