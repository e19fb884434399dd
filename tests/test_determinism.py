"""The mask is a pure function of (seed, offset, index): bit-identical across native ISAs, thread
counts and the Numba mirror, for every dtype, with and without masks."""

import importlib
import importlib.util

import numpy as np
import pytest

import fastdrop
from conftest import ISAS, random_array

N = 3 * 32768 + 1234  # several chunks, an odd tail, and above the size where threads start
P = 0.37
SEED, OFFSET = 0xDEADBEEF12345678, 99


def raw(a):
    return a.view(np.uint16) if a.dtype.name == "bfloat16" else a


def run(kernels, x, mask=True):
    """Forward, bits and bytes masks, and backward from bits, through one kernel module."""
    y = np.empty_like(x)
    bits = np.empty((x.size + 7) // 8, np.uint8) if mask else None
    keep = np.empty(x.size, np.bool_) if mask else None
    kernels.forward(x.dtype.name, raw(x), raw(y), P, SEED, OFFSET, bits, keep)
    if not mask:
        return (y,)
    dx = np.empty_like(x)
    kernels.backward_bits(x.dtype.name, raw(x), raw(dx), P, bits)
    return y, bits, keep, dx


def assert_runs_equal(a, b):
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left.view(np.uint8), right.view(np.uint8))


@pytest.fixture(scope="module")
def baseline():
    """Results of the scalar native kernels, the plainest implementation, one thread."""
    native = pytest.importorskip("fastdrop._native")
    before = native.cpu_isa()
    native.set_cpu_isa("scalar")
    native.set_num_threads(1)
    results = {}
    for dtype in ("float16", "bfloat16", "float32", "float64"):
        if dtype == "bfloat16":
            ml_dtypes = pytest.importorskip("ml_dtypes")
            np_dtype = np.dtype(ml_dtypes.bfloat16)
        else:
            np_dtype = np.dtype(dtype)
        x = random_array(np.random.default_rng(0), (N,), np_dtype)
        results[dtype] = (x, run(native, x))
    native.set_cpu_isa(before)
    native.set_num_threads(0)
    return results


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("threads", [1, 2, 8])
def test_every_isa_and_thread_count_matches_scalar(baseline, native_isa, isa, threads, threads_restored):
    if not native_isa.cpu_isa_supported(isa):
        pytest.skip(f"this CPU does not support {isa}")
    native_isa.set_cpu_isa(isa)
    native_isa.set_num_threads(threads)
    for x, want in baseline.values():
        assert_runs_equal(run(native_isa, x), want)
        assert_runs_equal(run(native_isa, x, mask=False), want[:1])


@pytest.mark.parametrize("threads", [1, 2])
def test_numba_matches_native(baseline, threads):
    if importlib.util.find_spec("numba") is None:
        pytest.skip("numba is not installed")
    numba_kernels = importlib.import_module("fastdrop._numba")
    numba_kernels.set_num_threads(threads)
    try:
        for x, want in baseline.values():
            assert_runs_equal(run(numba_kernels, x), want)
    finally:
        numba_kernels.set_num_threads(0)


def test_shapes_only_matter_through_the_row_major_index():
    x = random_array(np.random.default_rng(1), (6, 10, 7), np.float32)
    flat = fastdrop.dropout(x.reshape(-1), 0.5, seed=4, offset=5)
    np.testing.assert_array_equal(fastdrop.dropout(x, 0.5, seed=4, offset=5).reshape(-1), flat)
