"""A bias added along the last dimension, shared by the fused ops (bias_dropout_add,
bias_act_dropout): its checks and its gradient, summed in float64 in a fixed order so that the bits
do not depend on the thread count."""

from __future__ import annotations

import numpy as np

from .arrays import as_input_array, flat_raw


def check_bias(x: np.ndarray, bias):
    """bias: x's last dimension of x's dtype, or None."""
    if x.ndim < 1:
        raise ValueError("x: expected at least 1 dimension (the bias is added along the last)")
    if bias is not None:
        bias = as_input_array(bias, "bias")
        if bias.dtype != x.dtype:
            raise TypeError(f"bias: expected dtype {x.dtype}, got {bias.dtype}")
        if bias.shape != x.shape[-1:]:
            raise ValueError(f"bias: expected shape {x.shape[-1:]} (x's last dimension), got {bias.shape}")
    return bias


def check_bias_residual(x: np.ndarray, bias, residual):
    """bias (x's last dimension, or None) and residual (x's shape), both of x's dtype."""
    bias = check_bias(x, bias)
    residual = as_input_array(residual, "residual")
    if residual.dtype != x.dtype:
        raise TypeError(f"residual: expected dtype {x.dtype}, got {residual.dtype}")
    if residual.shape != x.shape:
        raise ValueError(f"residual: expected x's shape {x.shape}, got {residual.shape}")
    return bias, residual


def flat_bias(bias):
    """A checked bias as the kernels take it (None stays None)."""
    return None if bias is None else flat_raw(np.asarray(bias, order="C"))


def column_sums(grad_x: np.ndarray) -> np.ndarray:
    """grad_x summed over all but its last dimension in float64, in NumPy's fixed order on one
    thread (the same bits whatever the thread count), rounded to the compute type."""
    compute = np.float64 if grad_x.dtype == np.float64 else np.float32
    return grad_x.sum(axis=tuple(range(grad_x.ndim - 1)), dtype=np.float64).astype(compute)


def bias_gradient(grad_x: np.ndarray) -> np.ndarray:
    """The gradient of a bias added along the last dimension: column_sums in grad_x's dtype."""
    return column_sums(grad_x).astype(grad_x.dtype)
