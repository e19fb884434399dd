"""shard= on the NumPy front-end: a slice computed alone equals that slice of the whole tensor's
result, bit for bit, for every op of the registry that shards, every split dimension and odd slice
sizes; masks and backward likewise; bad shards raise clear errors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import fastdrop
from fastdrop._registry import OPS

SHAPE = (4, 6, 10)
SEED = 99


def _slices(shape=SHAPE):
    for dim, size in enumerate(shape):
        for start, length in ((0, size), (1, 1), (2, size - 2), (size - 2, 2)):
            yield dim, start, length


def _take(a, dim, start, length):
    index = [slice(None)] * a.ndim
    index[dim] = slice(start, start + length)
    return a[tuple(index)]


def _unit_depth(shard):
    """The shard of SHAPE seen with a trailing dimension of 1 (dropout3d's (C, D, H, W))."""
    return None if shard is None else fastdrop.Shard(tuple(shard.global_shape) + (1,), shard.dim, shard.start)


SHARDING = [spec.name for spec in OPS if spec.shards]
# How each op that takes shard= is called on x, a SHAPE array or a slice of one.
CALLS: dict[str, Callable[..., np.ndarray]] = {
    "dropout": lambda x, **kw: fastdrop.dropout(x, 0.3, seed=SEED, **kw),
    "dropout1d": lambda x, **kw: fastdrop.dropout1d(x, 0.3, seed=SEED, **kw),
    "dropout2d": lambda x, **kw: fastdrop.dropout2d(x, 0.3, seed=SEED, **kw),
    "dropout3d": lambda x, shard=None: fastdrop.dropout3d(x[..., None], 0.3, seed=SEED,
                                                          shard=_unit_depth(shard))[..., 0],
    "alpha_dropout": lambda x, **kw: fastdrop.alpha_dropout(x, 0.3, seed=SEED, **kw),
    "feature_alpha_dropout": lambda x, **kw: fastdrop.feature_alpha_dropout(x, 0.3, seed=SEED, **kw),
    "stochastic_depth": lambda x, **kw: fastdrop.stochastic_depth(x, 0.3, "row", seed=SEED, **kw),
    "dropconnect": lambda x, **kw: fastdrop.dropconnect(x, 0.3, seed=SEED, **kw),
}
# dropout's entry point shards with a noise shape too (the units family's).
VARIANTS = {"noise_shape": lambda x, **kw: fastdrop.dropout(x, 0.3, seed=SEED, noise_shape=(None, 1, None), **kw)}
# The ops that take more arrays than x, or only slices that keep gaussian_dropout's Box-Muller
# pairs whole: the test of this module that covers each.
OWN_TESTS = {
    "gaussian_dropout": "test_gaussian_and_bias_dropout_add_shards",
    "bias_dropout_add": "test_gaussian_and_bias_dropout_add_shards",
    "bias_act_dropout": "test_bias_act_dropout_shards",
    "dropconnect_linear": "test_dropconnect_linear_shards",
}


def test_every_op_that_shards_has_its_case():
    assert sorted([*CALLS, *OWN_TESTS]) == sorted(SHARDING)
    assert all(callable(globals().get(test)) for test in OWN_TESTS.values())


@pytest.mark.parametrize("name", [name for name in SHARDING if name not in OWN_TESTS] + sorted(VARIANTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_shard_equals_slice_of_whole(name, dtype):
    call = {**CALLS, **VARIANTS}[name]
    x = np.random.default_rng(0).standard_normal(SHAPE).astype(dtype)
    whole = call(x)
    for dim, start, length in _slices():
        local = np.ascontiguousarray(_take(x, dim, start, length))
        y = call(local, shard=fastdrop.Shard(SHAPE, dim, start))
        np.testing.assert_array_equal(y, _take(whole, dim, start, length), err_msg=f"{name} {dim} {start}")


def test_dropconnect_linear_shards():
    """A slice of W (column- or row-parallel) is masked as that slice of the whole weight."""
    rng = np.random.default_rng(4)
    x, W, b = rng.standard_normal((3, SHAPE[-1])), rng.standard_normal(SHAPE[1:]), rng.standard_normal(SHAPE[1])
    masked = fastdrop.dropconnect(W, 0.3, seed=SEED)
    for dim, start, length in _slices(W.shape):
        shard = fastdrop.Shard(W.shape, dim, start)
        local_W = np.ascontiguousarray(_take(W, dim, start, length))
        local_x = np.ascontiguousarray(_take(x, 1, start, length)) if dim == 1 else x
        local_b = b[start:start + length] if dim == 0 else None
        y = fastdrop.dropconnect_linear(local_x, local_W, local_b, 0.3, seed=SEED, shard=shard)
        want = local_x @ np.ascontiguousarray(_take(masked, dim, start, length)).T
        np.testing.assert_array_equal(y, want if local_b is None else want + local_b, err_msg=f"{dim} {start}")


def test_gaussian_and_bias_dropout_add_shards():
    rng = np.random.default_rng(1)
    x, r = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)
    bias = rng.standard_normal(SHAPE[-1])
    gaussian = fastdrop.gaussian_dropout(x, 0.4, seed=SEED)
    fused = fastdrop.bias_dropout_add(x, bias, r, 0.4, seed=SEED)
    for dim, start, length in _slices():
        if start % 2 == 0 and length % 2 == 0:
            shard = fastdrop.Shard(SHAPE, dim, start)
            local = np.ascontiguousarray(_take(x, dim, start, length))
            np.testing.assert_array_equal(fastdrop.gaussian_dropout(local, 0.4, seed=SEED, shard=shard),
                                          _take(gaussian, dim, start, length))
            grad = fastdrop.gaussian_dropout_backward(local, 0.4, seed=SEED, offset=0, shard=shard)
            np.testing.assert_array_equal(grad, _take(gaussian, dim, start, length))
        shard = fastdrop.Shard(SHAPE, dim, start)
        local_bias = bias[start:start + length] if dim == len(SHAPE) - 1 else bias
        y = fastdrop.bias_dropout_add(np.ascontiguousarray(_take(x, dim, start, length)), local_bias,
                                      np.ascontiguousarray(_take(r, dim, start, length)), 0.4, seed=SEED, shard=shard)
        np.testing.assert_array_equal(y, _take(fused, dim, start, length))


def test_bias_act_dropout_shards():
    rng = np.random.default_rng(3)
    x, grad = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)
    bias = rng.standard_normal(SHAPE[-1])
    whole = fastdrop.bias_act_dropout(x, bias, 0.4, activation="gelu", seed=SEED)
    whole_grad, _ = fastdrop.bias_act_dropout_backward(grad, x, bias, 0.4, activation="gelu", seed=SEED, offset=0)
    for dim, start, length in _slices():
        shard = fastdrop.Shard(SHAPE, dim, start)
        local = np.ascontiguousarray(_take(x, dim, start, length))
        local_bias = bias[start:start + length] if dim == len(SHAPE) - 1 else bias
        y = fastdrop.bias_act_dropout(local, local_bias, 0.4, activation="gelu", seed=SEED, shard=shard)
        np.testing.assert_array_equal(y, _take(whole, dim, start, length))
        grad_x, grad_bias = fastdrop.bias_act_dropout_backward(np.ascontiguousarray(_take(grad, dim, start, length)),
                                                               local, local_bias, 0.4, activation="gelu", seed=SEED,
                                                               offset=0, shard=shard)
        np.testing.assert_array_equal(grad_x, _take(whole_grad, dim, start, length))
        np.testing.assert_array_equal(grad_bias, grad_x.sum(axis=(0, 1)))
    shard = fastdrop.Shard(SHAPE, 0, 0)
    with pytest.raises(ValueError, match="return_mask"):
        fastdrop.bias_act_dropout(x, bias, 0.4, seed=SEED, shard=shard, return_mask=True)
    _, bits = fastdrop.bias_act_dropout(x, bias, 0.4, seed=SEED, return_mask=True)
    with pytest.raises(ValueError, match="mask"):
        fastdrop.bias_act_dropout_backward(grad, x, bias, 0.4, mask=bits, shard=shard)


@pytest.mark.parametrize("mask_format", ["bool", "bits"])
def test_shard_masks_and_backward(mask_format):
    x = np.random.default_rng(2).standard_normal(SHAPE).astype(np.float32)
    _, whole_mask = fastdrop.dropout(x, 0.5, seed=SEED, return_mask=True)
    _, channel_mask = fastdrop.dropout1d(x, 0.5, seed=SEED, return_mask=True)
    for dim, start, length in _slices():
        shard = fastdrop.Shard(SHAPE, dim, start)
        local = np.ascontiguousarray(_take(x, dim, start, length))
        y, mask = fastdrop.dropout(local, 0.5, seed=SEED, shard=shard, return_mask=True, mask_format=mask_format)
        want = _take(whole_mask, dim, start, length)
        got = mask if mask_format == "bool" else np.unpackbits(mask, count=want.size, bitorder="little")
        np.testing.assert_array_equal(np.asarray(got, bool).reshape(want.shape), want)
        from_mask = fastdrop.dropout_backward(local, 0.5, mask=mask)
        from_seed = fastdrop.dropout_backward(local, 0.5, seed=SEED, shard=shard)
        np.testing.assert_array_equal(from_mask, y)
        np.testing.assert_array_equal(from_seed, y)
        if dim < 2:
            _, units = fastdrop.dropout1d(local, 0.5, seed=SEED, shard=shard, return_mask=True)
            np.testing.assert_array_equal(units, _take(channel_mask, dim, start, length)[..., :1])


def test_bad_shards():
    x = np.zeros((2, 6, 10), np.float32)
    with pytest.raises(TypeError, match="fastdrop.Shard"):
        fastdrop.dropout(x, 0.5, seed=1, shard=((4, 6, 10), 0, 0))
    with pytest.raises(ValueError, match="only dimension 1 may be split"):
        fastdrop.dropout(x, 0.5, seed=1, shard=fastdrop.Shard((4, 6, 10), 1, 0))
    with pytest.raises(ValueError, match="outside"):
        fastdrop.dropout(x, 0.5, seed=1, shard=fastdrop.Shard((4, 6, 10), 0, 3))
    with pytest.raises(ValueError, match="out of range"):
        fastdrop.dropout(x, 0.5, seed=1, shard=fastdrop.Shard((4, 6, 10), 3, 0))
    with pytest.raises(TypeError, match="start must be an int"):
        fastdrop.dropout(x, 0.5, seed=1, shard=fastdrop.Shard((4, 6, 10), 0, 1.5))
    with pytest.raises(ValueError, match="pairs"):
        fastdrop.gaussian_dropout(np.zeros((4, 6, 3)), 0.5, seed=1, shard=fastdrop.Shard((4, 6, 10), 2, 1))
    before = x.copy()
    with pytest.raises(ValueError):
        fastdrop.dropout(x, 0.5, seed=1, shard=fastdrop.Shard((4, 6, 10), 0, 3), out=x)
    np.testing.assert_array_equal(x, before)
