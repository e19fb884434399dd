"""Backend choice (FASTDROP_BACKEND, FASTDROP_CPU_ISA), fastdrop.backends(), and seeding."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastdrop

PROBE = (
    "import json, numpy, fastdrop;"
    "y = fastdrop.dropout(numpy.linspace(-1, 1, 1001, dtype=numpy.float32), 0.3, seed=8, offset=9);"
    "print(json.dumps({'backends': fastdrop.backends(), 'y': y.view(numpy.uint32).tolist()}))"
)


def probe(**env):
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_backends_reports_what_is_in_use():
    info = fastdrop.backends()
    assert info["active"] in info["available"]
    assert info["threads"] >= 1
    assert info["contract"] == 2
    if "native" in info["available"]:
        assert info["cpu_isa"] in info["cpu_isas_supported"]
        assert "scalar" in info["cpu_isas_supported"]
        assert isinstance(info["cuda_built"], bool) and info["cuda_devices"] >= 0


def test_forced_backends_and_isas_give_the_same_bits():
    pytest.importorskip("fastdrop._native")
    default = probe()
    assert default["backends"]["active"] == "native"
    scalar = probe(FASTDROP_CPU_ISA="scalar")
    assert scalar["backends"]["cpu_isa"] == "scalar"
    assert scalar["y"] == default["y"]
    if pytest.importorskip("importlib.util").find_spec("numba") is None:
        pytest.skip("numba is not installed")
    numba = probe(FASTDROP_BACKEND="numba")
    assert numba["backends"]["active"] == "numba"
    assert numba["y"] == default["y"]


def test_manual_seed_makes_calls_reproducible():
    x = np.ones(1000, np.float32)
    fastdrop.manual_seed(42)
    first = [fastdrop.dropout(x, 0.5) for _ in range(3)]
    fastdrop.manual_seed(42)
    second = [fastdrop.dropout(x, 0.5) for _ in range(3)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])


def test_generator_state_round_trip_and_draw():
    gen = fastdrop.Generator(7)
    assert gen.initial_seed() == 7
    assert gen.draw() == (7, 0)
    state = gen.get_state()
    assert state == (7, 1)
    x = np.ones(500, np.float32)
    a = fastdrop.dropout(x, 0.5, generator=gen)
    gen.set_state(state)
    np.testing.assert_array_equal(fastdrop.dropout(x, 0.5, generator=gen), a)
    np.testing.assert_array_equal(fastdrop.dropout(x, 0.5, seed=7, offset=1), a)
    assert gen.manual_seed(3) is gen and gen.get_state() == (3, 0)


def test_explicit_seed_is_stateless():
    gen_state = fastdrop.default_generator.get_state()
    fastdrop.dropout(np.ones(10, np.float32), 0.5, seed=1)
    assert fastdrop.default_generator.get_state() == gen_state
