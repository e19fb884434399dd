"""The benchmark case list, `fastdrop info` and `fastdrop bench`: small sizes, one repeat."""

import json
import subprocess
import sys

import pytest

from fastdrop.bench import cases as bench_cases
from fastdrop.cli import main

SMALL = bench_cases.cases(sizes=(bench_cases.parse_size("4K"),))


def _case(case_id):
    return next(case for case in bench_cases.CASES if case.id == case_id)


@pytest.mark.parametrize("case", SMALL, ids=[case.id for case in SMALL])
def test_every_case_builds_and_runs_once(case):
    reason = case.skip_reason()
    if reason:
        pytest.skip(reason)
    case.setup()()


def test_case_list_crosses_every_entry_with_every_dtype_size_and_mode():
    per_group = len(bench_cases.ENTRIES)
    groups = len(bench_cases.DTYPES) * len(bench_cases.SIZES) * len(bench_cases.MODES)
    assert len(bench_cases.CASES) == per_group * groups
    assert len({case.id for case in bench_cases.CASES}) == len(bench_cases.CASES)


@pytest.mark.parametrize("case_id, expected", [
    # x read + y written (4 bytes each) + 1 bit of mask per element
    ("dropout-native-float32-1M-forward-out-bits", 2 * 4 * 2**20 + 2**20 // 8),
    ("dropout-numba-bfloat16-64K-backward-alloc-recompute", 2 * 2 * 2**16),
    # grad and torch's noise read, dx written
    ("dropout-torch-bfloat16-64K-backward-out-noise", 3 * 2 * 2**16),
    ("copy-float32-16M-alloc", 2 * 4 * 2**24),
])
def test_bytes_moved(case_id, expected):
    assert _case(case_id).bytes_moved == expected


def test_sizes_parse_and_print_with_binary_suffixes():
    assert [bench_cases.parse_size(s) for s in ("4K", "64k", "16M", "1000")] == [4096, 65536, 2**24, 1000]
    assert [bench_cases.size_label(n) for n in (4096, 2**24, 1000)] == ["4K", "16M", "1000"]
    with pytest.raises(ValueError, match="size"):
        bench_cases.parse_size("4X")


def test_info_names_version_backends_isa_threads_and_cuda(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fastdrop ")
    for label in ("backend:", "cpu isa:", "threads:", "cuda:", "torch:", "cpu:"):
        assert f"\n{label}" in out


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
    assert {"cpu_model", "logical_cpus", "versions", "fastdrop"} <= report["machine"].keys()
    assert report["machine"]["fastdrop"]["cpu_isa"]
    assert {"repeats", "threads", "dropout_p"} <= report["settings"].keys()
    timed = [r for r in report["results"] if r["skipped"] is None]
    assert timed and all(r["error"] is None for r in report["results"])
    for r in timed:
        assert r["median_s"] > 0 and r["gbps"] > 0 and r["bytes"] > 0 and "other_load" in r
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


def _run_json(medians: dict, cpu: str = "AMD EPYC") -> dict:
    return {"machine": {"cpu_model": cpu},
            "results": [{"id": case, "median_s": median} for case, median in medians.items()]}


def test_compare_shows_the_change_of_each_case(tmp_path, capsys):
    before, after = tmp_path / "a.json", tmp_path / "b.json"
    before.write_text(json.dumps(_run_json({"x-native": 2e-3, "y-torch": 1e-3, "gone": 1.0})))
    after.write_text(json.dumps(_run_json({"x-native": 1e-3, "y-torch": 1.5e-3, "new": 1.0}, cpu="Other")))
    assert main(["bench", "--compare", str(before), str(after)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["case", "before", "after", "change", "speedup"]
    x = next(line for line in out if line.startswith("x-native"))
    assert x.split()[-2:] == ["-50.0%", "2.00x"]
    y = next(line for line in out if line.startswith("y-torch"))
    assert y.split()[-2:] == ["+50.0%", "0.67x"]
    assert "only in the first run: gone" in out and "only in the second run: new" in out
    assert any(line.startswith("note: the runs come from different CPUs") for line in out)


def test_compare_rejects_files_that_are_not_bench_results(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="not a fastdrop bench JSON file"):
        main(["bench", "--compare", str(bad), str(bad)])


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
    assert all(row[1] == "float32" for row in rows)
