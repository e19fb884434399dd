"""Numba mirror of fastdrop_apply_mask_bits, the shared entry point of the units family (dropout
with a noise shape, dropout1d/2d/3d, feature alpha dropout, stochastic depth): stored keep bits of
units applied to data whose elements share them, bit-identical to the C++ core.

Its C++ twins: the entry point fastdrop_apply_mask_bits of the C ABI and its kernel
csrc/cpu/apply_mask_bits_kernel.cpp, whose row-segment walk (unit_bit, unit_keeps) is
dropout_kernel.py's, as the shared tile loop reads it. The interface is fastdrop._native's
(apply_mask_bits).
"""

from __future__ import annotations

import math

import numpy as np

from .alpha_dropout import alpha_of, make_alpha_params
from .api_common import buffer, single_run
from .dropout_kernel import kind_of, run_dropout
from .element_ops import alpha_op, dropout_op
from .philox_stream import make_dropout_params, scale_of

# The entry points under the compiled module's names (collected by _numba/__init__.py).
__all__ = ["apply_mask_bits"]

# Dimensions apply_mask_bits takes (the C ABI's kMaxDims); callers merge adjacent dimensions first.
MAX_DIMS = 16

_APPLY_KINDS = ("dropout", "alpha", "alpha_grad")


def apply_mask_bits(kind, dtype, x, y, shape, unit_strides, p, unit_bits):
    """y = kind(x, keep bit of the element's unit) for a contiguous x of `shape` (row-major), whose
    element (i_0, ..., i_last) belongs to unit sum_d i_d * unit_strides[d] (stride 0 broadcasts).

    kind: "dropout" (keep ? x * s : 0), "alpha" (alpha dropout's forward) or "alpha_grad" (its
    backward, keep ? x * a : 0). Keep bits are read from unit_bits as mask_bits writes them.
    """
    if kind not in _APPLY_KINDS:
        raise ValueError(f"kind: expected dropout, alpha or alpha_grad, got {kind}")
    kernel, storage, compute = kind_of(dtype)
    if len(shape) != len(unit_strides):
        raise ValueError("unit_strides: expected one per dimension of shape")
    if not 1 <= len(shape) <= MAX_DIMS:
        raise ValueError(f"shape: expected 1 to {MAX_DIMS} dimensions, got {len(shape)}")
    dims = np.array(shape, np.int64)
    strides = np.array(unit_strides, np.int64)
    if (dims < 0).any() or (strides < 0).any():
        raise ValueError("shape, unit_strides: expected values >= 0")
    n = math.prod(int(d) for d in dims)
    xs = buffer(x, "x", storage, n, False)
    ys = buffer(y, "out", storage, n, True)
    bits = np.asarray(unit_bits)
    if not bits.flags.c_contiguous:
        raise ValueError("unit_bits: must be C-contiguous")
    bits = bits.reshape(-1).view(np.uint8)
    # The native module trusts the caller here; a short buffer would be read past its end.
    units = 1 + sum((int(d) - 1) * int(u) for d, u in zip(dims, strides)) if n else 0
    if bits.size < (units + 7) // 8:
        raise ValueError(f"unit_bits: expected at least {(units + 7) // 8} bytes for {units} units, got {bits.size}")
    params = make_dropout_params(p, 0, 0)
    alpha = alpha_of(make_alpha_params(p), compute)
    if kind == "alpha":
        op = alpha_op(alpha)
    elif kind == "alpha_grad":
        op = dropout_op(alpha[0])
    else:
        op = dropout_op(scale_of(params, compute))
    run_dropout(kernel, n, single_run(n), xs, ys, params, op, bits_in=bits, shape=dims, unit_strides=strides)
