"""DropConnect: the masked weight against the reference, the fused linear's forward and backward
(NumPy and torch), gradcheck, opcheck, torch.compile, the bytes kept for backward, the modules
(DropConnectLinear, WeightDrop) and bad inputs."""

import numpy as np
import pytest

from conftest import REQUIRED, random_array, saved_tensors

import fastdrop
import reference

try:
    import torch

    import fastdrop.torch.functional as FF
    from fastdrop.torch import nn as fnn
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None and "torch" not in REQUIRED, reason="torch is not installed")


def masked_reference(W: np.ndarray, p: float, seed: int, offset: int) -> np.ndarray:
    return reference.apply_mask(W, reference.keep_mask(W.shape, p, seed, offset), p)


# --- NumPy -------------------------------------------------------------------------------------


def test_numpy_dropconnect_matches_reference(dtype):
    W = random_array(np.random.default_rng(0), (13, 7), dtype)
    got = fastdrop.dropconnect(W, 0.3, seed=21, offset=4)
    want = masked_reference(W, 0.3, 21, 4)
    assert got.dtype == W.dtype
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))
    # A transposed weight gets the mask of its logical shape.
    Wt = np.asarray(W.T)
    np.testing.assert_array_equal(fastdrop.dropconnect(Wt, 0.3, seed=21, offset=4).view(np.uint8),
                                  masked_reference(np.ascontiguousarray(Wt), 0.3, 21, 4).view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape", [(7,), (5, 7), (2, 3, 7)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_numpy_dropconnect_linear_forward_and_backward(dtype, x_shape, with_bias):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape).astype(dtype)
    W = rng.standard_normal((4, 7)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype) if with_bias else None
    p, seed, offset = 0.3, 8, 2
    keep = reference.keep_mask(W.shape, p, seed, offset)
    Wm = reference.apply_mask(W, keep, p)
    want = x @ Wm.T + (b if with_bias else 0)
    y = fastdrop.dropconnect_linear(x, W, b, p, seed=seed, offset=offset)
    assert y.dtype == W.dtype
    np.testing.assert_array_equal(y, want)

    grad = rng.standard_normal(want.shape).astype(dtype)
    dx, dW, db = fastdrop.dropconnect_linear_backward(grad, x, W, p, seed=seed, offset=offset, has_bias=with_bias)
    grad_2d = grad.reshape(-1, 4)
    np.testing.assert_array_equal(dx, grad @ Wm)
    np.testing.assert_array_equal(dW, reference.apply_mask(grad_2d.T @ x.reshape(-1, 7), keep, p))
    if with_bias:
        np.testing.assert_array_equal(db, grad_2d.sum(axis=0))
    else:
        assert db is None


def test_numpy_eval_mode_seeds_and_generators():
    rng = np.random.default_rng(2)
    x, W, b = rng.standard_normal((3, 6)), rng.standard_normal((5, 6)), rng.standard_normal(5)
    assert fastdrop.dropconnect(W, 0.5, training=False) is W
    np.testing.assert_array_equal(fastdrop.dropconnect_linear(x, W, b, 0.5, training=False), x @ W.T + b)
    g1, g2 = fastdrop.Generator(4), fastdrop.Generator(4)
    np.testing.assert_array_equal(fastdrop.dropconnect_linear(x, W, b, generator=g1),
                                  fastdrop.dropconnect_linear(x, W, b, generator=g2))
    # The generator's state before the call gives the seed and offset backward needs.
    seed, offset = g1.get_state()
    y = fastdrop.dropconnect_linear(x, W, b, generator=g1)
    np.testing.assert_array_equal(y, fastdrop.dropconnect_linear(x, W, b, seed=seed, offset=offset))
    big = np.ones((64, 64))
    assert not np.array_equal(fastdrop.dropconnect(big), fastdrop.dropconnect(big))


def test_numpy_p_one_and_out():
    W = np.ones((4, 6), np.float32)
    y = fastdrop.dropconnect_linear(np.ones((2, 6), np.float32), W, np.arange(4, dtype=np.float32), 1.0, seed=1)
    np.testing.assert_array_equal(y, np.tile(np.arange(4, dtype=np.float32), (2, 1)))
    out = np.empty_like(W)
    assert fastdrop.dropconnect(W, 0.4, seed=3, out=out) is out
    np.testing.assert_array_equal(out, masked_reference(W, 0.4, 3, 0))


def test_numpy_bad_inputs_raise_clearly_and_write_nothing():
    x, W, b = np.ones((3, 6), np.float32), np.ones((5, 6), np.float32), np.ones(5, np.float32)
    with pytest.raises(ValueError, match=r"W: expected a 2-D weight .* got shape \(5, 6, 1\)"):
        fastdrop.dropconnect_linear(x, W[..., None], b, seed=0)
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., 6\) .* got shape \(3, 5\)"):
        fastdrop.dropconnect_linear(x[:, :5], W, b, seed=0)
    with pytest.raises(ValueError, match=r"b: expected shape \(5,\) .* got shape \(4,\)"):
        fastdrop.dropconnect_linear(x, W, b[:4], seed=0)
    with pytest.raises(TypeError, match="x: expected a floating-point array"):
        fastdrop.dropconnect_linear(x.astype(np.int32), W, b, seed=0)
    with pytest.raises(TypeError, match="W: expected a floating-point array"):
        fastdrop.dropconnect(W.astype(np.int64), seed=0)
    with pytest.raises(TypeError, match=r"b: expected the dtype of x \(float32\), got float64"):
        fastdrop.dropconnect_linear(x, W, b.astype(np.float64), seed=0)
    with pytest.raises(ValueError, match="p: dropout probability has to be between 0 and 1"):
        fastdrop.dropconnect_linear(x, W, b, 1.5, seed=0)
    with pytest.raises(ValueError, match=r"grad_y: expected shape \(3, 5\)"):
        fastdrop.dropconnect_linear_backward(np.ones((3, 4), np.float32), x, W, 0.5, seed=0, offset=0)
    with pytest.raises(TypeError, match="offset"):
        fastdrop.dropconnect_linear_backward(np.ones((3, 5), np.float32), x, W, 0.5, seed=0)
    out = np.full((6, 5), 7.0, np.float32)
    with pytest.raises(ValueError, match=r"out: expected shape \(5, 6\)"):
        fastdrop.dropconnect(W, 0.5, seed=0, out=out)
    assert (out == 7).all() and (W == 1).all() and (x == 1).all() and (b == 1).all()


# --- torch -------------------------------------------------------------------------------------


def torch_reference(t, p: float, seed: int, offset: int = 0):
    """The reference masked weight of tensor t (any float dtype), as a tensor."""
    values = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        ml_dtypes = pytest.importorskip("ml_dtypes")
        arr = values.view(torch.int16).numpy().view(np.uint16).view(ml_dtypes.bfloat16)
        want = masked_reference(arr, p, seed, offset)
        return torch.from_numpy(want.view(np.int16).copy()).view(torch.bfloat16)
    return torch.from_numpy(np.ascontiguousarray(masked_reference(values.numpy(), p, seed, offset)))


def assert_bits_equal(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    raw = {2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
    assert torch.equal(a.contiguous().view(raw), b.contiguous().view(raw))


@needs_torch
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_torch_dropconnect_matches_reference(dtype):
    dtype = getattr(torch, dtype)
    W = torch.randn(19, 11, dtype=torch.float64).to(dtype).requires_grad_()
    Wm = FF.dropconnect(W, 0.3, seed=6, offset=1)
    assert_bits_equal(Wm, torch_reference(W, 0.3, 6, 1))
    grad = torch.randn(19, 11, dtype=torch.float64).to(dtype)
    Wm.backward(grad)
    assert_bits_equal(W.grad, torch_reference(grad, 0.3, 6, 1))
    assert_bits_equal(fastdrop.dropconnect(W.detach(), 0.3, seed=6, offset=1), Wm.detach())


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("x_shape", [(7,), (5, 7), (2, 3, 7)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_torch_dropconnect_linear_matches_composition(dtype, x_shape, with_bias):
    dtype = getattr(torch, dtype)
    p, seed, offset = 0.3, 12, 5
    x = torch.randn(x_shape, dtype=dtype, requires_grad=True)
    W = torch.randn(4, 7, dtype=dtype, requires_grad=True)
    b = torch.randn(4, dtype=dtype, requires_grad=True) if with_bias else None
    y = FF.dropconnect_linear(x, W, b, p, seed=seed, offset=offset)
    # The composition: the reference mask applied with autograd, then torch's linear.
    keep = torch.from_numpy(reference.keep_mask(tuple(W.shape), p, seed, offset))
    Wm = torch.where(keep, W * (1 / (1 - p)), 0)
    assert_bits_equal(Wm.detach(), torch_reference(W, p, seed, offset))
    want = torch.nn.functional.linear(x, Wm, b)
    assert_bits_equal(y.detach(), want.detach())

    grad = torch.randn_like(want)
    inputs = [t for t in (x, W, b) if t is not None]
    got_grads = torch.autograd.grad(y, inputs, grad)
    want_grads = torch.autograd.grad(want, inputs, grad)
    for got, expected in zip(got_grads, want_grads):
        torch.testing.assert_close(got, expected, rtol=1e-6 if dtype == torch.float32 else 1e-13, atol=0)


@needs_torch
def test_torch_no_grad_eval_and_numpy_agree():
    x, W, b = torch.randn(6, 5), torch.randn(3, 5), torch.randn(3)
    with torch.no_grad():
        no_grad = FF.dropconnect_linear(x, W, b, 0.4, seed=2)
    with_grad = FF.dropconnect_linear(x, W.requires_grad_(), b, 0.4, seed=2)
    assert torch.equal(no_grad, with_grad.detach())
    assert torch.equal(fastdrop.dropconnect_linear(x, W, b, 0.4, seed=2), with_grad)
    np.testing.assert_allclose(fastdrop.dropconnect_linear(x.numpy(), W.detach().numpy(), b.numpy(), 0.4, seed=2),
                               no_grad.numpy(), rtol=1e-6)
    assert FF.dropconnect(W, 0.5, training=False) is W
    assert torch.equal(FF.dropconnect_linear(x, W, b, 0.5, training=False), torch.nn.functional.linear(x, W, b))
    out = torch.empty(3, 5)
    assert fastdrop.dropconnect(W.detach(), 0.4, seed=2, out=out) is out


@needs_torch
def test_torch_seeds_generators_and_p_one():
    x, W = torch.randn(2, 64), torch.randn(64, 64)
    assert not torch.equal(FF.dropconnect_linear(x, W), FF.dropconnect_linear(x, W))
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(FF.dropconnect_linear(x, W, generator=g1), FF.dropconnect_linear(x, W, generator=g2))
    W.requires_grad_()
    b = torch.randn(64, requires_grad=True)
    y = FF.dropconnect_linear(x, W, b, 1.0)
    assert torch.equal(y, b.detach().expand(2, 64))
    y.sum().backward()
    assert torch.equal(W.grad, torch.zeros(64, 64)) and torch.equal(b.grad, torch.full((64,), 2.0))


@needs_torch
def test_gradcheck_and_gradgradcheck_float64():
    x = torch.randn(3, 2, 5, dtype=torch.float64, requires_grad=True)
    W = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    eager = lambda x, W, b: FF.dropconnect_linear(x, W, b, 0.4, seed=3, offset=1)  # noqa: E731
    op = lambda x, W, b: torch.ops.fastdrop.dropconnect_linear(x, W, b, 0.4, 3, 1, False)[0]  # noqa: E731
    for fn in (eager, op):
        assert torch.autograd.gradcheck(fn, (x, W, b))
        assert torch.autograd.gradgradcheck(fn, (x, W, b))
    assert torch.autograd.gradcheck(lambda W: FF.dropconnect(W, 0.4, seed=3), (W,))


@needs_torch
@pytest.mark.parametrize("with_bias", [True, False])
def test_opcheck(with_bias):
    x = torch.randn(2, 3, 5, requires_grad=True)
    W = torch.randn(4, 5, requires_grad=True)
    b = torch.randn(4, requires_grad=True) if with_bias else None
    torch.library.opcheck(torch.ops.fastdrop.dropconnect_linear.default, (x, W, b, 0.25, 11, 2, False))


@needs_torch
def test_only_the_seed_is_saved_besides_the_inputs():
    x = torch.randn(8, 256, requires_grad=True)
    W = torch.randn(128, 256, requires_grad=True)
    b = torch.randn(128, requires_grad=True)
    eager = saved_tensors(lambda x, W, b: FF.dropconnect_linear(x, W, b, 0.5), x, W, b)
    op = saved_tensors(lambda x, W, b: torch.ops.fastdrop.dropconnect_linear(x, W, b, 0.5, 0, 0, True)[0], x, W, b)
    assert eager == [((2,), 16)]
    assert op == [((2,), 16)]
    # torch's composition keeps a tensor of W's size (the masked weight or the noise).
    composed = saved_tensors(lambda x, W, b: torch.nn.functional.linear(x, torch.nn.functional.dropout(W), b), x, W, b)
    assert any(shape == tuple(W.shape) for shape, _ in composed)


@needs_torch
def test_checkpoint_gives_the_same_gradients():
    layer = torch.nn.Sequential(fnn.DropConnectLinear(16, 16), torch.nn.Tanh())
    x = torch.randn(8, 16)

    def grads(use_checkpoint):
        layer.zero_grad()
        torch.manual_seed(1)
        inp = x.clone().requires_grad_()
        out = torch.utils.checkpoint.checkpoint(layer, inp, use_reentrant=False) if use_checkpoint else layer(inp)
        out.sum().backward()
        return [inp.grad] + [p.grad.clone() for p in layer.parameters()]

    for a, b in zip(grads(False), grads(True)):
        assert torch.equal(a, b)


# --- modules -----------------------------------------------------------------------------------


@needs_torch
def test_dropconnect_linear_module_is_a_linear():
    torch.manual_seed(0)
    module = fnn.DropConnectLinear(6, 3, p=0.2)
    assert isinstance(module, torch.nn.Linear)
    assert repr(module) == "DropConnectLinear(in_features=6, out_features=3, bias=True, p=0.2)"
    plain = torch.nn.Linear(6, 3)
    assert module.state_dict().keys() == plain.state_dict().keys()
    module.load_state_dict(plain.state_dict())
    x = torch.randn(4, 6)
    assert not torch.equal(module(x), plain(x))
    module.eval()
    assert torch.equal(module(x), plain(x))
    assert fnn.DropConnectLinear(6, 3, bias=False, dtype=torch.float64).weight.dtype == torch.float64


@needs_torch
@pytest.mark.parametrize("p", [-0.1, 1.1, float("nan")])
def test_invalid_p_raises_at_construction(p):
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got"):
        fnn.DropConnectLinear(4, 4, p=p)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got"):
        fnn.WeightDrop(torch.nn.Linear(2, 2), ["weight"], p=p)


@pytest.fixture(scope="module")
def compiled_and_eager():
    class Model(torch.nn.Module):
        # Not a Sequential: Dynamo keeps per-code state, so compiling Sequential.forward here would
        # recompile it with different constants in other test modules.
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.hidden = fnn.DropConnectLinear(16, 32, p=0.5)
            self.out = fnn.DropConnectLinear(32, 4, bias=False, p=0.3)

        def forward(self, x):
            return self.out(torch.relu(self.hidden(x)))

    yield Model(), torch.compile(Model(), fullgraph=True)
    torch._dynamo.reset()


def train_step(model, x):
    model.zero_grad()
    out = model(x)
    out.pow(2).sum().backward()
    return out.detach(), [p.grad.clone() for p in model.parameters()]


@needs_torch
def test_compiled_model_matches_eager_and_draws_fresh_masks(compiled_and_eager):
    eager, compiled = compiled_and_eager
    x = torch.randn(8, 16)
    for seed in (1, 2):
        torch.manual_seed(seed)
        out_e, grads_e = train_step(eager, x)
        torch.manual_seed(seed)
        out_c, grads_c = train_step(compiled, x)
        torch.testing.assert_close(out_c, out_e, rtol=1e-5, atol=1e-6)
        for gc, ge in zip(grads_c, grads_e):
            torch.testing.assert_close(gc, ge, rtol=1e-5, atol=1e-6)
    first, _ = train_step(compiled, x)
    second, _ = train_step(compiled, x)
    assert not torch.equal(first, second)


@needs_torch
def test_weight_drop_lstm():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(8, 16)
    keys = list(lstm.state_dict())
    names = [name for name, _ in lstm.named_parameters()]
    wrapped = fnn.WeightDrop(lstm, ["weight_hh_l0"], p=0.5)
    assert [name for name, _ in wrapped.named_parameters()] == [f"module.{n}" for n in names]
    assert list(wrapped.state_dict()) == [f"module.{k}" for k in keys]

    x = torch.randn(5, 3, 8)
    out1, _ = wrapped(x)
    out2, _ = wrapped(x)
    assert not torch.equal(out1, out2)  # a fresh mask per call
    (out1.sum() + out2.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in lstm.parameters())
    # The Parameters are the module's own, untouched by the masked forwards.
    assert isinstance(lstm.weight_hh_l0, torch.nn.Parameter)
    assert [name for name, _ in lstm.named_parameters()] == names

    plain = torch.nn.LSTM(8, 16)
    wrapped.module.load_state_dict(plain.state_dict())
    wrapped.eval()
    assert torch.equal(wrapped(x)[0], plain(x)[0])
    plain.load_state_dict(wrapped.module.state_dict())
    restored = fnn.WeightDrop(torch.nn.LSTM(8, 16), ["weight_hh_l0"])
    restored.load_state_dict(wrapped.state_dict())
    assert torch.equal(restored.eval()(x)[0], plain(x)[0])


@needs_torch
def test_weight_drop_bad_arguments():
    with pytest.raises(ValueError, match="weights: expected names of the module's parameters"):
        fnn.WeightDrop(torch.nn.Linear(2, 2), ["weight_hh_l0"])
    with pytest.raises(TypeError, match="weights: expected a list of parameter names"):
        fnn.WeightDrop(torch.nn.Linear(2, 2), "weight")


@needs_torch
def test_torch_bad_inputs_raise_clearly():
    x, W, b = torch.ones(3, 6), torch.ones(5, 6), torch.ones(5)
    with pytest.raises(ValueError, match=r"weight: expected a 2-D tensor .* got shape \(5, 6, 1\)"):
        FF.dropconnect_linear(x, W[..., None], b)
    with pytest.raises(ValueError, match=r"input: expected shape \(\.\.\., 6\) .* got shape \(3, 5\)"):
        FF.dropconnect_linear(x[:, :5], W, b)
    with pytest.raises(ValueError, match=r"bias: expected shape \(5,\) .* got shape \(4,\)"):
        FF.dropconnect_linear(x, W, b[:4])
    with pytest.raises(TypeError, match="input: expected a floating-point tensor"):
        FF.dropconnect_linear(x.long(), W, b)
    with pytest.raises(TypeError, match="weight: expected a floating-point tensor"):
        FF.dropconnect(W.int())
    with pytest.raises(TypeError, match=r"weight: expected the dtype of input \(torch.float32\)"):
        FF.dropconnect_linear(x, W.double(), b)
    with pytest.raises(TypeError, match="bias: expected a torch.Tensor"):
        FF.dropconnect_linear(x, W, b.numpy())
    with pytest.raises(ValueError, match="p: dropout probability has to be between 0 and 1"):
        FF.dropconnect_linear(x, W, b, -0.5)
    with pytest.raises(RuntimeError, match="weight: fastdrop has no kernels for device meta"):
        FF.dropconnect(torch.ones(3, 3, device="meta"))
