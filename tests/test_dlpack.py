"""Other frameworks' arrays through DLPack: JAX CPU arrays go in (without a copy) and come back as
JAX arrays, with exactly the values NumPy inputs get, for every op of the registry."""

from __future__ import annotations

import numpy as np
import pytest

import fastdrop
from fastdrop._registry import OPS
from conftest import import_or_skip

jnp = import_or_skip("jax.numpy", "jax")


# How each op of the registry is called on a, a (3, 4, 5) array of one framework or the other.
CALLS = {
    "dropout": lambda a: fastdrop.dropout(a, 0.3, seed=7),
    "dropout1d": lambda a: fastdrop.dropout1d(a, 0.3, seed=7),
    "dropout2d": lambda a: fastdrop.dropout2d(a, 0.3, seed=7),
    "dropout3d": lambda a: fastdrop.dropout3d(a[None], 0.3, seed=7),
    "alpha_dropout": lambda a: fastdrop.alpha_dropout(a, 0.3, seed=7),
    "feature_alpha_dropout": lambda a: fastdrop.feature_alpha_dropout(a, 0.3, seed=7),
    "stochastic_depth": lambda a: fastdrop.stochastic_depth(a, 0.3, "row", seed=7),
    "gaussian_dropout": lambda a: fastdrop.gaussian_dropout(a, 0.3, seed=7),
    "bias_dropout_add": lambda a: fastdrop.bias_dropout_add(a, a[0, 0], a, 0.3, seed=7),
    "bias_act_dropout": lambda a: fastdrop.bias_act_dropout(a, a[0, 0], 0.3, activation="gelu", seed=7),
    "drop_block2d": lambda a: fastdrop.drop_block2d(a, 0.3, 3, seed=7),
    "dropconnect": lambda a: fastdrop.dropconnect(a, 0.3, seed=7),
    "dropconnect_linear": lambda a: fastdrop.dropconnect_linear(a, a[0], a[0, 0, :4], 0.3, seed=7),
}
# Calls beyond one per op.
VARIANTS = {
    "sharded dropout": lambda a: fastdrop.dropout(a, 0.3, seed=7, shard=fastdrop.Shard((3, 8, 5), 1, 4)),
}
# Ops whose NumPy result has another dtype than x for some dtype, which DLPack then returns too:
# NumPy's matmul of bfloat16 (ml_dtypes) gives float32.
RESULT_DTYPE = {("dropconnect_linear", "bfloat16"): "float32"}


def test_every_op_has_its_call():
    assert sorted(CALLS) == sorted(spec.name for spec in OPS)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_jax_arrays_round_trip(dtype):
    jax_dtype = getattr(jnp, dtype)
    x = jnp.linspace(-3, 3, 60, dtype=jnp.float32).reshape(3, 4, 5).astype(jax_dtype)
    reference = np.asarray(x)
    calls = {**{spec.name: CALLS[spec.name] for spec in OPS}, **VARIANTS}
    for name, call in calls.items():
        y = call(x)
        want = call(reference)
        assert type(y) is type(x), name
        assert y.dtype == RESULT_DTYPE.get((name, dtype), x.dtype), name
        assert want.dtype == np.asarray(y).dtype, name
        np.testing.assert_array_equal(np.asarray(y), want, err_msg=name)


def test_jax_input_is_read_without_a_copy():
    x = jnp.ones((4, 8), jnp.float32)
    native = fastdrop._common.dlpack.to_native(x, "x")
    assert isinstance(native, np.ndarray)
    assert native.__array_interface__["data"][0] == x.unsafe_buffer_pointer()


def test_jax_mask_and_errors():
    x = jnp.ones((4, 8), jnp.float32)
    y, mask = fastdrop.dropout(x, 0.5, seed=3, return_mask=True)
    assert type(mask) is type(x) and mask.dtype == jnp.bool_
    np.testing.assert_array_equal(np.asarray(y) != 0, np.asarray(mask))
    with pytest.raises(TypeError, match="out: not supported"):
        fastdrop.dropout(x, 0.5, seed=3, out=jnp.empty_like(x))
    with pytest.raises(ValueError, match="p"):
        fastdrop.dropout(x, 1.5)
    with pytest.raises(TypeError, match="floating-point"):
        fastdrop.dropout(jnp.ones(3, jnp.int32), 0.5)
