"""dropout: the NumPy front-end against the pure-Python reference (exact equality over shapes,
layouts, dtypes, p and seeds; masks; backward; p = 0, p = 1 and eval mode as in PyTorch), then
torch tensors (layouts, autograd, gradcheck, opcheck, seeds, checkpointing, in-place behaviour, the
bytes kept for backward) and fastdrop.torch.nn.Dropout as a drop-in for torch's (constructor, repr,
train/eval, layouts and the behaviour PyTorch's own dropout module tests check)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastdrop
import reference
from conftest import assert_same_bits, import_if_installed, needs, random_array

torch = import_if_installed("torch")
needs_torch = needs("torch", torch)
if torch is not None:
    import fastdrop.torch.functional as FF
    from fastdrop.torch import nn as fnn

shapes = st.lists(st.integers(0, 9), min_size=0, max_size=4).map(tuple)
probabilities = st.one_of(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]), st.floats(0.0, 1.0))
seeds = st.integers(0, 2**64 - 1)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, p=probabilities, seed=seeds, offset=seeds)
def test_matches_reference(dtype, shape, p, seed, offset):
    x = random_array(np.random.default_rng(seed % 1000), shape, dtype)
    y, mask = fastdrop.dropout(x, p, seed=seed, offset=offset, return_mask=True)
    want, keep = reference.dropout(x, p, seed, offset)
    assert_same_bits(y, want)
    np.testing.assert_array_equal(mask, keep)


@pytest.mark.parametrize("n", [1, 3, 7, 8, 9, 4095, 32768 + 9, 65536 * 2 + 5])
def test_odd_sizes_and_chunk_edges(dtype, n):
    x = random_array(np.random.default_rng(n), (n,), dtype)
    y, bits = fastdrop.dropout(x, 0.3, seed=11, offset=2, return_mask=True, mask_format="bits")
    want, keep = reference.dropout(x, 0.3, 11, 2)
    assert_same_bits(y, want)
    np.testing.assert_array_equal(bits, np.packbits(keep, bitorder="little"))


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 7), min_size=2, max_size=4).map(tuple), data=st.data())
def test_strided_and_transposed_views_follow_logical_order(shape, data):
    base = random_array(np.random.default_rng(1), tuple(2 * s for s in shape), np.float32)
    steps = tuple(data.draw(st.sampled_from([1, 2, -1])) for _ in shape)
    view = base[tuple(slice(None, None, step) for step in steps)]
    view = view.transpose(data.draw(st.permutations(range(len(shape)))))
    y = fastdrop.dropout(view, 0.5, seed=3)
    want, _ = reference.dropout(np.ascontiguousarray(view), 0.5, 3, 0)
    assert_same_bits(y, want)
    assert y.shape == view.shape


def test_fortran_order_gets_the_mask_of_its_shape():
    x = np.asfortranarray(random_array(np.random.default_rng(2), (33, 17), np.float64))
    want, _ = reference.dropout(np.ascontiguousarray(x), 0.4, 5, 6)
    assert_same_bits(fastdrop.dropout(x, 0.4, seed=5, offset=6), want)


def test_out_preallocated_strided_and_in_place():
    x = random_array(np.random.default_rng(3), (64, 40), np.float32)
    want, _ = reference.dropout(x, 0.25, 9, 1)
    out = np.empty_like(x)
    assert fastdrop.dropout(x, 0.25, seed=9, offset=1, out=out) is out
    assert_same_bits(out, want)
    strided = np.empty((64, 80), np.float32)[:, ::2]
    assert fastdrop.dropout(x, 0.25, seed=9, offset=1, out=strided) is strided
    assert_same_bits(strided, want)
    inplace = x.copy()
    assert fastdrop.dropout(inplace, 0.25, seed=9, offset=1, out=inplace) is inplace
    assert_same_bits(inplace, want)
    # out overlapping x without being x: the result must still be computed from the original x.
    buf = np.concatenate([x.ravel(), np.zeros(1, np.float32)])
    shifted_out = buf[1:].reshape(x.shape)
    src = buf[:-1].reshape(x.shape)
    fastdrop.dropout(src, 0.25, seed=9, offset=1, out=shifted_out)
    assert_same_bits(shifted_out, want)


def test_p_zero_keeps_everything_exactly(dtype):
    x = random_array(np.random.default_rng(4), (1000,), dtype)
    y, mask = fastdrop.dropout(x, 0.0, seed=1, return_mask=True)
    assert_same_bits(y, x)
    assert mask.all()


def test_p_one_drops_everything_without_nan():
    x = np.array([1.0, -np.inf, np.inf, np.nan, 0.0, 3.0], np.float32)
    y, mask = fastdrop.dropout(x, 1.0, seed=1, return_mask=True)
    assert_same_bits(y, np.zeros_like(x))
    assert not mask.any()
    grad = fastdrop.dropout_backward(x, 1.0, seed=1)
    assert_same_bits(grad, np.zeros_like(x))


def test_eval_mode_returns_the_input():
    x = np.arange(10, dtype=np.float32)
    assert fastdrop.dropout(x, 0.5, training=False) is x
    out = np.empty_like(x)
    assert fastdrop.dropout(x, 0.5, training=False, out=out) is out
    np.testing.assert_array_equal(out, x)
    y, mask = fastdrop.dropout(x, 0.5, training=False, return_mask=True)
    assert y is x and mask.all()


def test_backward_from_seed_bits_and_bool_mask_agree_with_reference(dtype):
    grad = random_array(np.random.default_rng(5), (301, 7), dtype)
    _, bits = fastdrop.dropout(grad, 0.6, seed=21, offset=4, return_mask=True, mask_format="bits")
    _, mask = fastdrop.dropout(grad, 0.6, seed=21, offset=4, return_mask=True)
    want = reference.apply_mask(grad, reference.keep_mask(grad.shape, 0.6, 21, 4), 0.6)
    assert_same_bits(fastdrop.dropout_backward(grad, 0.6, seed=21, offset=4), want)
    assert_same_bits(fastdrop.dropout_backward(grad, 0.6, mask=bits), want)
    assert_same_bits(fastdrop.dropout_backward(grad, 0.6, mask=mask), want)
    out = np.empty_like(grad)
    assert fastdrop.dropout_backward(grad, 0.6, mask=bits, out=out) is out
    assert_same_bits(out, want)


def test_empty_arrays():
    for shape in [(0,), (3, 0, 2)]:
        x = np.empty(shape, np.float32)
        y, bits = fastdrop.dropout(x, 0.5, seed=1, return_mask=True, mask_format="bits")
        assert y.shape == shape and bits.size == 0
        assert fastdrop.dropout_backward(x, 0.5, mask=bits).shape == shape


def test_python_scalars_and_lists_become_arrays():
    y = fastdrop.dropout([1.0, 2.0, 3.0], 0.0, seed=0)
    np.testing.assert_array_equal(y, [1.0, 2.0, 3.0])


# --- torch tensors ------------------------------------------------------------------------------


TORCH_DTYPES = ["float16", "bfloat16", "float32", "float64"]
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


@needs_torch
@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("mask_mode", MASK_MODES)
def test_forward_and_backward_match_reference(dtype, mask_mode):
    dtype = getattr(torch, dtype)
    x = (torch.randn(37, 29, dtype=torch.float64) * 3).to(dtype).requires_grad_()
    y = FF.dropout(x, 0.3, seed=12, offset=5, mask_mode=mask_mode)
    assert y.dtype == dtype and y.shape == x.shape and y.device == x.device
    assert_bits_equal(y, expected(x, 0.3, 12, 5))
    grad = (torch.randn(37, 29, dtype=torch.float64)).to(dtype)
    y.backward(grad)
    assert_bits_equal(x.grad, expected(grad, 0.3, 12, 5))


@needs_torch
def test_fastdrop_dropout_takes_tensors_and_matches_numpy():
    x = torch.randn(100, 3)
    y = fastdrop.dropout(x, 0.4, seed=9)
    assert isinstance(y, torch.Tensor)
    np.testing.assert_array_equal(y.numpy(), fastdrop.dropout(x.numpy(), 0.4, seed=9))
    out = torch.empty_like(x)
    assert fastdrop.dropout(x, 0.4, seed=9, out=out) is out
    assert torch.equal(out, y)


@needs_torch
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


@needs_torch
def test_gradcheck_and_gradgradcheck_float64():
    x = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    for mask_mode in MASK_MODES:
        fn = lambda t: FF.dropout(t, 0.4, seed=3, mask_mode=mask_mode)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))


@needs_torch
@pytest.mark.parametrize("mask_mode", MASK_MODES)
def test_opcheck(mask_mode):
    x = torch.randn(33, 3, dtype=torch.float32, requires_grad=True)
    torch.library.opcheck(torch.ops.fastdrop.dropout.default, (x, 0.25, 11, 2, False, mask_mode))
    _, saved = torch.ops.fastdrop.dropout(x, 0.25, 11, 2, False, mask_mode)
    grad = torch.randn(33, 3, requires_grad=True)
    torch.library.opcheck(torch.ops.fastdrop.dropout_backward.default, (grad, saved, 0.25, mask_mode))


@needs_torch
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


@needs_torch
def test_calls_without_a_seed_draw_fresh_masks_and_generators_work():
    x = torch.ones(4096)
    assert not torch.equal(FF.dropout(x, 0.5), FF.dropout(x, 0.5))
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(FF.dropout(x, 0.5, generator=g1), FF.dropout(x, 0.5, generator=g2))


@needs_torch
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


@needs_torch
def test_bytes_saved_for_backward():
    n = 1 << 16
    x = torch.randn(n, requires_grad=True)
    torch_bytes = saved_bytes(lambda t: torch.nn.functional.dropout(t, 0.5), x)
    bits_bytes = saved_bytes(lambda t: FF.dropout(t, 0.5, mask_mode="bits"), x)
    recompute_bytes = saved_bytes(lambda t: FF.dropout(t, 0.5, mask_mode="recompute"), x)
    assert bits_bytes <= n / 8
    assert recompute_bytes == 16
    assert torch_bytes >= n  # torch keeps at least a byte per element (a float tensor on the CPU)


@needs_torch
def test_p_zero_p_one_and_eval_mode():
    x = torch.tensor([1.0, -2.0, float("inf"), float("nan")], requires_grad=True)
    y0 = FF.dropout(x, 0.0, seed=1)
    assert torch.equal(y0[:3], x[:3]) and y0[3].isnan()
    y1 = FF.dropout(x, 1.0, seed=1)
    assert torch.equal(y1, torch.zeros(4))
    y1.sum().backward()
    assert torch.equal(x.grad, torch.zeros(4))
    assert FF.dropout(x, 0.5, training=False) is x


@needs_torch
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


@needs_torch
def test_empty_tensor():
    x = torch.tensor([])
    assert FF.dropout(x).shape == x.shape


@needs_torch
@pytest.mark.parametrize("p", [-0.1, 1.1, float("nan")])
def test_invalid_p(p):
    with pytest.raises(ValueError, match="p: .*between 0 and 1"):
        FF.dropout(torch.ones(1), p)


@needs_torch
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


@needs_torch
def test_cuda_tensors_without_cuda_kernels_raise_clearly():
    meta = torch.ones(3, device="meta")
    with pytest.raises(RuntimeError, match="input: fastdrop has no kernels for device meta"):
        FF.dropout(meta, 0.5)


# --- fastdrop.torch.nn.Dropout -------------------------------------------------------------------


@needs_torch
def test_constructor_repr_and_type_match_torch():
    for args in [(), (0.3,), (0.3, True)]:
        ours, theirs = fnn.Dropout(*args), torch.nn.Dropout(*args)
        assert repr(ours) == repr(theirs)
        assert isinstance(ours, torch.nn.Dropout)
    assert repr(fnn.Dropout(0.2, mask_mode="recompute")) == "Dropout(p=0.2, inplace=False, mask_mode='recompute')"


@needs_torch
@pytest.mark.parametrize("p", [-0.1, 1.1])
def test_invalid_p_raises_at_construction(p):
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        fnn.Dropout(p)
    with pytest.raises(ValueError):
        FF.dropout(torch.ones(1), p)


@needs_torch
def test_invalid_mask_mode_raises_at_construction():
    with pytest.raises(ValueError, match="mask_mode: expected None or one of bits, recompute"):
        fnn.Dropout(0.5, mask_mode="byte")


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("memory_format", ["contiguous_format", "channels_last"])
def test_training_mean_grads_layout_and_eval(dtype, memory_format):
    dtype, memory_format = getattr(torch, dtype), getattr(torch, memory_format)
    p = 0.2
    data = torch.empty(1000, 2, 2, 3, dtype=dtype).fill_(1 - p)
    for inplace in (False, True):
        module = fnn.Dropout(p, inplace)
        x = data.clone(memory_format=memory_format).requires_grad_()
        out = module(x + 0 if inplace else x)
        assert out.is_contiguous(memory_format=memory_format)
        assert abs(out.float().mean().item() - (1 - p)) < 0.05
        out.backward(data)
        assert x.grad.is_contiguous(memory_format=memory_format)
        assert abs(x.grad.float().mean().item() - (1 - p)) < 0.05
        module.eval()
        assert module(data) is data


@needs_torch
@pytest.mark.parametrize("memory_format", ["contiguous_format", "channels_last"])
def test_discontiguous_inputs_keep_values_at_tiny_p(memory_format):
    memory_format = getattr(torch, memory_format)
    for p in (0.0, 1e-10):
        inp = torch.empty(2, 3, 3, 6, memory_format=memory_format)[..., ::2]
        inp.copy_(torch.ones(2, 3, 3, 3))
        out = fnn.Dropout(p)(inp)
        assert torch.equal(out, inp)
        if p:
            assert out.is_contiguous(memory_format=memory_format)


@needs_torch
def test_permuted_and_sliced_inputs_keep_their_dimension_order():
    base = torch.ones(2, 3, 4, 5)
    for perm in itertools.permutations(range(4)):
        inverse = [perm.index(d) for d in range(4)]
        for shift in ((0, 0), (1, 0), (0, 1), (1, 1)):
            x = base.permute(perm).contiguous().permute(inverse)[shift[0]:, shift[1]:]
            for p in (1e-10, 0.5):
                out = fnn.Dropout(p)(x)
                assert out.permute(perm).is_contiguous()
                if p == 1e-10:
                    assert torch.equal(out, x)
                else:
                    assert not torch.equal(out, x)


@needs_torch
def test_state_dict_loads_either_way():
    torch_model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Dropout(0.1))
    ours = torch.nn.Sequential(torch.nn.Linear(3, 3), fnn.Dropout(0.1))
    ours.load_state_dict(torch_model.state_dict())
    torch_model.load_state_dict(ours.state_dict())
    assert ours.state_dict().keys() == torch_model.state_dict().keys()
