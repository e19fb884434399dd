"""Fused bias + activation + dropout on NumPy arrays: y = dropout(act(x + bias)), and its backward."""

from __future__ import annotations

import numpy as np

from .._common import backend
from .._common.arrays import as_input_array, check_out, finish, flat_raw, kernel_dtype, mask_bits_of, target
from .._common.bias import bias_gradient, check_bias, flat_bias
from .._common.checks import check_activation, check_p
from .._common.generator import resolve_seed_offset
from .._common.shard import runs_of


def bias_act_dropout(x, bias, p=0.5, *, activation="relu", approximate="none", training=True, seed=None, offset=None,
                     generator=None, out=None, return_mask=False, shard=None):
    """y = dropout(act(x + bias)) in one pass, bias (x's last dimension) may be None, act relu or
    gelu (approximate='none': exact, erf; 'tanh': its tanh form), named as torch names them. In
    eval mode (training=False) y = act(x + bias). return_mask also returns the keep bits (bit
    i & 7 of byte i >> 3 for element i in row-major order): what bias_act_dropout_backward takes.
    shard: fastdrop.Shard for a slice of a larger tensor (bias is then the slice's own: its last
    dimension's)."""
    x = as_input_array(x, "x")
    dtype = kernel_dtype(x.dtype, "x")
    p = check_p(p)
    kernel = check_activation(activation, approximate)
    bias = check_bias(x, bias)
    runs = runs_of(shard, x.shape, return_mask)
    if out is not None:
        check_out(out, x)
    seed, offset = resolve_seed_offset(seed, offset, generator) if training else (0, 0)
    src = np.asarray(x, order="C")
    y = target(src, out)
    if y is out and bias is not None and np.may_share_memory(out, bias):
        y = np.empty(src.shape, src.dtype)  # the kernel reads the bias while it writes y
    bits = np.empty((src.size + 7) // 8, np.uint8) if return_mask else None
    arrays = (kernel, dtype, flat_raw(src), flat_bias(bias), flat_raw(y), x.shape[-1], p if training else 0.0,
              seed, offset)
    if runs is None:
        backend.active().bias_act_dropout_forward(*arrays, bits)
    else:
        backend.active().bias_act_dropout_forward_runs(*arrays, runs)
    y = finish(y, out)
    return (y, bits) if return_mask else y


def bias_act_dropout_backward(grad, x, bias, p=0.5, *, activation="relu", approximate="none", seed=None, offset=None,
                              mask=None, shard=None):
    """(grad_x, grad_bias) of bias_act_dropout, given the forward's x and bias: grad_x = keep ?
    act'(x + bias) grad / (1 - p) : 0 with the mask regenerated from the forward's (seed, offset)
    or read from mask (its packed bits, or a bool mask of x's shape), grad_bias the sum of grad_x
    over all but the last dimension (None without a bias). shard: as the forward's (the mask then
    regenerated: sharded forwards keep none)."""
    grad = as_input_array(grad, "grad")
    x = as_input_array(x, "x")
    dtype = kernel_dtype(x.dtype, "x")
    if grad.dtype != x.dtype:
        raise TypeError(f"grad: expected x's dtype {x.dtype}, got {grad.dtype}")
    if grad.shape != x.shape:
        raise ValueError(f"grad: expected x's shape {x.shape}, got {grad.shape}")
    p = check_p(p)
    kernel = check_activation(activation, approximate)
    bias = check_bias(x, bias)
    if (seed is None) == (mask is None):
        raise ValueError("bias_act_dropout_backward: pass exactly one of seed= (regenerate) or mask=")
    runs = runs_of(shard, x.shape)
    if shard is not None and mask is not None:
        raise ValueError("mask: sharded calls keep no mask; pass seed= and shard=")
    bits = None
    if mask is not None:
        bits = mask_bits_of(mask, grad)
    else:
        seed, offset = resolve_seed_offset(seed, offset, None)
    grad_x = np.empty(x.shape, x.dtype)
    arrays = (kernel, dtype, flat_raw(np.asarray(grad, order="C")), flat_raw(np.asarray(x, order="C")),
              flat_bias(bias), flat_raw(grad_x), x.shape[-1], p)
    if runs is None:
        backend.active().bias_act_dropout_backward(*arrays, seed or 0, offset or 0, bits)
    else:
        backend.active().bias_act_dropout_backward_runs(*arrays, seed, offset, runs)
    return grad_x, None if bias is None else bias_gradient(grad_x)
