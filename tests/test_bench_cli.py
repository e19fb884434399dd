"""The benchmark case list, `fastdrop info` and `fastdrop bench`: small sizes, one repeat."""

import json
import subprocess
import sys

import pytest

import fastdrop
from fastdrop.bench import cases as bench_cases
from fastdrop.bench import devices, timing
from fastdrop.bench.machine import machine_info
from fastdrop.cli import main

K = 1 << 10
SMALL = bench_cases.cases(sizes=(4 * K,))
HAS_CUDA = devices.unavailable("cuda") is None


def _small_case(case_id):
    return next(case for case in bench_cases.cases(sizes=(4 * K, 64 * K)) if case.id == case_id)


@pytest.mark.parametrize("case", SMALL, ids=[case.id for case in SMALL])
def test_every_case_builds_and_runs_once(case):
    reason = case.skip_reason()
    if reason:
        pytest.skip(reason)
    case.setup().run()


def test_case_list_crosses_every_entry_with_its_dtypes_sizes_and_modes():
    ids = [case.id for case in bench_cases.CASES]
    assert len(set(ids)) == len(ids)
    cpu_entries = [entry for entry in bench_cases.ENTRIES if entry.device == "cpu"]
    expected = sum(len(e.defaults.dtypes) * len(e.defaults.sizes) * len(e.modes) for e in cpu_entries)
    copies = [case for case in bench_cases.CASES if case.backend == "copy"]
    assert len(bench_cases.CASES) == expected + len(copies)
    # Each (dtype, size, mode) group is led by its copy, the roofline of the group.
    groups = [(case.dtype, case.size, case.mode) for case in bench_cases.CASES]
    for i, case in enumerate(bench_cases.CASES):
        assert (case.backend == "copy") == (i == 0 or groups[i] != groups[i - 1])


def test_standard_dropout_sweeps_sizes_and_the_other_ops_run_at_16m_float32():
    dropout = {(c.dtype, c.size) for c in bench_cases.CASES if c.op == "dropout" and c.direction != "train"}
    sizes = (64 * K, K * K, 16 * K * K)
    assert dropout == {(dtype, size) for dtype in ("float32", "bfloat16", "float16", "float64") for size in sizes}
    # The mask bits alone: one dtype (they touch no array), every size, into a preallocated mask.
    mask_bits = {(c.backend, c.dtype, c.size, c.mode) for c in bench_cases.CASES if c.op == "mask_bits"}
    assert mask_bits == {(b, "float32", size, "out") for b in ("native", "numba") for size in sizes}
    others = {(c.op, c.dtype, c.size, c.direction) for c in bench_cases.CASES
              if c.op not in ("dropout", "mask_bits", "-")}
    ops = {op for op, _, _, _ in others}
    assert {"alpha_dropout", "feature_alpha_dropout", "dropout2d", "stochastic_depth", "gaussian_dropout",
            "bias_dropout_add", "dropconnect_linear", "locked_dropout"} <= ops
    assert others == {(op, "float32", 16 * K * K, d) for op in ops for d in ("forward", "train")}
    quick = bench_cases.cases(quick=True)
    assert max(c.size for c in quick) == K * K


def test_every_op_is_compared_with_torch_doing_the_same_work():
    by_key = {}
    for case in bench_cases.CASES:
        by_key.setdefault(case.comparison_key, set()).add(case.backend)
    for key, backends in by_key.items():
        if key[0] not in (bench_cases.NONE, *bench_cases.NO_TORCH_COUNTERPART):
            assert "torch" in backends and backends - {"torch"}, key


@pytest.mark.parametrize("case_id, expected_bytes, expected_kept", [
    # x read + y written (4 bytes each) + 1 bit of mask per element
    ("dropout-native-float32-64K-forward-out-bits", 2 * 4 * 64 * K + 64 * K // 8, 64 * K // 8),
    ("dropout-numba-bfloat16-64K-backward-alloc-recompute", 2 * 2 * 64 * K, 0),
    # grad and torch's noise read, dx written
    ("dropout-torch-bfloat16-64K-backward-out-noise", 3 * 2 * 64 * K, 2 * 64 * K),
    ("copy-float32-64K-alloc", 2 * 4 * 64 * K, None),
    # a training step: forward x, y, bits; backward grad, bits, dx
    ("dropout-native-float32-4K-train-alloc-bits", 4 * 4 * 4 * K + 2 * 4 * K // 8, 4 * K // 8),
    # torch keeps its noise: x, noise, y; then grad, noise, dx
    ("dropout-torch-float32-4K-train-alloc-noise", 6 * 4 * 4 * K, 4 * 4 * K),
    # (64, 64): x, residual read, y written, bias (64) read, one bit per element kept
    ("bias_dropout_add-native-float32-4K-forward-alloc-bits", 3 * 4 * 4 * K + 4 * 64 + 4 * K // 8, 4 * K // 8),
    # (4, 4, 16, 16): one bit per (sample, channel) kept
    ("dropout2d-native-float32-4K-forward-alloc-bits", 2 * 4 * 4 * K + 2, 2),
    # torch's noise has one element per (sample, channel)
    ("dropout2d-torch-float32-4K-forward-alloc-noise", 2 * 4 * 4 * K + 4 * 16, 4 * 16),
    # a (64, 64) weight: x, W, b read, y written; only the seed and offset kept (x and W are inputs)
    ("dropconnect_linear-native-float32-4K-forward-alloc-recompute", 3 * 4 * 4 * K + 4 * 64 + 16, 16),
    # torch keeps the noise and the masked weight
    ("dropconnect_linear-torch-float32-4K-forward-alloc-noise", 5 * 4 * 4 * K + 4 * 64, 2 * 4 * 4 * K),
])
def test_bytes_moved_and_kept(case_id, expected_bytes, expected_kept):
    case = _small_case(case_id)
    reason = case.skip_reason()
    if reason:
        pytest.skip(reason)
    workload = case.setup()
    assert (workload.bytes_moved, workload.kept_bytes) == (expected_bytes, expected_kept)


def test_a_size_an_op_cannot_take_is_skipped_with_the_reason():
    case = next(c for c in bench_cases.cases(sizes=(1000,)) if c.op == "dropout2d")
    assert "multiple of 256" in case.skip_reason()


def test_sizes_parse_and_print_with_binary_suffixes():
    assert [bench_cases.parse_size(s) for s in ("4K", "64k", "16M", "1000")] == [4096, 65536, 2**24, 1000]
    assert [bench_cases.size_label(n) for n in (4096, 2**24, 1000)] == ["4K", "16M", "1000"]
    with pytest.raises(ValueError, match="size"):
        bench_cases.parse_size("4X")


def test_info_names_version_backends_isa_threads_contract_and_cuda(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fastdrop ")
    for label in ("backend:", "cpu isa:", "threads:", "contract:", "cuda:", "torch:", "cpu:"):
        assert f"\n{label}" in out
    assert "\ncontract:  v2 (randomness)\n" in out


def test_machine_info_carries_the_backends_and_the_randomness_contract():
    # bench compare reads machine["fastdrop"]["contract"] to tell runs under different contracts apart.
    about = machine_info()
    assert about["fastdrop"] == fastdrop.backends()
    assert about["fastdrop"]["contract"] == 2


def test_bench_quick_prints_the_table_and_writes_json(capsys, tmp_path):
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--sizes", "4K", "--repeats", "1", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("op "))
    for column in ("dtype", "size", "direction", "mode", "backend", "median", "GB/s", "% copy", "vs torch"):
        assert column in header
    assert any(line.startswith("dropout") and " native " in line and " 4K " in line
               for line in out.splitlines())

    report = json.loads(path.read_text())
    assert report["schema"] == 2
    assert {"cpu_model", "logical_cpus", "gpus", "versions", "fastdrop"} <= report["machine"].keys()
    assert {"fastdrop", "torch", "numpy", "cuda"} <= report["machine"]["versions"].keys()
    assert report["machine"]["fastdrop"]["cpu_isa"]
    assert report["machine"]["fastdrop"]["contract"] == 2
    assert {"device", "repeats", "threads", "dropout_p", "copy"} <= report["settings"].keys()
    timed = [r for r in report["results"] if r["skipped"] is None]
    assert timed and all(r["error"] is None for r in report["results"])
    for r in timed:
        assert r["median_s"] > 0 and r["gbps"] > 0 and r["bytes"] > 0 and "other_load" in r
        assert r["device"] == "cpu" and (r["kept_bytes"] is None) == (r["backend"] == "copy")
    native = next(r for r in timed if r["backend"] == "native" and r["dtype"] == "float32")
    assert native["fraction_of_copy"] > 0
    torch_timed = any(r["backend"] == "torch" for r in timed)
    assert (native["speedup_vs_torch"] is not None) == torch_timed


def test_bench_writes_markdown(tmp_path):
    path = tmp_path / "bench.md"
    assert main(["bench", "--quick", "--sizes", "4K", "--repeats", "1", "--backends", "native,copy",
                 "--dtypes", "float32", "--markdown", str(path)]) == 0
    lines = path.read_text().splitlines()
    assert lines[0] == "# fastdrop bench" and lines[2].startswith("fastdrop ")
    table = [line for line in lines if line.startswith("|")]
    assert table[0].startswith("| op | dtype | size |") and set(table[1]) <= set("|-:")
    assert any("| native |" in line and "| 4K |" in line for line in table[2:])


def _run_json(medians: dict, cpu: str = "AMD EPYC", fastdrop: dict | None = None) -> dict:
    machine = {"cpu_model": cpu} if fastdrop is None else {"cpu_model": cpu, "fastdrop": fastdrop}
    return {"schema": 2, "machine": machine,
            "results": [{"id": case, "median_s": median, "fraction_of_copy": 0.5 if case == "x-native" else None}
                        for case, median in medians.items()]}


def test_compare_shows_the_change_of_each_case(tmp_path, capsys):
    before, after = tmp_path / "a.json", tmp_path / "b.json"
    before.write_text(json.dumps(_run_json({"x-native": 2e-3, "y-torch": 1e-3, "gone": 1.0})))
    after.write_text(json.dumps(_run_json({"x-native": 1e-3, "y-torch": 1.5e-3, "new": 1.0}, cpu="Other",
                                          fastdrop={"contract": 2})))
    assert main(["bench", "--compare", str(before), str(after)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["case", "before", "after", "change", "speedup", "%", "copy", "before", "%", "copy",
                              "after"]
    x = next(line for line in out if line.startswith("x-native"))
    assert x.split()[-4:] == ["-50.0%", "2.00x", "50%", "50%"]
    y = next(line for line in out if line.startswith("y-torch"))
    assert y.split()[-4:] == ["+50.0%", "0.67x", "-", "-"]
    # Runs from before the field followed contract v1.
    assert "randomness contract: v1 before, v2 after" in out
    assert "only in the first run: gone" in out and "only in the second run: new" in out
    assert any(line.startswith("note: the runs come from different CPUs") for line in out)


def test_compare_rejects_files_that_are_not_bench_results(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="not a fastdrop bench JSON file"):
        main(["bench", "--compare", str(bad), str(bad)])


@pytest.mark.skipif(HAS_CUDA, reason="CUDA is available here")
def test_bench_on_cuda_without_cuda_says_why_and_fails(capsys):
    assert main(["bench", "--device", "cuda", "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastdrop bench: --device cuda: ") and "CUDA" in err


def test_cuda_cases_are_fastdrop_against_torch_and_a_device_copy():
    selected = bench_cases.cases(device="cuda", quick=True)
    assert {c.backend for c in selected} == {"native", "torch", "copy"}
    assert {c.op for c in selected} == {"dropout", bench_cases.NONE}
    assert {c.mask for c in selected if c.backend == "native"} == {"recompute", "bits"}
    assert {c.direction for c in selected if c.backend != "copy"} == {"forward", "train"}
    assert all(c.device == "cuda" and "-cuda-" in c.id for c in selected)
    if not HAS_CUDA:
        assert all(c.skip_reason() for c in selected)


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_bench_on_cuda(tmp_path, capsys):
    path = tmp_path / "cuda.json"
    assert main(["bench", "--device", "cuda", "--quick", "--sizes", "1M", "--repeats", "2",
                 "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert report["settings"]["device"] == "cuda" and report["machine"]["gpus"]
    timed = {r["backend"] for r in report["results"] if r["median_s"]}
    assert {"torch", "copy"} <= timed
    assert all(r["error"] is None for r in report["results"])


def test_timing_waits_for_the_device_before_every_clock_read(monkeypatch):
    """The CUDA timing path, checked here without a GPU: the clock is read only once the work
    queued so far is finished, so a batch is timed to its end, not to its last launch."""
    events = []
    clock = iter(range(10**6))
    monkeypatch.setattr(timing.time, "perf_counter", lambda: events.append("clock") or next(clock) * 1e-3)
    batch = timing.calibrate(lambda: events.append("call"), lambda: events.append("sync"), 0.004)
    timing.measure_in_turns([batch], rounds=2, min_batch_s=0.004)
    assert events.count("clock") > 4
    for i, event in enumerate(events):
        if event == "clock" and events[i - 1] != "sync":
            pytest.fail(f"clock read without waiting for the device: {events[max(0, i - 3):i + 1]}")


def test_bench_rejects_an_unknown_backend(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--backends", "cuda"])
    assert "unknown backend cuda" in capsys.readouterr().err


NO_TORCH = """
import sys
sys.modules["torch"] = None      # import torch now raises ImportError, as when not installed
sys.modules["ml_dtypes"] = None
from fastdrop.cli import main
assert main(["info"]) == 0
sys.exit(main(["bench", "--quick", "--sizes", "4K", "--repeats", "1", "--backends", "native,torch,copy"]))
"""


def test_without_torch_fastdrop_runs_against_a_numpy_copy():
    done = subprocess.run([sys.executable, "-c", NO_TORCH], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "torch:     not installed" in out
    assert "torch comparison skipped" in out
    assert "numpy.copyto" in out
    assert "ml_dtypes" in out  # why the bfloat16 cases were skipped
    rows = [line.split() for line in out.splitlines() if line.startswith(("dropout ", "- "))]
    assert {row[6] for row in rows} == {"native", "copy"}
    assert {row[1] for row in rows} == {"float32", "float16", "float64"}
