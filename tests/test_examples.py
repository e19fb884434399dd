"""The examples run end to end (shortened) and print what they promise."""

import importlib.util
import sys
from pathlib import Path

import pytest

from conftest import import_or_skip

torch = import_or_skip("torch", "torch")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_overfitting_demo(tmp_path, capsys):
    import_or_skip("matplotlib", "matplotlib")
    plot = tmp_path / "fit.png"
    losses = load("overfitting").main(["--steps", "30", "--trials", "1", "--plot", str(plot)])
    assert set(losses) == {"no dropout", "dropout p=0.5"}
    assert plot.stat().st_size > 1000 and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "test loss" in capsys.readouterr().out


def test_digits_mlp(capsys):
    import_or_skip("sklearn", "sklearn")
    results = load("digits_mlp").main(["--epochs", "2", "--width", "64"])
    for accuracy, epoch_seconds in results.values():
        assert accuracy > 0.5 and epoch_seconds > 0
    assert "epoch time ratio" in capsys.readouterr().out
