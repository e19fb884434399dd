"""Other frameworks' arrays through DLPack: JAX CPU arrays go in (without a copy) and come back as
JAX arrays, with exactly the values NumPy inputs get."""

from __future__ import annotations

import numpy as np
import pytest

import fastdrop
from conftest import import_or_skip

jnp = import_or_skip("jax.numpy", "jax")


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_jax_arrays_round_trip(dtype):
    jax_dtype = getattr(jnp, dtype)
    x = jnp.linspace(-3, 3, 60, dtype=jnp.float32).reshape(3, 4, 5).astype(jax_dtype)
    reference = np.asarray(x)
    calls = {
        "dropout": lambda a: fastdrop.dropout(a, 0.3, seed=7),
        "dropout2d": lambda a: fastdrop.dropout2d(a, 0.3, seed=7),
        "alpha_dropout": lambda a: fastdrop.alpha_dropout(a, 0.3, seed=7),
        "gaussian_dropout": lambda a: fastdrop.gaussian_dropout(a, 0.3, seed=7),
        "sharded dropout": lambda a: fastdrop.dropout(a, 0.3, seed=7, shard=fastdrop.Shard((3, 8, 5), 1, 4)),
        "bias_dropout_add": lambda a: fastdrop.bias_dropout_add(a, a[0, 0], a, 0.3, seed=7),
    }
    for name, call in calls.items():
        y = call(x)
        assert type(y) is type(x), name
        assert y.dtype == x.dtype, name
        np.testing.assert_array_equal(np.asarray(y), call(reference), err_msg=name)


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
