"""The units family over the shared entry point apply_mask_bits (noise_shape, dropout1d/2d/3d,
feature_alpha_dropout, stochastic_depth, LockedDropout): the NumPy front-end against the
pure-Python reference (exact equality, masks of the units, backward, statistics, errors), then
torch tensors (the torch compositions they replace, layouts, autograd, opcheck, torch.compile) and
the modules (the behaviour PyTorch's own dropout module tests check)."""

import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastdrop
import reference
from conftest import assert_same_bits, import_if_installed, keep_tensor, needs, random_array

torch = import_if_installed("torch")
needs_torch = needs("torch", torch)
if torch is not None:
    import fastdrop.torch as ft

    F = ft.functional


@st.composite
def shapes_and_noise(draw):
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=4)))
    noise = tuple(size if draw(st.booleans()) else 1 for size in shape)
    return shape, noise


@settings(max_examples=60, deadline=None)
@given(case=shapes_and_noise(), p=st.sampled_from([0.0, 0.3, 0.5, 1.0]), seed=st.integers(0, 2**64 - 1),
       layout=st.sampled_from(["c", "fortran", "reversed", "strided"]))
def test_noise_shape_matches_reference(dtype, case, p, seed, layout):
    shape, noise = case
    x = random_array(np.random.default_rng(seed % 97), shape, dtype)
    if layout == "fortran":
        x = np.asfortranarray(x)
    elif layout == "reversed":
        x = x.transpose(tuple(reversed(range(x.ndim)))).copy().transpose(tuple(reversed(range(x.ndim))))
    elif layout == "strided":
        x = np.repeat(x, 2, axis=-1)[..., ::2]
    y, mask = fastdrop.dropout(x, p, seed=seed, offset=3, noise_shape=noise, return_mask=True)
    keep = reference.broadcast_keep(shape, noise, p, seed, 3)
    assert_same_bits(y, reference.apply_mask(np.asarray(x, order="C"), keep, p))
    np.testing.assert_array_equal(mask, reference.keep_mask(noise, p, seed, 3))
    grad = fastdrop.dropout_backward(x, p, seed=seed, offset=3, noise_shape=noise)
    assert_same_bits(grad, reference.apply_mask(np.asarray(x, order="C"), keep, p))
    _, bits = fastdrop.dropout(x, p, seed=seed, offset=3, noise_shape=noise, return_mask=True, mask_format="bits")
    assert_same_bits(fastdrop.dropout_backward(x, p, mask=bits, noise_shape=noise), grad)
    assert_same_bits(fastdrop.dropout_backward(x, p, mask=mask, noise_shape=noise), grad)


def test_noise_shape_none_entries_and_full_shape():
    x = random_array(np.random.default_rng(0), (4, 5), np.float32)
    a = fastdrop.dropout(x, 0.5, seed=1, noise_shape=(None, 1))
    np.testing.assert_array_equal(a, fastdrop.dropout(x, 0.5, seed=1, noise_shape=(4, 1)))
    # A full noise shape gives exactly the elementwise mask.
    np.testing.assert_array_equal(fastdrop.dropout(x, 0.5, seed=1, noise_shape=(4, 5)), fastdrop.dropout(x, 0.5, seed=1))


@pytest.mark.parametrize("name, batched, unbatched", [
    ("dropout1d", (4, 6, 9), (6, 9)),
    ("dropout2d", (4, 6, 3, 5), (6, 3, 5)),
    ("dropout3d", (4, 6, 2, 3, 2), (6, 2, 3, 2)),
])
def test_spatial_dropout_units_are_channels(dtype, name, batched, unbatched):
    fn = getattr(fastdrop, name)
    x = random_array(np.random.default_rng(1), batched, dtype)
    y, mask = fn(x, 0.4, seed=8, offset=2, return_mask=True)
    noise = batched[:2] + (1,) * (len(batched) - 2)
    assert mask.shape == noise
    keep = reference.broadcast_keep(batched, noise, 0.4, 8, 2)
    assert_same_bits(y, reference.apply_mask(x, keep, 0.4))
    # An unbatched input gets the mask its batched form (N = 1) would.
    single = x[0].reshape(unbatched)
    assert_same_bits(fn(single, 0.4, seed=8, offset=2), fn(single[None], 0.4, seed=8, offset=2)[0])


def test_channel_statistics():
    n, c = 512, 256
    x = np.ones((n, c, 3, 3), np.float32)
    y = fastdrop.dropout2d(x, 0.3, seed=2)
    per_channel = y.reshape(n, c, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel != 0).all(-1))
    dropped = int((per_channel[..., 0] == 0).sum())
    units = n * c
    assert abs(dropped - 0.3 * units) <= 6 * math.sqrt(units * 0.3 * 0.7)


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth(mode):
    x = random_array(np.random.default_rng(2), (64, 3, 4), np.float32)
    y, mask = fastdrop.stochastic_depth(x, 0.25, mode, seed=5, return_mask=True)
    noise = (64, 1, 1) if mode == "row" else (1, 1, 1)
    assert mask.shape == noise
    assert_same_bits(y, reference.apply_mask(x, reference.broadcast_keep(x.shape, noise, 0.25, 5, 0), 0.25))


def test_stochastic_depth_row_statistics():
    n = 1 << 16
    y = fastdrop.stochastic_depth(np.ones((n, 4), np.float32), 0.2, "row", seed=1)
    dropped = int((y[:, 0] == 0).sum())
    assert np.array_equal(y[:, 0], y[:, 3])
    assert abs(dropped - 0.2 * n) <= 6 * math.sqrt(n * 0.2 * 0.8)


def test_feature_alpha_dropout_matches_reference(dtype):
    x = random_array(np.random.default_rng(5), (5, 7, 3, 2), dtype)
    y, mask = fastdrop.feature_alpha_dropout(x, 0.3, seed=6, return_mask=True)
    assert mask.shape == (5, 7, 1, 1)
    keep = reference.broadcast_keep(x.shape, (5, 7, 1, 1), 0.3, 6, 0)
    assert_same_bits(y, reference.apply_alpha(x, keep, 0.3))
    grad = fastdrop.alpha_dropout_backward(x, 0.3, mask=mask, noise_shape=(5, 7, 1, 1))
    assert_same_bits(grad, reference.apply_alpha_grad(x, keep, 0.3))


def test_eval_mode_returns_the_input():
    x = np.ones((2, 3, 4), np.float32)
    for fn in (fastdrop.dropout1d, fastdrop.alpha_dropout, fastdrop.feature_alpha_dropout):
        assert fn(x, 0.5, training=False) is x
    assert fastdrop.stochastic_depth(x, 0.5, "row", training=False) is x


def test_bad_inputs():
    x = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"noise_shape: expected 3 dimensions"):
        fastdrop.dropout(x, 0.5, seed=0, noise_shape=(2, 1))
    with pytest.raises(ValueError, match="noise_shape: dimension 1 must be 1 or 3"):
        fastdrop.dropout(x, 0.5, seed=0, noise_shape=(2, 2, 4))
    with pytest.raises(TypeError, match="noise_shape: expected a sequence of ints"):
        fastdrop.dropout(x, 0.5, seed=0, noise_shape=5)
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D input"):
        fastdrop.dropout1d(np.ones((1, 2, 3, 4)), 0.5)
    with pytest.raises(RuntimeError, match="feature dropout requires at least 2 dimensions"):
        fastdrop.feature_alpha_dropout(np.ones(3), 0.5)
    with pytest.raises(ValueError, match="mode: has to be either 'batch' or 'row'"):
        fastdrop.stochastic_depth(x, 0.5, "column")
    with pytest.raises(ValueError, match="p: dropout probability has to be between 0 and 1"):
        fastdrop.dropout2d(x, 1.5)
    with pytest.raises(ValueError, match="mask: packed bits for 6 elements must be 1-D of 1 bytes"):
        fastdrop.dropout_backward(x, 0.5, mask=np.zeros(3, np.uint8), noise_shape=(2, 3, 1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fastdrop.dropout2d(np.ones((1, 2, 2, 2, 2), np.float32), 0.5, seed=0)
    assert any("Received a 5-D input to dropout2d" in str(w.message) for w in caught)
    np.testing.assert_array_equal(x, np.ones((2, 3, 4)))


# --- torch tensors and modules ------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("memory_format", ["contiguous_format", "channels_last"])
def test_dropout2d_matches_torch_composition(dtype, memory_format):
    dtype, memory_format = getattr(torch, dtype), getattr(torch, memory_format)
    x = torch.randn(4, 6, 5, 3, dtype=dtype).to(memory_format=memory_format).requires_grad_()
    y = F.dropout2d(x, 0.3, seed=7, offset=1)
    keep = keep_tensor(x.shape, (4, 6, 1, 1), 0.3, 7, 1)
    scale = torch.tensor(1 / 0.7, dtype=torch.float64).to(dtype)
    assert torch.equal(y, torch.where(keep, x * scale, 0))
    assert y.is_contiguous(memory_format=memory_format)
    y.backward(torch.ones_like(y))
    assert torch.equal(x.grad, torch.where(keep, scale, 0).to(dtype).expand_as(x))
    assert x.grad.is_contiguous(memory_format=memory_format)


@needs_torch
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_16_bit_variants_match_reference(dtype):
    dtype = getattr(torch, dtype)
    x = torch.randn(3, 5, 4).to(dtype)
    y = F.feature_alpha_dropout(x, 0.4, True, seed=2)
    keep = reference.broadcast_keep(x.shape, (3, 5, 1), 0.4, 2, 0)
    if dtype == torch.bfloat16:
        ml_dtypes = pytest.importorskip("ml_dtypes")
        arr = x.view(torch.int16).numpy().view(np.uint16).view(ml_dtypes.bfloat16)
        want = torch.from_numpy(reference.apply_alpha(arr, keep, 0.4).view(np.int16).copy()).view(dtype)
    else:
        want = torch.from_numpy(reference.apply_alpha(x.numpy(), keep, 0.4))
    assert torch.equal(y.view(torch.int16), want.view(torch.int16))


@needs_torch
def test_numpy_and_torch_agree():
    x = np.random.default_rng(0).standard_normal((6, 4, 3)).astype(np.float32)
    for name, args in [("dropout1d", ()), ("alpha_dropout", ()), ("feature_alpha_dropout", ()),
                       ("stochastic_depth", ("row",))]:
        a = getattr(fastdrop, name)(x, 0.3, *args, seed=5)
        b = getattr(fastdrop, name)(torch.from_numpy(x), 0.3, *args, seed=5)
        np.testing.assert_array_equal(a, b.numpy())
    a = fastdrop.dropout(x, 0.3, seed=5, noise_shape=(6, 1, 3))
    np.testing.assert_array_equal(a, fastdrop.dropout(torch.from_numpy(x), 0.3, seed=5, noise_shape=(6, 1, 3)).numpy())


@needs_torch
def test_locked_dropout_shares_the_mask_over_time():
    for batch_first in (False, True):
        module = ft.nn.LockedDropout(0.5, batch_first=batch_first)
        y = module(torch.ones(7, 5, 9))
        steps = y.unbind(1 if batch_first else 0)
        for step in steps[1:]:
            assert torch.equal(step, steps[0])
        assert 0 < (y == 0).float().mean() < 1
        module.eval()
        x = torch.ones(7, 5, 9)
        assert module(x) is x


@needs_torch
def test_stochastic_depth_module_and_rows():
    module = ft.nn.StochasticDepth(0.5, "row")
    assert repr(module) == "StochasticDepth(p=0.5, mode=row)"
    y = module(torch.ones(256, 3, 2))
    rows = y.reshape(256, -1)
    assert torch.all((rows == 0).all(1) | (rows == 2).all(1))
    with pytest.raises(ValueError, match="mode: has to be either 'batch' or 'row'"):
        ft.nn.StochasticDepth(0.5, "col")


@needs_torch
def test_gradcheck_and_opcheck():
    x = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    for fn in (lambda t: F.dropout1d(t, 0.4, seed=1), lambda t: F.alpha_dropout(t, 0.4, True, seed=1),
               lambda t: F.stochastic_depth(t, 0.4, "row", seed=1)):
        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))
    xf = torch.randn(3, 4, 5, requires_grad=True)
    # Unsharded, and a shard: rows [1, 3) of dimension 1 of a (3, 6, 5) tensor.
    for kind, shard in (("dropout", []), ("alpha", []), ("dropout", [1, 1, 3, 6, 5])):
        noise = [3, 6 if shard else 4, 1]
        torch.library.opcheck(torch.ops.fastdrop.dropout_units.default, (xf, 0.3, 5, 0, False, noise, kind, shard))
        _, bits = torch.ops.fastdrop.dropout_units(xf, 0.3, 5, 0, False, noise, kind, shard)
        grad = torch.randn(3, 4, 5, requires_grad=True)
        torch.library.opcheck(torch.ops.fastdrop.dropout_units_backward.default, (grad, bits, 0.3, noise, kind, shard))


@needs_torch
def test_spatial_dropout_saves_one_bit_per_channel():
    x = torch.randn(16, 32, 8, 8, requires_grad=True)
    saved = []

    def pack(t):
        if t.data_ptr() != x.data_ptr():
            saved.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        F.dropout2d(x, 0.5)
    assert sum(saved) <= (16 * 32 + 7) // 8


@needs_torch
def test_compiled_model_with_variants_matches_eager():
    def make():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), ft.nn.Dropout2d(0.3), torch.nn.SELU(),
                                   torch.nn.Flatten(), ft.nn.AlphaDropout(0.2), torch.nn.Linear(8 * 6 * 6, 2))
    eager, compiled = make(), torch.compile(make(), fullgraph=True)
    x = torch.randn(4, 3, 8, 8)
    torch.manual_seed(11)
    out_e = eager(x)
    torch.manual_seed(11)
    out_c = compiled(x)
    torch.testing.assert_close(out_c, out_e, rtol=1e-5, atol=1e-6)


@needs_torch
@pytest.mark.parametrize("cls", ["Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"])
def test_modules_are_drop_ins(cls):
    cls = getattr(ft.nn, cls)
    theirs = getattr(torch.nn, cls.__name__)
    assert repr(cls(0.3, True)) == repr(theirs(0.3, True))
    assert isinstance(cls(), theirs)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        cls(1.1)
    model = ft.convert(torch.nn.Sequential(theirs(0.2)))
    assert type(model[0]) is cls


@needs_torch
@pytest.mark.parametrize("cls, shape, unbatched", [
    ("Dropout1d", (10, 4, 2), (50, 2)),
    ("Dropout2d", (10, 4, 2, 2), (50, 2, 2)),
    ("Dropout3d", (10, 4, 2, 2, 2), (50, 2, 2, 2)),
])
def test_channels_dropped_whole_and_unbatched_matches_batched(cls, shape, unbatched):
    cls = getattr(ft.nn, cls)
    for inplace in (False, True):
        result = cls(0.5, inplace)(torch.ones(shape))
        per_channel = result.reshape(shape[0], shape[1], -1)
        assert torch.all((per_channel == 0).all(-1) | (per_channel != 0).all(-1))
        x = torch.rand(unbatched)
        with torch.random.fork_rng():
            torch.manual_seed(3)
            alone = cls(0.5, inplace)(x.clone())
        with torch.random.fork_rng():
            torch.manual_seed(3)
            batched = cls(0.5, inplace)(x.clone().unsqueeze(0)).squeeze(0)
        assert torch.equal(alone, batched)


@needs_torch
def test_dropout1d_rank_errors_and_dropout2d_warnings_as_torch():
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input, but received a 4D input"):
        ft.nn.Dropout1d(0.5)(torch.rand(1, 2, 2, 2))
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input, but received a 1D input"):
        ft.nn.Dropout1d(0.5)(torch.rand(2))
    with pytest.warns(UserWarning, match="Received a 5-D input to dropout2d"):
        ft.nn.Dropout2d(0.5)(torch.rand(1, 2, 2, 2, 2))
    with pytest.warns(UserWarning, match="Received a 6-D input to dropout3d"):
        ft.nn.Dropout3d(0.5)(torch.rand(1, 2, 2, 2, 2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ft.nn.Dropout2d(0.5)(torch.rand(2, 2, 2))  # unbatched (C, H, W), as documented


@needs_torch
@pytest.mark.parametrize("cls, shape", [("Dropout2d", (1000, 2, 3, 3)), ("Dropout3d", (1000, 2, 2, 2, 2))])
def test_training_mean_grads_and_layouts(cls, shape):
    cls = getattr(ft.nn, cls)
    p = 0.2
    data = torch.empty(shape).fill_(1 - p)
    formats = [torch.contiguous_format, torch.channels_last if len(shape) == 4 else torch.channels_last_3d]
    for memory_format, inplace in itertools.product(formats, (False, True)):
        x = data.clone(memory_format=memory_format).requires_grad_()
        out = cls(p, inplace)(x + 0 if inplace else x)
        assert out.is_contiguous(memory_format=memory_format)
        assert abs(out.mean().item() - (1 - p)) < 0.05
        out.backward(data)
        assert x.grad.is_contiguous(memory_format=memory_format)
        assert abs(x.grad.mean().item() - (1 - p)) < 0.05
    module = cls(p).eval()
    assert module(data) is data
