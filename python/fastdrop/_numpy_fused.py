"""Fused bias + dropout + residual add on NumPy arrays: y = residual + dropout(x + bias)."""

from __future__ import annotations

import numpy as np

from . import _backend
from ._checks import check_mask_format, check_p
from ._generator import resolve_seed_offset
from ._numpy_frontend import (
    _check_out, _finish, _flat_raw, _runs_of, _target, as_input_array, dropout_backward, kernel_dtype,
)


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


def column_sums(grad_x: np.ndarray) -> np.ndarray:
    """grad_x summed over all but its last dimension in float64, in NumPy's fixed order on one
    thread (the same bits whatever the thread count), rounded to the compute type."""
    compute = np.float64 if grad_x.dtype == np.float64 else np.float32
    return grad_x.sum(axis=tuple(range(grad_x.ndim - 1)), dtype=np.float64).astype(compute)


def bias_gradient(grad_x: np.ndarray) -> np.ndarray:
    """The gradient of a bias added along the last dimension: column_sums in grad_x's dtype."""
    return column_sums(grad_x).astype(grad_x.dtype)


def bias_dropout_add(x, bias, residual, p=0.5, *, training=True, seed=None, offset=None, generator=None, out=None,
                     return_mask=False, mask_format="bits", shard=None):
    """y = residual + dropout(x + bias) in one pass; bias may be None. In eval mode (training=False)
    y = residual + (x + bias). return_mask gives the keep mask of x's elements (packed bits by
    default: what bias_dropout_add_backward takes). shard: fastdrop.Shard for a slice of a larger
    tensor (bias is then the slice's own: its last dimension's)."""
    x = as_input_array(x, "x")
    dtype = kernel_dtype(x.dtype, "x")
    p = check_p(p)
    mask_format = check_mask_format(mask_format)
    bias, residual = check_bias_residual(x, bias, residual)
    runs = _runs_of(shard, x.shape, return_mask)
    if out is not None:
        _check_out(out, x)
    seed, offset = resolve_seed_offset(seed, offset, generator) if training else (0, 0)
    p_applied = p if training else 0.0
    src = np.asarray(x, order="C")
    y = _target(src, out)
    if y is not out and out is not None and np.may_share_memory(out, residual):
        y = np.empty_like(src)
    bits = np.empty((src.size + 7) // 8, np.uint8) if return_mask else None
    cols = max(x.shape[-1], 1)
    arrays = (_flat_raw(src), None if bias is None else _flat_raw(np.asarray(bias, order="C")),
              _flat_raw(np.asarray(residual, order="C")), _flat_raw(y), cols, p_applied, seed, offset)
    if runs is None:
        _backend.active().bias_dropout_add_forward(dtype, *arrays, bits)
    else:
        _backend.active().bias_dropout_add_forward_runs(dtype, *arrays, runs)
    y = _finish(y, out)
    if not return_mask:
        return y
    if mask_format == "bool":
        return y, np.unpackbits(bits, count=src.size, bitorder="little").astype(np.bool_).reshape(x.shape)
    return y, bits


def bias_dropout_add_backward(grad, p=0.5, *, seed=None, offset=None, mask=None, has_bias=True, shard=None):
    """(grad_x, grad_bias, grad_residual) of bias_dropout_add: grad_x is dropout's backward of grad
    (from (seed, offset) or the mask), grad_bias its sum over all but the last dimension (None
    without a bias), grad_residual grad itself."""
    grad_x = dropout_backward(grad, p, seed=seed, offset=offset, mask=mask, shard=shard)
    return grad_x, bias_gradient(grad_x) if has_bias else None, np.asarray(grad)
