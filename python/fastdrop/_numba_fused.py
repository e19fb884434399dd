"""Numba mirror of the fused bias + dropout + residual kernel.

Twins: csrc/cpu/bias_dropout_add_kernel.cpp (the tile loop), bias_dropout_add_element in
csrc/include/fastdrop/dropout_math.h, and fastdrop_bias_dropout_add_forward in csrc/cpu/api.cpp
(chunks in parallel). The stream, keeps, masks and 16-bit conversions are _numba_kernels'.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._numba_kernels import (
    CHUNK, TILE, _NO_BITS, _NO_DIMS, _buffer, _kind, _run, bfloat16_to_float, float_to_bfloat16_rne,
    float_to_half_rne, half_to_float, make_dropout_params, scale_of, store_masks, tile_keeps,
)

@njit(cache=True, inline="always")
def bias_dropout_add_element(x, b, r, keep, scale):
    """r + (keep ? (x + b) * scale : 0) in the compute type of the widened values, not rounded."""
    return r + ((x + b) * scale if keep else scale * np.float32(0))


# One kernel per storage kind, as in _numba_kernels: they differ only in how values widen and
# round back (16-bit floats arrive as uint16 bits, so the type alone cannot tell them apart).


@njit(cache=True, parallel=True, nogil=True)
def bias_dropout_add_float16(n, cols, x, bias, residual, y, seed, offset, threshold, drop_all, scale, mask_bits,
                              no_bytes):
    for c in prange((n + CHUNK - 1) // CHUNK):
        keep = np.empty(TILE, np.uint8)
        for t in range(c * CHUNK, min(n, (c + 1) * CHUNK), TILE):
            m = min(TILE, n - t)
            tile_keeps(seed, offset, threshold, drop_all, t, m, _NO_BITS, _NO_DIMS, _NO_DIMS, keep)
            for i in range(m):
                b = half_to_float(bias[(t + i) % cols]) if bias.size else np.float32(0)
                y[t + i] = float_to_half_rne(bias_dropout_add_element(
                    half_to_float(x[t + i]), b, half_to_float(residual[t + i]), keep[i] != 0, scale))
            store_masks(t, m, keep, mask_bits, no_bytes)


@njit(cache=True, parallel=True, nogil=True)
def bias_dropout_add_bfloat16(n, cols, x, bias, residual, y, seed, offset, threshold, drop_all, scale, mask_bits,
                              no_bytes):
    for c in prange((n + CHUNK - 1) // CHUNK):
        keep = np.empty(TILE, np.uint8)
        for t in range(c * CHUNK, min(n, (c + 1) * CHUNK), TILE):
            m = min(TILE, n - t)
            tile_keeps(seed, offset, threshold, drop_all, t, m, _NO_BITS, _NO_DIMS, _NO_DIMS, keep)
            for i in range(m):
                b = bfloat16_to_float(bias[(t + i) % cols]) if bias.size else np.float32(0)
                y[t + i] = float_to_bfloat16_rne(bias_dropout_add_element(
                    bfloat16_to_float(x[t + i]), b, bfloat16_to_float(residual[t + i]), keep[i] != 0, scale))
            store_masks(t, m, keep, mask_bits, no_bytes)


@njit(cache=True, parallel=True, nogil=True)
def bias_dropout_add_float(n, cols, x, bias, residual, y, seed, offset, threshold, drop_all, scale, mask_bits,
                              no_bytes):
    """float32 and float64, whose storage type is their compute type."""
    for c in prange((n + CHUNK - 1) // CHUNK):
        keep = np.empty(TILE, np.uint8)
        for t in range(c * CHUNK, min(n, (c + 1) * CHUNK), TILE):
            m = min(TILE, n - t)
            tile_keeps(seed, offset, threshold, drop_all, t, m, _NO_BITS, _NO_DIMS, _NO_DIMS, keep)
            for i in range(m):
                b = bias[(t + i) % cols] if bias.size else scale * np.float32(0)
                y[t + i] = bias_dropout_add_element(x[t + i], b, residual[t + i], keep[i] != 0, scale)
            store_masks(t, m, keep, mask_bits, no_bytes)


_KERNELS = {"float16": bias_dropout_add_float16, "bfloat16": bias_dropout_add_bfloat16,
            "float32": bias_dropout_add_float, "float64": bias_dropout_add_float}


def bias_dropout_add_forward(dtype, x, bias, residual, y, cols, p, seed, offset, mask_bits=None):
    """The native module's bias_dropout_add_forward: y = residual + dropout(x + bias) over
    (n / cols, cols) data, bias (cols values) optional, keep bits optional."""
    _, storage, compute = _kind(dtype)
    n = np.asarray(x).nbytes // np.dtype(storage).itemsize
    if cols <= 0 or n % cols:
        raise ValueError("cols: must divide the number of elements of x")
    xs = _buffer(x, "x", storage, n, False)
    bs = np.zeros(0, storage) if bias is None else _buffer(bias, "bias", storage, cols, False)
    rs = _buffer(residual, "residual", storage, n, False)
    ys = _buffer(y, "out", storage, n, True)
    bits = _NO_BITS if mask_bits is None else _buffer(mask_bits, "mask_bits", np.uint8, (n + 7) // 8, True)
    params = make_dropout_params(p, seed, offset)
    seed_, offset_, threshold, drop_all = params[:4]
    _run(_KERNELS[dtype], n, n, cols, xs, bs, rs, ys, seed_, offset_, threshold, drop_all,
         scale_of(params, compute), bits, np.zeros(0, np.bool_))
