"""Fused bias + dropout + residual add on NumPy arrays: y = residual + dropout(x + bias)."""

from __future__ import annotations

import numpy as np

from .._common import backend
from .._common.arrays import as_input_array, check_out, finish, flat_raw, kernel_dtype, mask_from_bits, target
from .._common.bias import bias_gradient, check_bias_residual, flat_bias
from .._common.checks import check_mask_format, check_p
from .._common.generator import resolve_seed_offset
from .._common.shard import runs_of
from .dropout import dropout_backward


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
    runs = runs_of(shard, x.shape, return_mask)
    if out is not None:
        check_out(out, x)
    seed, offset = resolve_seed_offset(seed, offset, generator) if training else (0, 0)
    p_applied = p if training else 0.0
    src = np.asarray(x, order="C")
    y = target(src, out)
    if y is not out and out is not None and np.may_share_memory(out, residual):
        y = np.empty_like(src)
    bits = np.empty((src.size + 7) // 8, np.uint8) if return_mask else None
    cols = max(x.shape[-1], 1)
    arrays = (flat_raw(src), flat_bias(bias), flat_raw(np.asarray(residual, order="C")), flat_raw(y), cols, p_applied,
              seed, offset)
    if runs is None:
        backend.active().bias_dropout_add_forward(dtype, *arrays, bits)
    else:
        backend.active().bias_dropout_add_forward_runs(dtype, *arrays, runs)
    y = finish(y, out)
    return (y, mask_from_bits(bits, x.shape, mask_format)) if return_mask else y


def bias_dropout_add_backward(grad, p=0.5, *, seed=None, offset=None, mask=None, has_bias=True, shard=None):
    """(grad_x, grad_bias, grad_residual) of bias_dropout_add: grad_x is dropout's backward of grad
    (from (seed, offset) or the mask), grad_bias its sum over all but the last dimension (None
    without a bias), grad_residual grad itself."""
    grad_x = dropout_backward(grad, p, seed=seed, offset=offset, mask=mask, shard=shard)
    return grad_x, bias_gradient(grad_x) if has_bias else None, np.asarray(grad)
