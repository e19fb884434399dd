"""Every bad input of docs/design.md's list raises a clear error naming the argument, and leaves the
inputs untouched."""

import subprocess
import sys

import numpy as np
import pytest

import fastdrop


@pytest.fixture
def x():
    return np.arange(24, dtype=np.float32).reshape(4, 6)


def assert_untouched(before, *arrays):
    for old, new in zip(before, arrays):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("p", [-0.1, 1.0000001, float("nan"), float("inf"), -1])
def test_p_out_of_range(x, p):
    before = x.copy()
    with pytest.raises(ValueError, match="p: .*between 0 and 1"):
        fastdrop.dropout(x, p, seed=0)
    with pytest.raises(ValueError, match="p: "):
        fastdrop.dropout_backward(x, p, seed=0)
    assert_untouched([before], x)


@pytest.mark.parametrize("p", ["0.5", None, 0.5j, True])
def test_p_of_the_wrong_type(x, p):
    with pytest.raises(TypeError, match="p: expected a real number"):
        fastdrop.dropout(x, p, seed=0)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_, np.complex64, np.complex128, object])
def test_non_float_dtypes(dtype):
    x = np.ones(5, dtype)
    with pytest.raises(TypeError, match="x: expected a floating-point array"):
        fastdrop.dropout(x, 0.5, seed=0)
    with pytest.raises(TypeError, match="grad: expected a floating-point array"):
        fastdrop.dropout_backward(x, 0.5, seed=0)


def test_not_an_array():
    with pytest.raises(TypeError, match="x: expected a NumPy array"):
        fastdrop.dropout({"a": 1}, 0.5)


def test_out_of_the_wrong_shape_dtype_or_kind(x):
    before = x.copy()
    bad_shape = np.zeros((6, 4), np.float32)
    with pytest.raises(ValueError, match=r"out: expected shape \(4, 6\)"):
        fastdrop.dropout(x, 0.5, seed=0, out=bad_shape)
    bad_dtype = np.zeros((4, 6), np.float64)
    with pytest.raises(TypeError, match="out: expected dtype float32"):
        fastdrop.dropout(x, 0.5, seed=0, out=bad_dtype)
    readonly = np.zeros((4, 6), np.float32)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="out: must be writable"):
        fastdrop.dropout(x, 0.5, seed=0, out=readonly)
    with pytest.raises(TypeError, match="out: expected a NumPy array"):
        fastdrop.dropout(x, 0.5, seed=0, out=[0.0] * 24)
    assert_untouched([before, np.zeros((6, 4)), np.zeros((4, 6))], x, bad_shape, bad_dtype)


def test_mask_of_the_wrong_size_or_dtype(x):
    grad_before = x.copy()
    out = np.zeros_like(x)
    with pytest.raises(ValueError, match="mask: packed bits for 24 elements must be 1-D of 3 bytes"):
        fastdrop.dropout_backward(x, 0.5, mask=np.zeros(4, np.uint8), out=out)
    with pytest.raises(ValueError, match=r"mask: a bool mask must have grad's shape \(4, 6\)"):
        fastdrop.dropout_backward(x, 0.5, mask=np.ones((6, 4), np.bool_), out=out)
    with pytest.raises(TypeError, match="mask: expected a bool mask or uint8 packed bits"):
        fastdrop.dropout_backward(x, 0.5, mask=np.ones(24, np.float32), out=out)
    with pytest.raises(ValueError, match="exactly one of seed= .* or mask="):
        fastdrop.dropout_backward(x, 0.5, out=out)
    assert_untouched([grad_before, np.zeros_like(x)], x, out)


def test_bad_mask_format(x):
    with pytest.raises(ValueError, match="mask_format: expected 'bool' or 'bits'"):
        fastdrop.dropout(x, 0.5, seed=0, return_mask=True, mask_format="byte")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(seed=1.5), TypeError, "seed: expected an integer"),
        (dict(seed=2**64), ValueError, r"seed: expected an integer in \[-2\*\*63, 2\*\*64\)"),
        (dict(seed=-(2**63) - 1), ValueError, "seed: "),
        (dict(seed=1, offset="0"), TypeError, "offset: expected an integer"),
        (dict(offset=3), ValueError, "offset: an explicit offset needs an explicit seed"),
        (dict(seed=1, generator=fastdrop.Generator(0)), ValueError, "generator: pass either seed= or generator="),
        (dict(generator=123), TypeError, "generator: expected a fastdrop.Generator"),
    ],
)
def test_bad_seeds_offsets_and_generators(x, kwargs, error, message):
    before = x.copy()
    with pytest.raises(error, match=message):
        fastdrop.dropout(x, 0.5, **kwargs)
    assert_untouched([before], x)


def test_negative_seeds_wrap_like_torch():
    x = np.ones(100, np.float32)
    np.testing.assert_array_equal(fastdrop.dropout(x, 0.5, seed=-1), fastdrop.dropout(x, 0.5, seed=2**64 - 1))


def test_num_threads_must_not_be_negative():
    with pytest.raises(ValueError, match="threads: expected a count >= 0"):
        fastdrop.set_num_threads(-1)


def run_python(code, **env):
    import os

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_unknown_backend_and_isa_names_are_rejected():
    result = run_python("import fastdrop, numpy; fastdrop.dropout(numpy.ones(3), 0.5)", FASTDROP_BACKEND="cuda")
    assert "FASTDROP_BACKEND: expected 'native' or 'numba', got 'cuda'" in result.stderr
    result = run_python("import fastdrop, numpy; fastdrop.dropout(numpy.ones(3), 0.5)", FASTDROP_CPU_ISA="sse9")
    assert "FASTDROP_CPU_ISA: expected one of scalar, avx2, avx512, got 'sse9'" in result.stderr


def test_forcing_an_isa_the_cpu_lacks_is_a_clear_error():
    native = pytest.importorskip("fastdrop._native")
    missing = [isa for isa in ("avx2", "avx512") if not native.cpu_isa_supported(isa)]
    if not missing:
        pytest.skip("this CPU supports every ISA")
    result = run_python("import fastdrop, numpy; fastdrop.dropout(numpy.ones(3), 0.5)", FASTDROP_CPU_ISA=missing[0])
    assert f"FASTDROP_CPU_ISA={missing[0]}: this CPU does not support it" in result.stderr
    with pytest.raises(RuntimeError, match=f"isa: this CPU does not support {missing[0]}"):
        native.set_cpu_isa(missing[0])
