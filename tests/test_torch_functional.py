"""fastdrop on torch tensors: exact results against the reference, layouts, autograd, gradcheck,
opcheck, seeds, checkpointing, in-place behaviour and the bytes kept for backward."""

import numpy as np
import pytest

from conftest import import_or_skip

torch = import_or_skip("torch", "torch")

import fastdrop  # noqa: E402
import fastdrop.torch.functional as FF  # noqa: E402
import reference  # noqa: E402

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
MASK_MODES = ["bits", "recompute"]


def expected(x: torch.Tensor, p: float, seed: int, offset: int = 0) -> torch.Tensor:
    """The reference result, computed through NumPy on x's logical (row-major) values."""
    values = x.detach().contiguous()
    if x.dtype == torch.bfloat16:
        ml_dtypes = pytest.importorskip("ml_dtypes")
        arr = values.view(torch.int16).numpy().view(np.uint16).view(ml_dtypes.bfloat16)
        want, _ = reference.dropout(arr, p, seed, offset)
        return torch.from_numpy(want.view(np.int16).copy()).view(torch.bfloat16)
    want, _ = reference.dropout(values.numpy(), p, seed, offset)
    return torch.from_numpy(np.ascontiguousarray(want))


def assert_bits_equal(a: torch.Tensor, b: torch.Tensor):
    assert a.dtype == b.dtype and a.shape == b.shape
    raw = {2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
    assert torch.equal(a.contiguous().view(raw), b.contiguous().view(raw))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_mode", MASK_MODES)
def test_forward_and_backward_match_reference(dtype, mask_mode):
    x = (torch.randn(37, 29, dtype=torch.float64) * 3).to(dtype).requires_grad_()
    y = FF.dropout(x, 0.3, seed=12, offset=5, mask_mode=mask_mode)
    assert y.dtype == dtype and y.shape == x.shape and y.device == x.device
    assert_bits_equal(y, expected(x, 0.3, 12, 5))
    grad = (torch.randn(37, 29, dtype=torch.float64)).to(dtype)
    y.backward(grad)
    assert_bits_equal(x.grad, expected(grad, 0.3, 12, 5))


def test_fastdrop_dropout_takes_tensors_and_matches_numpy():
    x = torch.randn(100, 3)
    y = fastdrop.dropout(x, 0.4, seed=9)
    assert isinstance(y, torch.Tensor)
    np.testing.assert_array_equal(y.numpy(), fastdrop.dropout(x.numpy(), 0.4, seed=9))
    out = torch.empty_like(x)
    assert fastdrop.dropout(x, 0.4, seed=9, out=out) is out
    assert torch.equal(out, y)


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.randn(2, 3, 4, 5).to(memory_format=torch.channels_last),
        lambda: torch.randn(2, 3, 4, 5, 6).to(memory_format=torch.channels_last_3d),
        lambda: torch.randn(6, 8).t(),
        lambda: torch.randn(2, 3, 3, 6)[..., ::2],
        lambda: torch.randn(5, 4, 3).permute(2, 0, 1)[1:],
    ],
    ids=["channels_last", "channels_last_3d", "transposed", "sliced", "permuted_sliced"],
)
def test_layouts_follow_the_input_and_masks_follow_the_logical_index(make):
    x = make().requires_grad_()
    y = FF.dropout(x, 0.5, seed=4)
    assert_bits_equal(y, expected(x, 0.5, 4))
    # The output is laid out as torch's own dropout lays it out.
    assert y.stride() == torch.nn.functional.dropout(x, 0.5).stride()
    y.backward(torch.ones_like(y))
    assert_bits_equal(x.grad, expected(torch.ones_like(x), 0.5, 4))


def test_gradcheck_and_gradgradcheck_float64():
    x = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    for mask_mode in MASK_MODES:
        fn = lambda t: FF.dropout(t, 0.4, seed=3, mask_mode=mask_mode)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))


@pytest.mark.parametrize("mask_mode", MASK_MODES)
def test_opcheck(mask_mode):
    x = torch.randn(33, 3, dtype=torch.float32, requires_grad=True)
    torch.library.opcheck(torch.ops.fastdrop.dropout.default, (x, 0.25, 11, 2, False, mask_mode))
    _, saved = torch.ops.fastdrop.dropout(x, 0.25, 11, 2, False, mask_mode)
    grad = torch.randn(33, 3, requires_grad=True)
    torch.library.opcheck(torch.ops.fastdrop.dropout_backward.default, (grad, saved, 0.25, mask_mode))


def test_torch_manual_seed_makes_a_training_run_reproducible():
    def train():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), fastdrop.torch.nn.Dropout(0.5),
                                    torch.nn.Linear(32, 1))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        data = torch.randn(64, 8)
        for _ in range(5):
            opt.zero_grad()
            model(data).pow(2).mean().backward()
            opt.step()
        return [p.detach().clone() for p in model.parameters()]

    for a, b in zip(train(), train()):
        assert torch.equal(a, b)


def test_calls_without_a_seed_draw_fresh_masks_and_generators_work():
    x = torch.ones(4096)
    assert not torch.equal(FF.dropout(x, 0.5), FF.dropout(x, 0.5))
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(FF.dropout(x, 0.5, generator=g1), FF.dropout(x, 0.5, generator=g2))


def test_checkpoint_gives_the_same_gradients():
    layer = torch.nn.Sequential(torch.nn.Linear(16, 16), fastdrop.torch.nn.Dropout(0.5), torch.nn.Tanh())
    x = torch.randn(8, 16)

    def grads(use_checkpoint):
        layer.zero_grad()
        torch.manual_seed(1)
        inp = x.clone().requires_grad_()
        if use_checkpoint:
            out = torch.utils.checkpoint.checkpoint(layer, inp, use_reentrant=False)
        else:
            out = layer(inp)
        out.sum().backward()
        return [inp.grad] + [p.grad.clone() for p in layer.parameters()]

    for a, b in zip(grads(False), grads(True)):
        assert torch.equal(a, b)


def saved_bytes(fn, x):
    total = 0

    def pack(t):
        nonlocal total
        if t.data_ptr() != x.data_ptr():
            total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    return total


def test_bytes_saved_for_backward():
    n = 1 << 16
    x = torch.randn(n, requires_grad=True)
    torch_bytes = saved_bytes(lambda t: torch.nn.functional.dropout(t, 0.5), x)
    bits_bytes = saved_bytes(lambda t: FF.dropout(t, 0.5, mask_mode="bits"), x)
    recompute_bytes = saved_bytes(lambda t: FF.dropout(t, 0.5, mask_mode="recompute"), x)
    assert bits_bytes <= n / 8
    assert recompute_bytes == 16
    assert torch_bytes >= n  # torch keeps at least a byte per element (a float tensor on the CPU)


def test_p_zero_p_one_and_eval_mode():
    x = torch.tensor([1.0, -2.0, float("inf"), float("nan")], requires_grad=True)
    y0 = FF.dropout(x, 0.0, seed=1)
    assert torch.equal(y0[:3], x[:3]) and y0[3].isnan()
    y1 = FF.dropout(x, 1.0, seed=1)
    assert torch.equal(y1, torch.zeros(4))
    y1.sum().backward()
    assert torch.equal(x.grad, torch.zeros(4))
    assert FF.dropout(x, 0.5, training=False) is x


def test_in_place_behaves_like_torch():
    leaf = torch.ones(10, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        FF.dropout(leaf, 0.5, inplace=True)
    x = torch.ones(1000, requires_grad=True)
    hidden = x * 1
    y = FF.dropout(hidden, 0.5, inplace=True, seed=2)
    assert y is hidden
    y.sum().backward()
    assert torch.equal(x.grad, expected(torch.ones(1000), 0.5, 2))
    with torch.no_grad():
        plain = torch.ones(1000)
        assert FF.dropout(plain, 0.5, inplace=True, seed=2) is plain
        assert torch.equal(plain, expected(torch.ones(1000), 0.5, 2))


def test_empty_tensor():
    x = torch.tensor([])
    assert FF.dropout(x).shape == x.shape


@pytest.mark.parametrize("p", [-0.1, 1.1, float("nan")])
def test_invalid_p(p):
    with pytest.raises(ValueError, match="p: .*between 0 and 1"):
        FF.dropout(torch.ones(1), p)


def test_bad_inputs():
    with pytest.raises(TypeError, match="input: expected a floating-point tensor"):
        FF.dropout(torch.ones(3, dtype=torch.int64), 0.5)
    with pytest.raises(TypeError, match="input: expected a floating-point tensor"):
        FF.dropout(torch.ones(3, dtype=torch.complex64), 0.5)
    with pytest.raises(TypeError, match="input: expected a torch.Tensor"):
        FF.dropout([1.0], 0.5)
    with pytest.raises(ValueError, match="mask_mode: expected None or one of bits, recompute"):
        FF.dropout(torch.ones(3), 0.5, mask_mode="bytes")
    with pytest.raises(TypeError, match="generator: expected a torch.Generator"):
        FF.dropout(torch.ones(3), 0.5, generator=fastdrop.Generator(1))
    with pytest.raises(TypeError, match="return_mask: supported for NumPy arrays"):
        fastdrop.dropout(torch.ones(3), 0.5, return_mask=True)


def test_cuda_tensors_without_cuda_kernels_raise_clearly():
    meta = torch.ones(3, device="meta")
    with pytest.raises(RuntimeError, match="input: fastdrop has no kernels for device meta"):
        FF.dropout(meta, 0.5)
