"""Gaussian dropout: native and Numba kernels against an independent float64 Box–Muller reference
(to a few ulps, docs/design.md, Randomness), bit-identical across native ISAs and thread counts, noise
statistics, the NumPy and torch front-ends (autograd, opcheck, torch.compile, saved bytes) and
errors.

Accuracy bound, for a result y of storage type T computed in compute type C (float32 for 16- and
32-bit types, float64 for float64) with unit roundoff eps_C:

    |y - y_ref| <= A ulp_T(y_ref) + 8 eps_C |x| sigma |z_ref|

with A = 4 for float32 and float64 and A = 1 for 16-bit types (the rounding to 16 bits dominates).
The second term is the few ulps of the sigma * z term that survive the cancellation in
n = 1 + sigma * z where n is close to 0, and is tiny elsewhere.
"""

import importlib
import math

import numpy as np
import pytest

import fastdrop
import reference
from fastdrop._common.arrays import kernel_dtype
from conftest import BFLOAT16, assert_compiled_matches_eager, float_dtypes, isas_and_thread_counts, random_array

GAUSSIAN_MODULES = {"native": "fastdrop._native", "numba": "fastdrop._numba.gaussian_dropout"}
P_VALUES = (0.1, 0.5, 0.99)


@pytest.fixture(params=["native", pytest.param("numba", marks=pytest.mark.skipif(
    importlib.util.find_spec("numba") is None, reason="numba is not installed"))], scope="module")
def gaussian_kernels(request):
    return importlib.import_module(GAUSSIAN_MODULES[request.param])


def native():
    return pytest.importorskip("fastdrop._native")


def reference_z(words: np.ndarray, n: int) -> np.ndarray:
    """Box–Muller in float64 with numpy's log, cos and sin: z of units 0 .. n - 1 from their words.

    The turn 2 pi u2 is split exactly into quarter turns and a rest in integers first: computing
    2 pi u2 in float64 alone would be off by up to 1e-15, thousands of float64 ulps near the zeros
    of cos and sin.
    """
    even = words[0::2].astype(np.float64)
    odd = words[1::2].astype(np.int64)
    r = np.sqrt(-2.0 * np.log((even + 1.0) * 2.0**-32))
    nearest = (odd + (1 << 29)) >> 30
    rest = (odd - (nearest << 30)) * (2.0 * np.pi / 2.0**32)
    cos_r, sin_r = np.cos(rest), np.sin(rest)
    quarter = nearest & 3
    cos_t = np.where(quarter & 1, -sin_r, cos_r)
    sin_t = np.where(quarter & 1, cos_r, sin_r)
    cos_t, sin_t = np.where(quarter & 2, -cos_t, cos_t), np.where(quarter & 2, -sin_t, sin_t)
    z = np.empty(2 * r.size)
    z[0::2], z[1::2] = r * cos_t, r * sin_t
    return z[:n]


def stream(seed: int, offset: int, n: int) -> np.ndarray:
    """Words of units 0 .. n rounded up to a pair, from the native stream (checked against the
    pure-Python reference in test_stream.py and below)."""
    words = np.empty(n + (n & 1), np.uint32)
    native().stream_words(seed, offset, 0, words)
    return words


def raw(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint16) if a.dtype == BFLOAT16 else a


def ulp(values: np.ndarray, dtype) -> np.ndarray:
    """The spacing of dtype at |values| (values rounded to dtype first)."""
    a = np.abs(values).astype(dtype)
    bits = np.dtype(f"u{a.itemsize}")
    return (a.view(bits) + 1).view(dtype).astype(np.float64) - a.astype(np.float64)


def assert_within_bound(y: np.ndarray, x: np.ndarray, z: np.ndarray, p: float, want=None):
    """y against want (default: the float64 reference x * (1 + sigma z)) within the bound above."""
    sigma = math.sqrt(p / (1 - p))
    x64 = x.astype(np.float64)
    want = x64 * (1.0 + sigma * z) if want is None else want.astype(np.float64)
    eps = 2.0**-53 if x.dtype == np.float64 else 2.0**-24
    a = 4 if x.dtype.itemsize >= 4 else 1
    bound = a * ulp(want, x.dtype) + 8 * eps * np.abs(x64) * sigma * np.abs(z)
    err = np.abs(y.astype(np.float64) - want)
    worst = int(np.argmax(err - bound))
    assert err[worst] <= bound[worst], (f"{x.dtype} p={p} element {worst}: y={y[worst]!r} want={want[worst]!r} "
                                        f"x={x[worst]!r} z={z[worst]!r}")


def run_forward(kernels, x: np.ndarray, p: float, seed: int, offset: int) -> np.ndarray:
    y = np.empty_like(x)
    kernels.gaussian_forward(kernel_dtype(x.dtype, "x"), raw(x), raw(y), p, seed, offset)
    return y


def test_stream_words_are_the_reference_stream():
    np.testing.assert_array_equal(stream(11, 12, 1001), reference.stream_words(11, 12, 1002))


@pytest.mark.parametrize("dtype", float_dtypes())
def test_kernels_within_bound_of_float64_reference(gaussian_kernels, dtype):
    n = (1 << 18) + 3
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(n) * 3).astype(dtype)
    z = reference_z(stream(5, 6, n), n)
    for p in P_VALUES:
        y = run_forward(gaussian_kernels, x, p, 5, 6)
        assert_within_bound(y, x, z, p)
        dx = np.empty_like(x)
        gaussian_kernels.gaussian_backward(kernel_dtype(x.dtype, "x"), raw(x), raw(dx), p, 5, 6)
        np.testing.assert_array_equal(raw(dx), raw(y))


@pytest.mark.parametrize("dtype", float_dtypes())
def test_numba_agrees_with_native(dtype):
    pytest.importorskip("numba")
    numba_kernels = importlib.import_module(GAUSSIAN_MODULES["numba"])
    n = 70001
    x = random_array(np.random.default_rng(2), (n,), dtype)
    z = reference_z(stream(9, 1, n), n)
    for p in (0.0, 0.3, 0.75):
        # The contract asks for a few ulps between backends (the two compute the same formulas in
        # the same order, and in practice agree to the bit).
        y_native = run_forward(native(), x, p, 9, 1)
        assert_within_bound(run_forward(numba_kernels, x, p, 9, 1), x, z, p, want=y_native)


def test_native_isas_and_thread_counts_match_scalar(native_isa, threads_restored, dtype):
    x = random_array(np.random.default_rng(3), (3 * 32768 + 11,), dtype)
    native_isa.set_cpu_isa("scalar")
    fastdrop.set_num_threads(1)
    want = run_forward(native_isa, x, 0.4, 77, 3)
    for isa, threads in isas_and_thread_counts(native_isa):
        got = run_forward(native_isa, x, 0.4, 77, 3)
        np.testing.assert_array_equal(raw(got), raw(want), err_msg=f"{isa}, {threads} threads")


def test_noise_statistics():
    n = 1 << 22
    for p in (0.2, 0.5):
        noise = fastdrop.gaussian_dropout(np.ones(n, np.float64), p, seed=123, offset=4)
        var = p / (1 - p)
        assert abs(noise.mean() - 1.0) <= 6 * math.sqrt(var / n)
        # The sample variance of normals has standard deviation var * sqrt(2 / (n - 1)).
        assert abs(noise.var() - var) <= 6 * var * math.sqrt(2 / (n - 1))
        z = (noise - 1) / math.sqrt(var)
        # The cos and sin partners of a pair, and two offsets, are uncorrelated.
        assert abs(np.mean(z[0::2] * z[1::2])) <= 6 / math.sqrt(n / 2)
        other = (fastdrop.gaussian_dropout(np.ones(n, np.float64), p, seed=123, offset=5) - 1) / math.sqrt(var)
        assert abs(np.mean(z * other)) <= 6 / math.sqrt(n)
        # Tails of a normal: P(|z| > 2) = 0.0455.
        assert abs(np.mean(np.abs(z) > 2) - 0.04550026) <= 6 * math.sqrt(0.0455 * 0.9545 / n)


def test_numpy_front_end_layouts_out_and_backward():
    x = random_array(np.random.default_rng(4), (6, 5, 4), np.float32)
    y = fastdrop.gaussian_dropout(x, 0.3, seed=8, offset=2)
    z = reference_z(stream(8, 2, x.size), x.size).reshape(x.shape)
    assert_within_bound(y.reshape(-1), x.reshape(-1), z.reshape(-1), 0.3)
    # A view gets the noise of its logical shape.
    view = np.asfortranarray(x)
    np.testing.assert_array_equal(fastdrop.gaussian_dropout(view, 0.3, seed=8, offset=2), y)
    t = x.transpose(2, 0, 1)
    np.testing.assert_array_equal(fastdrop.gaussian_dropout(t, 0.3, seed=8, offset=2),
                                  fastdrop.gaussian_dropout(t.copy(), 0.3, seed=8, offset=2))
    out = np.empty_like(x)
    assert fastdrop.gaussian_dropout(x, 0.3, seed=8, offset=2, out=out) is out
    np.testing.assert_array_equal(out, y)
    inplace = x.copy()
    fastdrop.gaussian_dropout(inplace, 0.3, seed=8, offset=2, out=inplace)
    np.testing.assert_array_equal(inplace, y)
    grad = fastdrop.gaussian_dropout_backward(np.ones_like(x), 0.3, seed=8, offset=2)
    np.testing.assert_array_equal(grad * x, y)
    # p = 0 gives x; eval returns x itself.
    np.testing.assert_array_equal(fastdrop.gaussian_dropout(x, 0.0, seed=1), x)
    assert fastdrop.gaussian_dropout(x, 0.5, training=False) is x
    # Drawn seeds: reproducible with manual_seed, fresh on every call.
    fastdrop.manual_seed(3)
    a, b = fastdrop.gaussian_dropout(x, 0.3), fastdrop.gaussian_dropout(x, 0.3)
    fastdrop.manual_seed(3)
    np.testing.assert_array_equal(fastdrop.gaussian_dropout(x, 0.3), a)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("p", [1.0, 1.5, -0.1, float("nan")])
def test_invalid_p_raises_and_leaves_out_untouched(p):
    x = np.ones(8, np.float32)
    out = np.full(8, 7.0, np.float32)
    with pytest.raises(ValueError, match=r"p: Gaussian dropout rate has to be in \[0, 1\)"):
        fastdrop.gaussian_dropout(x, p, seed=1, out=out)
    with pytest.raises(ValueError, match=r"p: Gaussian dropout rate has to be in \[0, 1\)"):
        fastdrop.gaussian_dropout_backward(x, p, seed=1, offset=0, out=out)
    for name in GAUSSIAN_MODULES.values():
        if name.endswith("numba_gaussian") and importlib.util.find_spec("numba") is None:
            continue
        with pytest.raises(ValueError, match=r"p: Gaussian dropout rate has to be in \[0, 1\)"):
            importlib.import_module(name).gaussian_forward("float32", x, out, p, 1, 0)
    np.testing.assert_array_equal(out, 7.0)


def test_other_errors():
    with pytest.raises(TypeError, match="x: expected a floating-point array"):
        fastdrop.gaussian_dropout(np.ones(4, np.int32), 0.5, seed=1)
    with pytest.raises(TypeError, match="p: expected a real number"):
        fastdrop.gaussian_dropout(np.ones(4), "0.5", seed=1)
    with pytest.raises(ValueError, match="seed= and offset= of the forward call are required"):
        fastdrop.gaussian_dropout_backward(np.ones(4), 0.5, seed=1, offset=None)
    with pytest.raises(ValueError, match="out: expected shape"):
        fastdrop.gaussian_dropout(np.ones(4), 0.5, seed=1, out=np.empty(5))
    with pytest.raises(ValueError, match="out: expected 16 bytes"):
        native().gaussian_forward("float32", np.ones(4, np.float32), np.empty(5, np.float32), 0.5, 1, 0)
    with pytest.raises(TypeError, match="dtype"):
        native().gaussian_forward("int32", np.ones(4, np.int32), np.empty(4, np.int32), 0.5, 1, 0)


# ---- torch ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def test_torch_matches_numpy_and_keeps_layout(torch):
    import fastdrop.torch as ft

    x = torch.randn(4, 6, 5, 3).to(memory_format=torch.channels_last)
    y = ft.functional.gaussian_dropout(x, 0.3, seed=5, offset=1)
    assert y.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_array_equal(y.numpy(), fastdrop.gaussian_dropout(x.numpy(), 0.3, seed=5, offset=1))
    np.testing.assert_array_equal(fastdrop.gaussian_dropout(x, 0.3, seed=5, offset=1).numpy(), y.numpy())
    for dtype in (torch.float16, torch.bfloat16):
        h = x.to(dtype)
        want = ft.functional.gaussian_dropout(h.float(), 0.3, seed=5, offset=1).to(dtype)
        got = ft.functional.gaussian_dropout(h, 0.3, seed=5, offset=1)
        # One rounding from float32 where torch's .to() rounds the float32 product: equal bits.
        assert torch.equal(got, want)
    inplace = x.clone()
    assert ft.functional.gaussian_dropout(inplace, 0.3, True, True, seed=5, offset=1) is inplace
    assert torch.equal(inplace, y)
    assert ft.functional.gaussian_dropout(x, 0.3, False) is x
    assert ft.functional.gaussian_dropout(x, 0.0) is x


def test_torch_autograd_saves_only_the_seed(torch):
    import fastdrop.torch as ft

    x = torch.randn(64, 128, requires_grad=True)
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = ft.functional.gaussian_dropout(x, 0.4)
    assert saved == [16]
    y.backward(torch.ones_like(y))
    torch.testing.assert_close(x.grad * x.detach(), y.detach(), rtol=0, atol=0)


def test_torch_gradcheck_and_opcheck(torch):
    import fastdrop.torch as ft

    x = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)

    def fn(t):
        return ft.functional.gaussian_dropout(t, 0.4, seed=1, offset=2)

    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))
    xf = torch.randn(3, 4, 5, requires_grad=True)
    torch.library.opcheck(torch.ops.fastdrop.gaussian_dropout.default, (xf, 0.3, 5, 0, False, []))
    _, saved = torch.ops.fastdrop.gaussian_dropout(xf, 0.3, 5, 0, False, [])
    grad = torch.randn(3, 4, 5, requires_grad=True)
    torch.library.opcheck(torch.ops.fastdrop.gaussian_dropout_backward.default, (grad, saved, 0.3, []))


def test_torch_compile_matches_eager(torch):
    import fastdrop.torch as ft

    def fn(t):
        return ft.functional.gaussian_dropout(t, 0.3, seed=9, offset=4) * 2

    x = torch.randn(8, 16, requires_grad=True)
    assert_compiled_matches_eager(fn, x)

    def make():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(16, 32), ft.nn.GaussianDropout(0.2), torch.nn.Linear(32, 2))

    model_e, model_c = make(), torch.compile(make(), fullgraph=True)
    torch.manual_seed(11)
    out_e = [model_e(x) for _ in range(2)]
    torch.manual_seed(11)
    out_c = [model_c(x) for _ in range(2)]
    for a, b in zip(out_c, out_e):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert not torch.equal(out_e[0], out_e[1]), "a fresh seed per call"


def test_torch_module_and_errors(torch):
    import fastdrop.torch as ft

    module = ft.nn.GaussianDropout(0.25)
    assert repr(module) == "GaussianDropout(p=0.25, inplace=False)"
    x = torch.ones(10000)
    torch.manual_seed(0)
    a = module(x)
    torch.manual_seed(0)
    assert torch.equal(module(x), a)
    assert abs(a.var().item() - 0.25 / 0.75) < 0.05
    module.eval()
    assert module(x) is x
    for p in (1.0, -0.5, float("nan")):
        with pytest.raises(ValueError, match=r"p: Gaussian dropout rate has to be in \[0, 1\)"):
            ft.nn.GaussianDropout(p)
        with pytest.raises(ValueError, match=r"p: Gaussian dropout rate has to be in \[0, 1\)"):
            ft.functional.gaussian_dropout(x, p)
    with pytest.raises(TypeError, match="input: expected a floating-point tensor"):
        ft.functional.gaussian_dropout(torch.ones(4, dtype=torch.int64), 0.5)
    assert "GaussianDropout" in ft.nn.__all__
