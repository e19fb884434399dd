"""The broadcast and alpha variants on torch tensors: exact results against the reference, the
torch compositions they replace, layouts, autograd, opcheck, torch.compile, modules and the
behaviour PyTorch's own dropout module tests check."""

import itertools
import warnings

import numpy as np
import pytest

from conftest import import_or_skip

torch = import_or_skip("torch", "torch")

import fastdrop  # noqa: E402
import fastdrop.torch as ft  # noqa: E402
import reference  # noqa: E402

F = ft.functional


def keep_tensor(shape, noise, p, seed, offset=0):
    return torch.from_numpy(np.array(reference.broadcast_keep(shape, noise, p, seed, offset)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_dropout2d_matches_torch_composition(dtype, memory_format):
    x = torch.randn(4, 6, 5, 3, dtype=dtype).to(memory_format=memory_format).requires_grad_()
    y = F.dropout2d(x, 0.3, seed=7, offset=1)
    keep = keep_tensor(x.shape, (4, 6, 1, 1), 0.3, 7, 1)
    scale = torch.tensor(1 / 0.7, dtype=torch.float64).to(dtype)
    assert torch.equal(y, torch.where(keep, x * scale, 0))
    assert y.is_contiguous(memory_format=memory_format)
    y.backward(torch.ones_like(y))
    assert torch.equal(x.grad, torch.where(keep, scale, 0).to(dtype).expand_as(x))
    assert x.grad.is_contiguous(memory_format=memory_format)


def test_alpha_dropout_matches_torch_formula_driven_by_the_mask():
    x = torch.randn(1000, requires_grad=True)
    p, alpha = 0.2, 1.7580993408473766
    y = F.alpha_dropout(x, p, True, seed=3)
    noise = keep_tensor(x.shape, (1000,), p, 3).float()
    # torch's alpha_dropout: a, b from the mask, then input * noise + b, all in float32.
    a = 1.0 / ((alpha * alpha * p + 1) * (1 - p)) ** 0.5
    b = noise.add(-1).mul_(alpha * a).add_(alpha * a * p)
    assert torch.equal(y, x.detach() * noise.mul(a) + b)
    y.sum().backward()
    assert torch.equal(x.grad, noise.mul(a))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_16_bit_variants_match_reference(dtype):
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


def test_numpy_and_torch_agree():
    x = np.random.default_rng(0).standard_normal((6, 4, 3)).astype(np.float32)
    for name, args in [("dropout1d", ()), ("alpha_dropout", ()), ("feature_alpha_dropout", ()),
                       ("stochastic_depth", ("row",))]:
        a = getattr(fastdrop, name)(x, 0.3, *args, seed=5)
        b = getattr(fastdrop, name)(torch.from_numpy(x), 0.3, *args, seed=5)
        np.testing.assert_array_equal(a, b.numpy())
    a = fastdrop.dropout(x, 0.3, seed=5, noise_shape=(6, 1, 3))
    np.testing.assert_array_equal(a, fastdrop.dropout(torch.from_numpy(x), 0.3, seed=5, noise_shape=(6, 1, 3)).numpy())


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


def test_stochastic_depth_module_and_rows():
    module = ft.nn.StochasticDepth(0.5, "row")
    assert repr(module) == "StochasticDepth(p=0.5, mode=row)"
    y = module(torch.ones(256, 3, 2))
    rows = y.reshape(256, -1)
    assert torch.all((rows == 0).all(1) | (rows == 2).all(1))
    with pytest.raises(ValueError, match="mode: has to be either 'batch' or 'row'"):
        ft.nn.StochasticDepth(0.5, "col")


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


@pytest.mark.parametrize("cls", [ft.nn.Dropout1d, ft.nn.Dropout2d, ft.nn.Dropout3d, ft.nn.AlphaDropout,
                                 ft.nn.FeatureAlphaDropout])
def test_modules_are_drop_ins(cls):
    theirs = getattr(torch.nn, cls.__name__)
    assert repr(cls(0.3, True)) == repr(theirs(0.3, True))
    assert isinstance(cls(), theirs)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        cls(1.1)
    model = ft.convert(torch.nn.Sequential(theirs(0.2)))
    assert type(model[0]) is cls


@pytest.mark.parametrize("cls, shape, unbatched", [
    (ft.nn.Dropout1d, (10, 4, 2), (50, 2)),
    (ft.nn.Dropout2d, (10, 4, 2, 2), (50, 2, 2)),
    (ft.nn.Dropout3d, (10, 4, 2, 2, 2), (50, 2, 2, 2)),
])
def test_channels_dropped_whole_and_unbatched_matches_batched(cls, shape, unbatched):
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


@pytest.mark.parametrize("cls, shape", [(ft.nn.Dropout2d, (1000, 2, 3, 3)), (ft.nn.Dropout3d, (1000, 2, 2, 2, 2))])
def test_training_mean_grads_and_layouts(cls, shape):
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


@pytest.mark.parametrize("cls, shape", [(ft.nn.AlphaDropout, (5000,)), (ft.nn.FeatureAlphaDropout, (1000, 4, 2, 3))])
def test_alpha_modules_keep_mean_and_std(cls, shape):
    x = torch.randn(shape)
    for p in (0.2, 0.5, 0.8):
        out = cls(p)(x.clone().requires_grad_())
        assert abs(out.mean().item() - x.mean().item()) < 0.1
        assert abs(out.std().item() - x.std().item()) < 0.1
