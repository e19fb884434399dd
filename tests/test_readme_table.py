"""The README's performance tables are generated from the committed run, never typed."""

from pathlib import Path

import pytest
from conftest import import_or_skip

from fastdrop.bench import readme_table, results_file
from fastdrop.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_tables_are_those_of_the_committed_run():
    text = README.read_text()
    source = readme_table.source_of(text)
    run = results_file.load(str(README.parent / source))
    assert text == readme_table.rewrite(text, run, source), (
        f"README.md's performance tables differ from {source}'s: run "
        f"python -m fastdrop.bench.readme_table {source}")


def test_a_schema_1_file_reads_as_cpu_results_with_the_bytes_its_masks_keep():
    source = readme_table.source_of(README.read_text())
    run = results_file.load(str(README.parent / source))
    assert run["schema"] == results_file.SCHEMA and run["settings"]["device"] == "cpu"
    kept = {(r["backend"], r["mask"], r["dtype"], r["size"]): r["kept_bytes"] for r in run["results"]}
    assert kept["native", "bits", "float32", 1 << 24] == (1 << 24) // 8
    assert kept["torch", "noise", "bfloat16", 1 << 24] == 2 << 24
    assert kept["native", "recompute", "float32", 1 << 24] == 0
    assert kept["copy", "-", "float32", 1 << 24] is None


def test_a_fresh_run_goes_through_to_a_readme(tmp_path):
    import_or_skip("torch", "torch")  # the training step and gaussian_dropout run through torch
    run_path, readme = tmp_path / "run.json", tmp_path / "README.md"
    assert main(["bench", "--quick", "--sizes", "4K", "--repeats", "1", "--dtypes", "float32",
                 "--ops", "dropout,gaussian_dropout", "--modes", "alloc,out",
                 "--json", str(run_path)]) == 0
    readme.write_text(f"# title\n\n{readme_table.BEGIN.format(path='old.json')}\nold\n{readme_table.END}\n\nafter\n")
    assert readme_table.main([str(run_path), str(readme)]) == 0
    text = readme.read_text()
    assert readme_table.source_of(text) == "run.json"
    assert text.startswith("# title\n\n") and text.endswith(f"{readme_table.END}\n\nafter\n")
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| 4K float32 | fastdrop | torch |")
    assert any(line.startswith("| training step") for line in rows)
    assert any(line.startswith("| gaussian_dropout |") for line in rows)


def test_a_readme_without_markers_is_refused():
    with pytest.raises(ValueError, match="markers"):
        readme_table.source_of("# no tables here\n")
