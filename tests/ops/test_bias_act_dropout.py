"""Fused bias + activation + dropout: relu bit for bit against its NumPy composition driven by the
reference mask, gelu within the stated ulp bounds of torch's gelu, every result bit-identical
across backends, ISAs and thread counts; backward against torch autograd; gradcheck; compile;
modules; statistics; errors."""

import math

import numpy as np
import pytest

import fastdrop
import reference
from conftest import BFLOAT16, ISAS, import_or_skip, random_array

# (activation, approximate) as torch names them, and the kernels' name.
ACTIVATIONS = {("relu", "none"): "relu", ("gelu", "none"): "gelu", ("gelu", "tanh"): "gelu_tanh"}
# math/bias_act_dropout.h's float32 bounds, against gelu's exact value at the float32 v = x + b (measured
# over every float32 |v| < 20): exact gelu for v > -13, where Phi(v) is a normal float; the tanh
# form plus the error of its tanh argument u, which PyTorch computes the same way and which the
# result amplifies 2 |u| times for u < 0.
GELU_MAX_ULP = 7.0
GELU_TANH_MAX_ULP = 4.0
GELU_TANH_ULP_PER_ABS_U = 7.0
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def raw(a):
    return a.view(np.uint16) if a.dtype.name == "bfloat16" else a


def scale_of(p, compute):
    return compute(1.0 / (1.0 - p)) if p < 1 else compute(0)


def relu_composition(x, bias, keep, p):
    """np.where(keep, np.maximum(x + b, 0) * s, 0) in the compute type, rounded once."""
    compute = reference.compute_type(x.dtype)
    b = reference.to_compute(bias) if bias is not None else compute(0)
    v = reference.to_compute(x) + b
    values = np.where(keep, np.maximum(v, compute(0)) * scale_of(p, compute), compute(0)).astype(compute)
    return reference.from_compute(values, x.dtype)


def run_forward(kernels, activation, x, bias, p, seed, offset):
    y = np.empty_like(x)
    bits = np.empty((x.size + 7) // 8, np.uint8)
    kernels.bias_act_dropout_forward(activation, x.dtype.name, raw(x.reshape(-1)),
                                     None if bias is None else raw(bias), raw(y.reshape(-1)), x.shape[-1], p, seed,
                                     offset, bits)
    return y, bits


def run_backward(kernels, activation, grad, x, bias, p, seed, offset, bits=None):
    dx = np.empty_like(x)
    kernels.bias_act_dropout_backward(activation, x.dtype.name, raw(grad.reshape(-1)), raw(x.reshape(-1)),
                                      None if bias is None else raw(bias), raw(dx.reshape(-1)), x.shape[-1], p,
                                      seed, offset, mask_bits=bits)
    return dx


@pytest.mark.parametrize("shape", [(1,), (7, 3), (5, 96), (3, 4, 1000), (0, 5), (2, 0), (3, 65536 + 13)])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_relu_kernels_match_composition(kernels, dtype, shape, with_bias, p):
    rng = np.random.default_rng(sum(shape))
    x, grad = random_array(rng, shape, dtype), random_array(rng, shape, dtype)
    bias = random_array(rng, shape[-1:], dtype) if with_bias else None
    y, bits = run_forward(kernels, "relu", x, bias, p, 4, 5)
    keep = reference.keep_mask(shape, p, 4, 5)
    np.testing.assert_array_equal(raw(y), raw(relu_composition(x, bias, keep, p)))
    np.testing.assert_array_equal(bits, np.packbits(keep.reshape(-1), bitorder="little"))
    # Backward: keep ? (v > 0 ? grad * s : 0) : 0, from the bits and from (seed, offset).
    compute = reference.compute_type(dtype)
    v = reference.to_compute(x) + (reference.to_compute(bias) if bias is not None else compute(0))
    want = reference.from_compute(np.where(keep & (v > 0), reference.to_compute(grad) * scale_of(p, compute),
                                           compute(0)).astype(compute), dtype)
    for dx in (run_backward(kernels, "relu", grad, x, bias, p, 0, 0, bits),
               run_backward(kernels, "relu", grad, x, bias, p, 4, 5)):
        np.testing.assert_array_equal(raw(dx), raw(want))


def assert_same_bits(got, want, message):
    """The same bits, but for NaNs, which need only be NaNs: compilers may order the operations of
    a NaN differently, and that decides its sign and payload."""
    nan = np.isnan(want.astype(np.float32))
    np.testing.assert_array_equal(np.isnan(got.astype(np.float32)), nan, err_msg=message)
    np.testing.assert_array_equal(raw(got)[~nan], raw(want)[~nan], err_msg=message)


def test_gelu_bit_identical_across_backends_isas_and_threads(dtype, native_isa, threads_restored):
    """Every activation and dtype: Numba and every ISA and thread count give native's bits."""
    numba_kernels = import_or_skip("fastdrop._numba", "numba")
    rng = np.random.default_rng(7)
    shape = (5, 7001)  # more than one chunk, odd rows
    x, grad = random_array(rng, shape, dtype), random_array(rng, shape, dtype)
    x.reshape(-1)[:5] = np.array([np.nan, np.inf, -np.inf, 0.0, -30.0], np.float32).astype(dtype)
    bias = random_array(rng, shape[-1:], dtype)
    for activation in ACTIVATIONS.values():
        want_y, want_bits = run_forward(native_isa, activation, x, bias, 0.3, 11, 12)
        want_dx = run_backward(native_isa, activation, grad, x, bias, 0.3, 11, 12)
        runs = [(numba_kernels, 0)] + [(native_isa, (isa, threads)) for isa in ISAS
                                       if native_isa.cpu_isa_supported(isa) for threads in (1, 2, 3)]
        for kernels, setting in runs:
            if setting:
                native_isa.set_cpu_isa(setting[0])
            fastdrop.set_num_threads(setting[1] if setting else 2)
            y, bits = run_forward(kernels, activation, x, bias, 0.3, 11, 12)
            dx = run_backward(kernels, activation, grad, x, bias, 0.3, 11, 12)
            dx_bits = run_backward(kernels, activation, grad, x, bias, 0.3, 0, 0, bits)
            message = f"{activation} {kernels.__name__} {setting}"
            np.testing.assert_array_equal(bits, want_bits, err_msg=message)
            for got, want in ((y, want_y), (dx, want_dx), (dx_bits, want_dx)):
                assert_same_bits(got, want, message)


def ulps(got, want):
    """|got - want| in float32 ulps of want (got float32, want float64)."""
    return np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)


def allowed_ulps(v, approximate):
    """The stated float32 error bound of gelu at each v."""
    if approximate == "none":
        return np.full(v.shape, GELU_MAX_ULP)
    v = v.astype(np.float64)
    u = SQRT_2_OVER_PI * (v + 0.044715 * v ** 3)
    return GELU_TANH_MAX_ULP + GELU_TANH_ULP_PER_ABS_U * np.maximum(-u, 0)


class TestAgainstTorch:
    @pytest.fixture(autouse=True)
    def _torch(self):
        self.torch = import_or_skip("torch", "torch")
        import fastdrop.torch as ft

        self.ft = ft

    def exact(self, v, approximate):
        """gelu at float64 v by torch, in a form accurate over the whole range: F.gelu's own
        0.5 (1 + erf) and 1 + tanh lose all digits to cancellation in float64 below v = -8."""
        torch = self.torch
        t = torch.from_numpy(v).double()
        if approximate == "none":
            return (t * 0.5 * torch.special.erfc(-t / math.sqrt(2))).numpy()
        return (t * torch.sigmoid(2 * SQRT_2_OVER_PI * (t + 0.044715 * t ** 3))).numpy()

    @pytest.mark.parametrize("approximate", ["none", "tanh"])
    def test_gelu_within_stated_ulps(self, kernels, approximate):
        F = self.torch.nn.functional
        grid = np.linspace(-13, 10, 200_001, dtype=np.float32)
        tiny = np.float32(10) ** np.linspace(-30, 0, 3001, dtype=np.float32)
        v = np.concatenate([grid, tiny, -tiny])
        y, _ = run_forward(kernels, ACTIVATIONS[("gelu", approximate)], v, None, 0.0, 0, 0)
        exact = self.exact(v, approximate)
        # The reference is torch's gelu wherever torch's float64 gelu is accurate (to 1e-10 at v = -5).
        moderate = v > -5
        np.testing.assert_allclose(exact[moderate], F.gelu(self.torch.from_numpy(v[moderate]).double(),
                                                           approximate=approximate).numpy(), rtol=1e-9, atol=0)
        normal = np.abs(exact) > np.finfo(np.float32).tiny
        assert (ulps(y, exact) <= allowed_ulps(v, approximate))[normal].all()

    @pytest.mark.parametrize("approximate", ["none", "tanh"])
    def test_gelu_dropout_matches_torch_composition(self, dtype, approximate):
        """y = where(keep, F.gelu(x + b) * s, 0) with the reference mask, torch's in float64 (for
        |x + b| <= 4.5, where F.gelu is accurate in float64): float32 within the stated bound plus
        an ulp for the scale, 16-bit results within one unit of their format."""
        torch, F = self.torch, self.torch.nn.functional
        rng = np.random.default_rng(3)
        x = np.clip(rng.standard_normal((64, 33)) * 1.5, -3, 3).astype(np.float32).astype(dtype)
        bias = np.clip(rng.standard_normal(33), -1.5, 1.5).astype(np.float32).astype(dtype)
        y = fastdrop.bias_act_dropout(x, bias, 0.3, activation="gelu", approximate=approximate, seed=8, offset=9)
        keep = reference.keep_mask(x.shape, 0.3, 8, 9)
        v = reference.to_compute(x) + reference.to_compute(bias)
        scale = float(scale_of(0.3, reference.compute_type(dtype)))
        want = np.where(keep, F.gelu(torch.from_numpy(v).double(), approximate=approximate).numpy() * scale, 0)
        got = reference.to_compute(y).astype(np.float64)
        assert (got[~keep] == 0).all()
        if dtype == np.float64:
            # F.gelu's own cancellation costs it up to 1e-11 relative at v = -4.5.
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=0)
        elif dtype == np.float32:
            assert (ulps(got[keep].astype(np.float32), want[keep]) <= allowed_ulps(v[keep], approximate) + 1).all()
        else:
            nearest = np.abs(reference.from_compute(want.astype(np.float32), dtype))
            unit = np.maximum(np.spacing(nearest), np.spacing(np.abs(y))).astype(np.float64)
            assert (np.abs(got - want) <= unit).all()

    @pytest.mark.parametrize("activation, approximate", list(ACTIVATIONS))
    @pytest.mark.parametrize("torch_dtype", ["float32", "float64"])
    def test_backward_matches_torch_autograd(self, activation, approximate, torch_dtype):
        torch, ft, F = self.torch, self.ft, self.torch.nn.functional
        dt = getattr(torch, torch_dtype)
        x = (torch.randn(16, 37, dtype=dt) * 3).requires_grad_()
        bias = torch.randn(37, dtype=dt, requires_grad=True)
        y = ft.functional.bias_act_dropout(x, bias, 0.25, activation=activation, approximate=approximate, seed=9)
        keep = torch.from_numpy(reference.keep_mask((16, 37), 0.25, 9, 0))
        act = torch.relu if activation == "relu" else (lambda v: F.gelu(v, approximate=approximate))
        want = torch.where(keep, act(x + bias) * torch.tensor(1 / 0.75, dtype=dt), 0)
        grad = torch.randn(16, 37, dtype=dt)
        got_x, got_b = torch.autograd.grad(y, (x, bias), grad)
        want_x, want_b = torch.autograd.grad(want, (x, bias), grad)
        if activation == "relu":
            assert torch.equal(got_x, want_x)
        tolerance = dict(rtol=1e-12, atol=1e-12) if dt == torch.float64 else dict(rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(got_x, want_x, **tolerance)
        torch.testing.assert_close(got_b, want_b, **tolerance)
        # The NumPy backward gives the same, from the mask bits or from (seed, offset).
        _, bits = fastdrop.bias_act_dropout(x.detach().numpy(), bias.detach().numpy(), 0.25, activation=activation,
                                            approximate=approximate, seed=9, return_mask=True)
        for kwargs in (dict(mask=bits), dict(seed=9)):
            dx, db = fastdrop.bias_act_dropout_backward(grad.numpy(), x.detach().numpy(), bias.detach().numpy(), 0.25,
                                                        activation=activation, approximate=approximate, **kwargs)
            np.testing.assert_array_equal(dx, got_x.numpy())
            np.testing.assert_array_equal(db, got_b.numpy())

    def test_bias_gradient_does_not_depend_on_the_thread_count(self, threads_restored):
        """Column sums in float64 in a fixed order: torch's own sum of a tall, narrow gradient
        changes with its thread count."""
        torch, ft = self.torch, self.ft
        x = torch.randn(1 << 18, 2, generator=torch.Generator().manual_seed(0))
        grads = []
        before = torch.get_num_threads()
        try:
            for threads in (1, 2, 3):
                torch.set_num_threads(threads)
                fastdrop.set_num_threads(threads)
                bias = torch.zeros(2, requires_grad=True)
                ft.functional.bias_act_dropout(x, bias, 0.5, activation="gelu", seed=1).sum().backward()
                grads.append(bias.grad)
        finally:
            torch.set_num_threads(before)
        assert all(torch.equal(grads[0], g) for g in grads[1:])
        torch.library.opcheck(torch.ops.fastdrop.bias_gradient.default, (torch.randn(4, 5, dtype=torch.float64),))

    @pytest.mark.parametrize("activation, approximate", list(ACTIVATIONS))
    def test_gradcheck_gradgradcheck_and_opcheck(self, activation, approximate):
        torch, ft = self.torch, self.ft
        x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
        bias = torch.randn(5, dtype=torch.float64, requires_grad=True)

        def f(x, bias):
            return ft.functional.bias_act_dropout(x, bias, 0.3, activation=activation, approximate=approximate,
                                                  seed=1)

        assert torch.autograd.gradcheck(f, (x, bias))
        assert torch.autograd.gradgradcheck(f, (x, bias))
        assert torch.autograd.gradcheck(lambda x: f(x, None), (x,))
        kernel = ACTIVATIONS[(activation, approximate)]
        torch.library.opcheck(torch.ops.fastdrop.bias_act_dropout.default,
                              (x.float(), bias.float(), 0.3, 1, 0, False, kernel))
        bits = torch.from_numpy(np.packbits(reference.keep_mask((4, 5), 0.3, 1, 0).reshape(-1), bitorder="little"))
        torch.library.opcheck(torch.ops.fastdrop.bias_act_dropout_backward.default,
                              (torch.randn(4, 5), x.float(), bias.float(), bits, 0.3, kernel))

    def test_compiled_matches_eager(self):
        torch, ft = self.torch, self.ft

        def block(x, b):
            return ft.functional.bias_act_dropout(x, b, 0.5, activation="gelu", approximate="tanh")

        x = torch.randn(16, 64, requires_grad=True)
        b = torch.randn(64, requires_grad=True)
        results = []
        # No compile caches: their keys leave out the Python of a custom op's registered autograd,
        # so a graph compiled with an older formula (another checkout's) would be reused.
        with torch._inductor.config.patch(fx_graph_cache=False), \
                torch._functorch.config.patch(enable_autograd_cache=False):
            for fn in (block, torch.compile(block, fullgraph=True)):
                torch.manual_seed(4)
                y = fn(x, b)
                results.append((y, *torch.autograd.grad(y.sum(), (x, b))))
        for eager, compiled in zip(*results):
            assert torch.equal(eager, compiled)

    def test_memory_format_seeds_and_numpy_agree(self):
        torch, ft = self.torch, self.ft
        x = torch.randn(2, 3, 4, 5).to(memory_format=torch.channels_last)
        b = torch.randn(5)
        y = ft.functional.bias_act_dropout(x, b, 0.5, activation="gelu", seed=6)
        assert y.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(y, ft.functional.bias_act_dropout(x.contiguous(), b, 0.5, activation="gelu", seed=6))
        np.testing.assert_array_equal(y.numpy(), fastdrop.bias_act_dropout(x.numpy(), b.numpy(), 0.5,
                                                                           activation="gelu", seed=6))
        torch.manual_seed(1)
        first = fastdrop.bias_act_dropout(x, b, 0.5)
        torch.manual_seed(1)
        assert torch.equal(first, fastdrop.bias_act_dropout(x, b, 0.5))

    def test_module(self):
        torch, ft = self.torch, self.ft
        module = ft.nn.BiasActDropout(6, 0.2, "gelu", "tanh")
        assert repr(module) == "BiasActDropout(features=6, p=0.2, activation='gelu', approximate='tanh')"
        assert repr(ft.nn.BiasActDropout(6)) == "BiasActDropout(features=6, p=0.5, activation='relu')"
        assert [name for name, _ in module.named_parameters()] == ["bias"]
        with torch.no_grad():
            module.bias.uniform_()
        x = torch.randn(3, 6)
        module(x).sum().backward()
        assert module.bias.grad.shape == (6,)
        module.eval()
        want = ft.functional.bias_act_dropout(x, module.bias, 0.0, activation="gelu", approximate="tanh", seed=0)
        assert torch.equal(module(x), want)
        torch.testing.assert_close(module(x), torch.nn.functional.gelu(x + module.bias, approximate="tanh"))
        with pytest.raises(ValueError, match="p: dropout probability"):
            ft.nn.BiasActDropout(6, 1.5)
        with pytest.raises(ValueError, match="activation: expected 'relu' or 'gelu'"):
            ft.nn.BiasActDropout(6, activation="swish")

    def test_errors_name_the_argument(self):
        torch, ft = self.torch, self.ft
        x, b = torch.ones(2, 3), torch.ones(3)
        f = ft.functional.bias_act_dropout
        with pytest.raises(ValueError, match="p: dropout probability"):
            f(x, b, float("nan"))
        with pytest.raises(ValueError, match=r"bias: expected shape \(3,\)"):
            f(x, torch.ones(2), 0.5)
        with pytest.raises(ValueError, match="approximate: expected 'none' or 'tanh'"):
            f(x, b, 0.5, activation="gelu", approximate="erf")
        with pytest.raises(TypeError, match="input: expected a floating-point tensor"):
            f(torch.ones(2, 3, dtype=torch.int32), None, 0.5)
        with pytest.raises(TypeError, match="bias: expected a torch.Tensor"):
            f(x, [1.0, 2.0, 3.0], 0.5)
        with pytest.raises(TypeError, match="return_mask"):
            fastdrop.bias_act_dropout(x, b, 0.5, return_mask=True)


def test_numpy_front_end_eval_out_and_strided_views():
    rng = np.random.default_rng(0)
    x, bias = rng.standard_normal((6, 10)).astype(np.float32), rng.standard_normal(10).astype(np.float32)
    y, bits = fastdrop.bias_act_dropout(x, bias, 0.4, seed=2, offset=3, return_mask=True)
    keep = reference.keep_mask(x.shape, 0.4, 2, 3)
    np.testing.assert_array_equal(y, relu_composition(x, bias, keep, 0.4))
    np.testing.assert_array_equal(bits, np.packbits(keep.reshape(-1), bitorder="little"))
    # Eval mode: act(x + bias), the kernel with p = 0.
    np.testing.assert_array_equal(fastdrop.bias_act_dropout(x, bias, 0.4, training=False), np.maximum(x + bias, 0))
    gelu = fastdrop.bias_act_dropout(x, None, 0.4, activation="gelu", training=False)
    np.testing.assert_array_equal(gelu, fastdrop.bias_act_dropout(x, None, 0.0, activation="gelu", seed=1))
    # out=, in place, and views: a transposed or strided x gets the mask of its logical shape.
    out = np.empty_like(x)
    assert fastdrop.bias_act_dropout(x, bias, 0.4, seed=2, offset=3, out=out) is out
    np.testing.assert_array_equal(out, y)
    inplace = x.copy()
    fastdrop.bias_act_dropout(inplace, bias, 0.4, seed=2, offset=3, out=inplace)
    np.testing.assert_array_equal(inplace, y)
    wide = rng.standard_normal((10, 12)).astype(np.float32)
    for view in (wide.T, wide[:, ::2], wide[::2, 1:]):
        b = rng.standard_normal(view.shape[-1]).astype(np.float32)
        got = fastdrop.bias_act_dropout(view, b, 0.5, activation="gelu", seed=5)
        np.testing.assert_array_equal(got, fastdrop.bias_act_dropout(np.ascontiguousarray(view), b, 0.5,
                                                                     activation="gelu", seed=5))
    # Bias gradient: the column sums of dx, over every leading dimension.
    x3 = rng.standard_normal((2, 3, 4)).astype(np.float32)
    dx, db = fastdrop.bias_act_dropout_backward(np.ones_like(x3), x3, np.zeros(4, np.float32), 0.5, seed=1)
    np.testing.assert_allclose(db, dx.sum(axis=(0, 1)), rtol=1e-6)
    assert fastdrop.bias_act_dropout_backward(np.ones_like(x3), x3, None, 0.5, seed=1)[1] is None


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_kept_fraction(p):
    n = 1 << 20
    _, bits = fastdrop.bias_act_dropout(np.ones((1024, n // 1024), np.float32), None, p, activation="gelu", seed=3,
                                        return_mask=True)
    kept = np.unpackbits(bits, bitorder="little").sum() / n
    assert abs(kept - (1 - p)) < 5 * math.sqrt(p * (1 - p) / n)


def test_numpy_errors_name_the_argument_and_leave_inputs_untouched():
    x, b = np.ones((2, 3), np.float32), np.ones(3, np.float32)
    f = fastdrop.bias_act_dropout
    for p in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="p: dropout probability"):
            f(x, b, p)
    with pytest.raises(ValueError, match=r"bias: expected shape \(3,\) \(x's last dimension\)"):
        f(x, np.ones(2, np.float32), 0.5)
    with pytest.raises(TypeError, match="bias: expected dtype float32"):
        f(x, np.ones(3), 0.5)
    with pytest.raises(ValueError, match="activation: expected 'relu' or 'gelu', got 'tanh'"):
        f(x, b, 0.5, activation="tanh")
    with pytest.raises(ValueError, match="approximate: expected 'none' or 'tanh', got 'fast'"):
        f(x, b, 0.5, activation="gelu", approximate="fast")
    with pytest.raises(ValueError, match="approximate: only activation='gelu' takes one"):
        f(x, b, 0.5, approximate="tanh")
    with pytest.raises(TypeError, match="x: expected a floating-point array"):
        f(np.ones((2, 3), np.int32), None, 0.5)
    with pytest.raises(ValueError, match="x: expected at least 1 dimension"):
        f(np.float32(1.0), None, 0.5)
    with pytest.raises(ValueError, match=r"out: expected shape \(2, 3\)"):
        f(x, b, 0.5, out=np.empty((3, 2), np.float32))
    with pytest.raises(TypeError, match="out: expected dtype float32"):
        f(x, b, 0.5, out=np.empty((2, 3)))
    backward = fastdrop.bias_act_dropout_backward
    with pytest.raises(ValueError, match="grad: expected x's shape"):
        backward(np.ones((3, 2), np.float32), x, b, 0.5, seed=1)
    with pytest.raises(ValueError, match="pass exactly one of seed="):
        backward(x, x, b, 0.5)
    with pytest.raises(ValueError, match="mask: packed bits for 6 elements"):
        backward(x, x, b, 0.5, mask=np.zeros(3, np.uint8))
    np.testing.assert_array_equal(x, 1)
    np.testing.assert_array_equal(b, 1)


@pytest.mark.skipif(BFLOAT16 is None, reason="ml_dtypes is not installed")
def test_bfloat16_front_end():
    x = np.linspace(-4, 4, 24, dtype=np.float32).astype(BFLOAT16).reshape(4, 6)
    y = fastdrop.bias_act_dropout(x, None, 0.0, activation="gelu", seed=0)
    assert y.dtype == BFLOAT16
    want = reference.from_compute(x.astype(np.float32) * 0.5 * np.vectorize(math.erfc)(-x.astype(np.float64)
                                                                                        / math.sqrt(2)), BFLOAT16)
    assert np.abs(y.astype(np.float32) - want.astype(np.float32)).max() <= np.abs(want.astype(np.float32)).max() / 128
