"""fastdrop.dropout on NumPy arrays against the pure-Python reference: exact equality over shapes,
layouts, dtypes, p and seeds; masks; backward; p = 0, p = 1 and eval mode as in PyTorch."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastdrop
import reference
from conftest import random_array

shapes = st.lists(st.integers(0, 9), min_size=0, max_size=4).map(tuple)
probabilities = st.one_of(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]), st.floats(0.0, 1.0))
seeds = st.integers(0, 2**64 - 1)


def assert_same_bits(actual, expected):
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    raw = np.dtype(f"u{actual.dtype.itemsize}")
    np.testing.assert_array_equal(np.asarray(actual, order="C").view(raw), np.asarray(expected, order="C").view(raw))


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
