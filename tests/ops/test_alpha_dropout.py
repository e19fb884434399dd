"""alpha_dropout: the NumPy front-end against the pure-Python reference (forward, masks, backward
from the seed or the mask, mean and variance kept), then torch tensors against torch's own formula
driven by the same mask, and the alpha modules keeping mean and std."""

import numpy as np
import pytest

import fastdrop
import reference
from conftest import assert_same_bits, import_if_installed, keep_tensor, needs, random_array

torch = import_if_installed("torch")
needs_torch = needs("torch", torch)
if torch is not None:
    import fastdrop.torch as ft

    F = ft.functional


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9, 1.0])
def test_alpha_dropout_matches_reference(dtype, p):
    x = random_array(np.random.default_rng(3), (37, 11), dtype)
    y, mask = fastdrop.alpha_dropout(x, p, seed=4, offset=1, return_mask=True)
    keep = reference.keep_mask(x.shape, p, 4, 1)
    np.testing.assert_array_equal(mask, keep)
    assert_same_bits(y, reference.apply_alpha(x, keep, p))
    grad = random_array(np.random.default_rng(4), (37, 11), dtype)
    want = reference.apply_alpha_grad(grad, keep, p)
    assert_same_bits(fastdrop.alpha_dropout_backward(grad, p, seed=4, offset=1), want)
    assert_same_bits(fastdrop.alpha_dropout_backward(grad, p, mask=mask), want)


def test_alpha_dropout_keeps_mean_and_variance():
    x = np.random.default_rng(6).standard_normal(1 << 20).astype(np.float32)
    y = fastdrop.alpha_dropout(x, 0.2, seed=9)
    assert abs(float(y.mean())) < 0.01 and abs(float(y.std()) - 1.0) < 0.01


# --- torch tensors and modules ------------------------------------------------------------------


@needs_torch
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


@needs_torch
@pytest.mark.parametrize("cls, shape", [("AlphaDropout", (5000,)), ("FeatureAlphaDropout", (1000, 4, 2, 3))])
def test_alpha_modules_keep_mean_and_std(cls, shape):
    cls = getattr(ft.nn, cls)
    x = torch.randn(shape)
    for p in (0.2, 0.5, 0.8):
        out = cls(p)(x.clone().requires_grad_())
        assert abs(out.mean().item() - x.mean().item()) < 0.1
        assert abs(out.std().item() - x.std().item()) < 0.1
