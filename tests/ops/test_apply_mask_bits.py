"""Broadcast (noise_shape, spatial, stochastic depth) and alpha dropout on NumPy arrays against
the pure-Python reference: exact equality, masks of the units, backward, statistics, errors."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastdrop
import reference
from conftest import random_array


def assert_same_bits(actual, expected):
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    raw = np.dtype(f"u{actual.dtype.itemsize}")
    np.testing.assert_array_equal(np.asarray(actual, order="C").view(raw), np.asarray(expected, order="C").view(raw))


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


def test_feature_alpha_dropout_matches_reference(dtype):
    x = random_array(np.random.default_rng(5), (5, 7, 3, 2), dtype)
    y, mask = fastdrop.feature_alpha_dropout(x, 0.3, seed=6, return_mask=True)
    assert mask.shape == (5, 7, 1, 1)
    keep = reference.broadcast_keep(x.shape, (5, 7, 1, 1), 0.3, 6, 0)
    assert_same_bits(y, reference.apply_alpha(x, keep, 0.3))
    grad = fastdrop.alpha_dropout_backward(x, 0.3, mask=mask, noise_shape=(5, 7, 1, 1))
    assert_same_bits(grad, reference.apply_alpha_grad(x, keep, 0.3))


def test_alpha_dropout_keeps_mean_and_variance():
    x = np.random.default_rng(6).standard_normal(1 << 20).astype(np.float32)
    y = fastdrop.alpha_dropout(x, 0.2, seed=9)
    assert abs(float(y.mean())) < 0.01 and abs(float(y.std()) - 1.0) < 0.01


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
