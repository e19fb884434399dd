"""The kernels' _runs entry points (shards of a logical tensor), on every backend present: a slice
along any dimension computed on its own equals, bit for bit, that slice of the whole tensor's
result; the native and Numba backends give the same bits for the same sharded call; bad runs
raise ValueError and leave the output untouched. The C++ twin is tests/cpp/test_shard.cpp."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from conftest import BFLOAT16, import_or_skip, random_array

# Even shapes as the C++ test's, odd ones for runs that start anywhere within a Philox block
# (odd first units and strides) and mask bytes of runs that end mid-byte; large enough for
# several chunks per run and several threads, and small.
SHAPES = [(6, 34, 2050), (3, 17, 2049), (5, 3, 6), (3, 5, 7)]
SEED, OFFSET = 0x0123456789ABCDEF, 2**63 + 5
# Sharded function -> (unsharded twin, p); all take (dtype, in, out, p, seed, offset[, runs]).
ELEMENTWISE = {
    "forward_runs": ("forward", 0.3),
    "alpha_forward_runs": ("alpha_forward", 0.2),
    "alpha_backward_runs": ("alpha_backward", 0.2),
    "gaussian_forward_runs": ("gaussian_forward", 0.4),
    "gaussian_backward_runs": ("gaussian_backward", 0.4),
}


@functools.lru_cache(maxsize=None)
def inputs(shape, dtype):
    """x, residual and a bias of the last dimension for a shape, made once: no test writes them.
    (Read-only arrays would be another type to Numba, compiled again.)"""
    rng = np.random.default_rng(sum(shape))
    return random_array(rng, shape, dtype), random_array(rng, shape, dtype), random_array(rng, shape[-1:], dtype)


def flat_raw(a: np.ndarray) -> np.ndarray:
    """What the front-ends hand the kernels (_common.arrays.flat_raw): a flat view, bfloat16
    seen as its raw uint16 bits."""
    flat = a.reshape(-1)
    return flat.view(np.uint16) if a.dtype == BFLOAT16 else flat


def bits(a: np.ndarray) -> np.ndarray:
    return a.view(f"u{a.itemsize}")


def slices_of(shape):
    """(dim, start, length): the whole (the single run (0, n, n) along any dimension), then along
    each dimension one index, the last two, and all but the first and last (odd starts and
    lengths)."""
    found = [(0, 0, shape[0])]
    for dim, size in enumerate(shape):
        for start, length in ((1, 1), (size - 2, 2), (1, size - 2)):
            if (dim, start, length) not in found:
                found.append((dim, start, length))
    return found


def runs_of(shape, dim, start, length):
    """(first, run_length, run_stride) of the slice, as fastdrop.h defines them."""
    inner = math.prod(shape[dim + 1:])
    return start * inner, length * inner, shape[dim] * inner


def index_of(shape, dim, start, length):
    return tuple(slice(start, start + length) if d == dim else slice(None) for d in range(len(shape)))


def pairs_whole(runs):
    """Whether Gaussian dropout takes these runs: first, run_length and run_stride even."""
    return all(v % 2 == 0 for v in runs)


def shard_slices(name, shape):
    slices = slices_of(shape)
    if name.startswith("gaussian"):
        slices = [s for s in slices if pairs_whole(runs_of(shape, *s))]
    return slices


def elementwise(kernels, name, x, runs=None):
    """The sharded function `name` of x with runs, or its unsharded twin for runs None."""
    unsharded, p = ELEMENTWISE[name]
    y = np.empty_like(x)
    args = (x.dtype.name, flat_raw(x), flat_raw(y), p, SEED, OFFSET)
    if runs is None:
        getattr(kernels, unsharded)(*args)
    else:
        getattr(kernels, name)(*args, runs)
    return y


def bias_dropout_add(kernels, x, bias, residual, runs=None):
    y = np.empty_like(x)
    args = (x.dtype.name, flat_raw(x), None if bias is None else flat_raw(bias), flat_raw(residual), flat_raw(y),
            x.shape[-1], 0.3, SEED, OFFSET)
    if runs is None:
        kernels.bias_dropout_add_forward(*args)
    else:
        kernels.bias_dropout_add_forward_runs(*args, runs)
    return y


def bias_act_dropout(kernels, x, bias, activation, dy=None, runs=None):
    """The forward of bias + activation + dropout, or with dy its backward (mask regenerated)."""
    out = np.empty_like(x)
    name = "bias_act_dropout_forward" if dy is None else "bias_act_dropout_backward"
    inputs_ = (flat_raw(x),) if dy is None else (flat_raw(dy), flat_raw(x))
    args = (activation, x.dtype.name, *inputs_, None if bias is None else flat_raw(bias), flat_raw(out), x.shape[-1],
            0.3, SEED, OFFSET)
    if runs is None:
        getattr(kernels, name)(*args)
    else:
        getattr(kernels, name + "_runs")(*args, runs)
    return out


def mask_bits_runs(kernels, n, runs):
    """The keep bits of mask_bits_runs, from a buffer of 0xff bytes, one row per run."""
    run_bytes = (runs[1] + 7) // 8
    out = np.full((n // runs[1], run_bytes), 0xFF, np.uint8)
    kernels.mask_bits_runs(n, 0.3, SEED, OFFSET, runs, out)
    return out


@pytest.fixture(scope="module")
def both_backends():
    return import_or_skip("fastdrop._native", "native"), import_or_skip("fastdrop._numba", "numba")


# Gaussian dropout only on the shapes where some slice keeps Box-Muller pairs whole.
ELEMENTWISE_CASES = [pytest.param(name, shape, id=f"{name}-{shape}")
                     for name in ELEMENTWISE for shape in SHAPES if shard_slices(name, shape)]


@pytest.mark.parametrize(("name", "shape"), ELEMENTWISE_CASES)
def test_elementwise_shards_are_slices_of_the_whole(kernels, dtype, name, shape):
    x = inputs(shape, dtype)[0]
    whole = elementwise(kernels, name, x)
    for dim, start, length in shard_slices(name, shape):
        index = index_of(shape, dim, start, length)
        local = elementwise(kernels, name, np.ascontiguousarray(x[index]), runs_of(shape, dim, start, length))
        np.testing.assert_array_equal(bits(local), bits(whole[index]), err_msg=f"{name} dim={dim} start={start}")


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no_bias"])
def test_bias_dropout_add_shards_are_slices_of_the_whole(kernels, dtype, shape, with_bias):
    x, residual, bias = inputs(shape, dtype)
    bias = bias if with_bias else None
    whole = bias_dropout_add(kernels, x, bias, residual)
    last = len(shape) - 1
    for dim, start, length in slices_of(shape):
        index = index_of(shape, dim, start, length)
        # A shard holds its own columns' bias values.
        local_bias = bias[start:start + length] if bias is not None and dim == last else bias
        local = bias_dropout_add(kernels, np.ascontiguousarray(x[index]), local_bias,
                                 np.ascontiguousarray(residual[index]), runs_of(shape, dim, start, length))
        np.testing.assert_array_equal(bits(local), bits(whole[index]), err_msg=f"dim={dim} start={start}")


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("activation", ["relu", "gelu", "gelu_tanh"])
def test_bias_act_dropout_shards_are_slices_of_the_whole(kernels, dtype, shape, activation):
    x, dy, bias = inputs(shape, dtype)
    whole = bias_act_dropout(kernels, x, bias, activation)
    whole_grad = bias_act_dropout(kernels, x, bias, activation, dy)
    last = len(shape) - 1
    for dim, start, length in slices_of(shape):
        index = index_of(shape, dim, start, length)
        runs = runs_of(shape, dim, start, length)
        local, local_dy = np.ascontiguousarray(x[index]), np.ascontiguousarray(dy[index])
        # A shard holds its own columns' bias values.
        local_bias = bias[start:start + length] if dim == last else bias
        where = f"dim={dim} start={start}"
        np.testing.assert_array_equal(bits(bias_act_dropout(kernels, local, local_bias, activation, runs=runs)),
                                      bits(whole[index]), err_msg=where)
        np.testing.assert_array_equal(bits(bias_act_dropout(kernels, local, local_bias, activation, local_dy, runs)),
                                      bits(whole_grad[index]), err_msg=f"backward {where}")


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_mask_bits_of_shards_are_the_units_bits(kernels, shape):
    n = math.prod(shape)
    whole_bits = np.empty((n + 7) // 8, np.uint8)
    kernels.mask_bits(n, 0.3, SEED, OFFSET, whole_bits)
    whole = np.unpackbits(whole_bits, count=n, bitorder="little").reshape(shape)
    for dim, start, length in slices_of(shape):
        runs = runs_of(shape, dim, start, length)
        local_n = n // shape[dim] * length
        got = np.unpackbits(mask_bits_runs(kernels, local_n, runs), axis=1, bitorder="little")
        want = whole[index_of(shape, dim, start, length)].reshape(-1, runs[1])
        np.testing.assert_array_equal(got[:, :runs[1]], want, err_msg=f"dim={dim} start={start}")
        assert not got[:, runs[1]:].any(), "bits past a run's end must be 0"


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_native_and_numba_shards_are_identical(both_backends, dtype, shape):
    native, numba = both_backends
    x, residual, bias = inputs(shape, dtype)
    n = math.prod(shape)
    for dim, start, length in slices_of(shape)[1:]:
        runs = runs_of(shape, dim, start, length)
        index = index_of(shape, dim, start, length)
        local, local_residual = np.ascontiguousarray(x[index]), np.ascontiguousarray(residual[index])
        local_bias = bias[start:start + length] if dim == len(shape) - 1 else bias
        where = f"dim={dim} start={start}"
        for name in ELEMENTWISE:
            if name.startswith("gaussian") and not pairs_whole(runs):
                continue
            np.testing.assert_array_equal(bits(elementwise(numba, name, local, runs)),
                                          bits(elementwise(native, name, local, runs)), err_msg=f"{name} {where}")
        np.testing.assert_array_equal(bits(bias_dropout_add(numba, local, local_bias, local_residual, runs)),
                                      bits(bias_dropout_add(native, local, local_bias, local_residual, runs)),
                                      err_msg=f"bias_dropout_add {where}")
        for dy in (None, local_residual):
            np.testing.assert_array_equal(bits(bias_act_dropout(numba, local, local_bias, "gelu", dy, runs)),
                                          bits(bias_act_dropout(native, local, local_bias, "gelu", dy, runs)),
                                          err_msg=f"bias_act_dropout backward={dy is not None} {where}")
        local_n = n // shape[dim] * length
        np.testing.assert_array_equal(mask_bits_runs(numba, local_n, runs), mask_bits_runs(native, local_n, runs),
                                      err_msg=f"mask_bits {where}")


# Runs refused for 12 elements: run_length not dividing n, zero or negative.
BAD_RUNS = [(0, 5, 10), (0, 0, 0), (0, -12, 12)]
# Runs that split a Box-Muller pair: an odd first, run_length or run_stride.
SPLIT_PAIRS = [(1, 4, 8), (0, 3, 6), (0, 4, 7)]


def sharded_calls(kernels, runs):
    """Every _runs function called on 12 float32 elements with runs: (name, call, out)."""
    x = np.arange(12, dtype=np.float32)
    calls = []
    for name in ELEMENTWISE:
        out = np.full(12, -1.0, np.float32)
        calls.append((name, lambda name=name, out=out: getattr(kernels, name)("float32", x, out, 0.3, 1, 2, runs),
                      out))
    out = np.full(12, -1.0, np.float32)
    calls.append(("bias_dropout_add_forward_runs", lambda out=out: kernels.bias_dropout_add_forward_runs(
        "float32", x, x[:4], x, out, 4, 0.3, 1, 2, runs), out))
    for name in ("bias_act_dropout_forward_runs", "bias_act_dropout_backward_runs"):
        out = np.full(12, -1.0, np.float32)
        arrays = (x, x[:4], out) if name.endswith("forward_runs") else (x, x, x[:4], out)
        calls.append((name, lambda name=name, arrays=arrays: getattr(kernels, name)(
            "gelu", "float32", *arrays, 4, 0.3, 1, 2, runs), out))
    out = np.full(3, 0xFF, np.uint8)
    calls.append(("mask_bits_runs", lambda out=out: kernels.mask_bits_runs(12, 0.3, 1, 2, runs, out), out))
    return calls


@pytest.mark.parametrize("runs", BAD_RUNS, ids=str)
def test_bad_runs_raise_and_leave_out_untouched(kernels, runs):
    for name, call, out in sharded_calls(kernels, runs):
        before = out.copy()
        with pytest.raises(ValueError):
            call()
        np.testing.assert_array_equal(out, before, err_msg=name)


@pytest.mark.parametrize("runs", SPLIT_PAIRS, ids=str)
def test_gaussian_runs_splitting_pairs_raise(kernels, runs):
    for name, call, out in sharded_calls(kernels, runs):
        if not name.startswith("gaussian"):
            continue
        before = out.copy()
        with pytest.raises(ValueError):
            call()
        np.testing.assert_array_equal(out, before, err_msg=name)


def test_mask_bits_runs_checks_its_buffer(kernels):
    # 3 runs of 4 units: one byte each, whole bytes per run (the unsharded size would be 2).
    for size in (2, 4):
        with pytest.raises(ValueError):
            kernels.mask_bits_runs(12, 0.3, 1, 2, (0, 4, 8), np.zeros(size, np.uint8))


def test_no_elements(kernels):
    empty = np.zeros(0, np.float32)
    for name in ELEMENTWISE:
        getattr(kernels, name)("float32", empty, empty, 0.3, 1, 2, (0, 0, 0))
    kernels.bias_dropout_add_forward_runs("float32", empty, None, empty, empty, 4, 0.3, 1, 2, (0, 0, 0))
    kernels.mask_bits_runs(0, 0.3, 1, 2, (0, 0, 0), np.zeros(0, np.uint8))
