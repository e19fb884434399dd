"""Fused bias + dropout + residual add: exact equality with the composition driven by the
reference mask, on both kernel backends, NumPy and torch; gradients; compile; errors."""

import numpy as np
import pytest

import fastdrop
import reference
from conftest import import_or_skip, random_array


def composition(x, bias, residual, keep, p):
    """residual + where(keep, (x + bias) * s, 0) in the compute type, rounded once."""
    compute = reference.compute_type(x.dtype)
    scale = compute(1.0 / (1.0 - p)) if p < 1 else compute(0)
    b = reference.to_compute(bias) if bias is not None else compute(0)
    values = reference.to_compute(residual) + np.where(keep, (reference.to_compute(x) + b) * scale, compute(0))
    return reference.from_compute(values.astype(compute), x.dtype)


def raw(a):
    return a.view(np.uint16) if a.dtype.name == "bfloat16" else a


@pytest.mark.parametrize("shape", [(1,), (7, 3), (5, 96), (3, 4, 1000)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_kernels_match_composition(kernels, dtype, shape, with_bias):
    rng = np.random.default_rng(sum(shape))
    x, residual = random_array(rng, shape, dtype), random_array(rng, shape, dtype)
    bias = random_array(rng, shape[-1:], dtype) if with_bias else None
    y = np.empty_like(x)
    bits = np.empty((x.size + 7) // 8, np.uint8)
    kernels.bias_dropout_add_forward(x.dtype.name, raw(x.reshape(-1)), None if bias is None else raw(bias),
                                     raw(residual.reshape(-1)), raw(y.reshape(-1)), shape[-1], 0.3, 4, 5, bits)
    keep = reference.keep_mask(shape, 0.3, 4, 5)
    np.testing.assert_array_equal(raw(y), raw(composition(x, bias, residual, keep, 0.3)))
    np.testing.assert_array_equal(bits, np.packbits(keep.reshape(-1), bitorder="little"))


def test_numpy_front_end_and_backward():
    rng = np.random.default_rng(0)
    x, residual, bias = rng.standard_normal((6, 10)), rng.standard_normal((6, 10)), rng.standard_normal(10)
    y, bits = fastdrop.bias_dropout_add(x, bias, residual, 0.4, seed=2, offset=3, return_mask=True)
    keep = reference.keep_mask(x.shape, 0.4, 2, 3)
    np.testing.assert_array_equal(y, composition(x, bias, residual, keep, 0.4))
    grad = rng.standard_normal((6, 10))
    for kwargs in (dict(mask=bits), dict(seed=2, offset=3)):
        dx, db, dr = fastdrop.bias_dropout_add_backward(grad, 0.4, **kwargs)
        np.testing.assert_array_equal(dx, np.where(keep, grad * (1 / 0.6), 0))
        np.testing.assert_allclose(db, dx.sum(0), rtol=1e-12)
        np.testing.assert_array_equal(dr, grad)
    np.testing.assert_array_equal(fastdrop.bias_dropout_add(x, bias, residual, 0.4, training=False),
                                  residual + (x + bias))


def test_numpy_errors_leave_inputs_untouched():
    x, r = np.ones((2, 3), np.float32), np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"bias: expected shape \(3,\)"):
        fastdrop.bias_dropout_add(x, np.ones(2, np.float32), r, 0.5)
    with pytest.raises(ValueError, match=r"residual: expected x's shape \(2, 3\)"):
        fastdrop.bias_dropout_add(x, None, np.ones((3, 2), np.float32), 0.5)
    with pytest.raises(TypeError, match="residual: expected dtype float32"):
        fastdrop.bias_dropout_add(x, None, np.ones((2, 3)), 0.5)
    with pytest.raises(ValueError, match="p: dropout probability"):
        fastdrop.bias_dropout_add(x, None, r, 2.0)
    np.testing.assert_array_equal(x, 1)
    np.testing.assert_array_equal(r, 1)


class TestTorch:
    @pytest.fixture(autouse=True)
    def _torch(self):
        self.torch = import_or_skip("torch", "torch")
        import fastdrop.torch as ft

        self.ft = ft

    def test_matches_torch_composition_and_autograd(self):
        torch, ft = self.torch, self.ft
        x = torch.randn(8, 33, requires_grad=True)
        bias = torch.randn(33, requires_grad=True)
        residual = torch.randn(8, 33, requires_grad=True)
        y = ft.functional.bias_dropout_add(x, bias, residual, 0.25, seed=9)
        keep = torch.from_numpy(reference.keep_mask((8, 33), 0.25, 9, 0))
        scale = torch.tensor(1 / 0.75, dtype=torch.float32)
        want = residual + torch.where(keep, (x + bias) * scale, 0)
        assert torch.equal(y, want)
        grad = torch.randn(8, 33)
        grads = torch.autograd.grad(y, (x, bias, residual), grad)
        want_grads = torch.autograd.grad(want, (x, bias, residual), grad)
        assert torch.equal(grads[0], want_grads[0]) and torch.equal(grads[2], want_grads[2])
        torch.testing.assert_close(grads[1], want_grads[1])

    def test_one_dimensional_input_bias_gradient(self):
        torch, ft = self.torch, self.ft
        x, bias = torch.randn(6, requires_grad=True), torch.randn(6, requires_grad=True)
        ft.functional.bias_dropout_add(x, bias, torch.zeros(6), 0.5, seed=2).backward(torch.ones(6))
        assert torch.equal(bias.grad, x.grad)

    def test_gradcheck_opcheck_module_and_eval(self):
        torch, ft = self.torch, self.ft
        x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
        b = torch.randn(5, dtype=torch.float64, requires_grad=True)
        r = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda *t: ft.functional.bias_dropout_add(*t, 0.3, seed=1), (x, b, r))
        torch.library.opcheck(torch.ops.fastdrop.bias_dropout_add.default, (x.float(), b.float(), r.float(),
                                                                            0.3, 1, 0, False))
        module = ft.nn.BiasDropoutAdd(0.3)
        assert repr(module) == "BiasDropoutAdd(p=0.3)"
        module.eval()
        assert torch.equal(module(x, b, r), r + (x + b))
        with pytest.raises(ValueError, match="p: dropout probability"):
            ft.nn.BiasDropoutAdd(1.5)

    def test_compiled_matches_eager(self):
        torch, ft = self.torch, self.ft

        def block(x, b, r):
            return ft.functional.bias_dropout_add(x, b, r, 0.5)

        x, b, r = torch.randn(16, 64), torch.randn(64), torch.randn(16, 64)
        torch.manual_seed(4)
        eager = block(x, b, r)
        torch.manual_seed(4)
        compiled = torch.compile(block, fullgraph=True)(x, b, r)
        assert torch.equal(eager, compiled)

    def test_numpy_and_torch_agree(self):
        torch = self.torch
        x, b, r = np.ones((3, 4), np.float32), np.arange(4, dtype=np.float32), np.zeros((3, 4), np.float32)
        a = fastdrop.bias_dropout_add(x, b, r, 0.5, seed=3)
        t = fastdrop.bias_dropout_add(torch.from_numpy(x), torch.from_numpy(b), torch.from_numpy(r), 0.5, seed=3)
        np.testing.assert_array_equal(a, t.numpy())
