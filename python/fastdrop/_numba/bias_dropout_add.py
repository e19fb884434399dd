"""Numba mirror of the fused bias + dropout + residual kernel.

Twins: csrc/cpu/bias_dropout_add_kernel.cpp (the tile loop), bias_dropout_add_element in
csrc/include/fastdrop/dropout_math.h, and bias_dropout_add_over in csrc/cpu/api.cpp (chunks of
the call's runs in parallel) with its entry points fastdrop_bias_dropout_add_forward and
fastdrop_bias_dropout_add_forward_runs. The stream, keeps, masks, chunks of runs and 16-bit
conversions are _numba.dropout'. The bias is indexed by an element's local column, its position
modulo cols, whatever its unit: a shard holds its own columns' bias values.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .dropout import (
    _NO_BITS,
    _NO_DIMS,
    SKEWED_TILE,
    TILE,
    _buffer,
    _kind,
    _run,
    _single_run,
    _unit_runs,
    bfloat16_to_float,
    float_to_bfloat16_rne,
    float_to_half_rne,
    half_to_float,
    make_dropout_params,
    run_chunk,
    run_chunk_count,
    scale_of,
    store_masks,
    tile_keeps,
)


@njit(cache=True, inline="always")
def bias_dropout_add_element(x, b, r, keep, scale):
    """r + (keep ? (x + b) * scale : 0) in the compute type of the widened values, not rounded."""
    return r + ((x + b) * scale if keep else scale * np.float32(0))


# One kernel per storage kind, as in _numba.dropout: they differ only in how values widen and
# round back (16-bit floats arrive as uint16 bits, so the type alone cannot tell them apart).


@njit(cache=True, parallel=True, nogil=True)
def bias_dropout_add_float16(n, runs, cols, x, bias, residual, y, seed, offset, threshold, drop_all, scale,
                             mask_bits, no_bytes):
    chunks, per_run = run_chunk_count(n, runs[1])
    for c in prange(chunks):
        keep = np.empty(SKEWED_TILE, np.uint8)
        start, end, unit, bit = run_chunk(c, per_run, runs)
        for t in range(start, end, TILE):
            m = min(TILE, end - t)
            tile_keeps(seed, offset, threshold, drop_all, unit + np.uint64(t - start), t, m, _NO_BITS, _NO_DIMS,
                       _NO_DIMS, keep)
            for i in range(m):
                b = half_to_float(bias[(t + i) % cols]) if bias.size else np.float32(0)
                y[t + i] = float_to_half_rne(bias_dropout_add_element(
                    half_to_float(x[t + i]), b, half_to_float(residual[t + i]), keep[i] != 0, scale))
            store_masks(t, bit + (t - start), m, keep, mask_bits, no_bytes)


@njit(cache=True, parallel=True, nogil=True)
def bias_dropout_add_bfloat16(n, runs, cols, x, bias, residual, y, seed, offset, threshold, drop_all, scale,
                              mask_bits, no_bytes):
    chunks, per_run = run_chunk_count(n, runs[1])
    for c in prange(chunks):
        keep = np.empty(SKEWED_TILE, np.uint8)
        start, end, unit, bit = run_chunk(c, per_run, runs)
        for t in range(start, end, TILE):
            m = min(TILE, end - t)
            tile_keeps(seed, offset, threshold, drop_all, unit + np.uint64(t - start), t, m, _NO_BITS, _NO_DIMS,
                       _NO_DIMS, keep)
            for i in range(m):
                b = bfloat16_to_float(bias[(t + i) % cols]) if bias.size else np.float32(0)
                y[t + i] = float_to_bfloat16_rne(bias_dropout_add_element(
                    bfloat16_to_float(x[t + i]), b, bfloat16_to_float(residual[t + i]), keep[i] != 0, scale))
            store_masks(t, bit + (t - start), m, keep, mask_bits, no_bytes)


@njit(cache=True, parallel=True, nogil=True)
def bias_dropout_add_float(n, runs, cols, x, bias, residual, y, seed, offset, threshold, drop_all, scale,
                           mask_bits, no_bytes):
    """float32 and float64, whose storage type is their compute type."""
    chunks, per_run = run_chunk_count(n, runs[1])
    for c in prange(chunks):
        keep = np.empty(SKEWED_TILE, np.uint8)
        start, end, unit, bit = run_chunk(c, per_run, runs)
        for t in range(start, end, TILE):
            m = min(TILE, end - t)
            tile_keeps(seed, offset, threshold, drop_all, unit + np.uint64(t - start), t, m, _NO_BITS, _NO_DIMS,
                       _NO_DIMS, keep)
            for i in range(m):
                b = bias[(t + i) % cols] if bias.size else scale * np.float32(0)
                y[t + i] = bias_dropout_add_element(x[t + i], b, residual[t + i], keep[i] != 0, scale)
            store_masks(t, bit + (t - start), m, keep, mask_bits, no_bytes)


_KERNELS = {"float16": bias_dropout_add_float16, "bfloat16": bias_dropout_add_bfloat16,
            "float32": bias_dropout_add_float, "float64": bias_dropout_add_float}


def _bias_dropout_add_over(dtype, x, bias, residual, y, cols, p, seed, offset, runs, mask_bits):
    """Over the units of runs (None: unsharded, element i is unit i), as api.cpp's bias_dropout_add_over."""
    _, storage, compute = _kind(dtype)
    n = np.asarray(x).nbytes // np.dtype(storage).itemsize
    if cols <= 0 or n % cols:
        raise ValueError("cols: must divide the number of elements of x")
    xs = _buffer(x, "x", storage, n, False)
    bs = np.zeros(0, storage) if bias is None else _buffer(bias, "bias", storage, cols, False)
    rs = _buffer(residual, "residual", storage, n, False)
    ys = _buffer(y, "out", storage, n, True)
    bits = _NO_BITS if mask_bits is None else _buffer(mask_bits, "mask_bits", np.uint8, (n + 7) // 8, True)
    unit_runs = _single_run(n) if runs is None else _unit_runs(runs, n)
    params = make_dropout_params(p, seed, offset)
    seed_, offset_, threshold, drop_all = params[:4]
    _run(_KERNELS[dtype], n, n, unit_runs, cols, xs, bs, rs, ys, seed_, offset_, threshold, drop_all,
         scale_of(params, compute), bits, np.zeros(0, np.bool_))


def bias_dropout_add_forward(dtype, x, bias, residual, y, cols, p, seed, offset, mask_bits=None):
    """The native module's bias_dropout_add_forward: y = residual + dropout(x + bias) over
    (n / cols, cols) data, bias (cols values) optional, keep bits optional."""
    _bias_dropout_add_over(dtype, x, bias, residual, y, cols, p, seed, offset, None, mask_bits)


def bias_dropout_add_forward_runs(dtype, x, bias, residual, y, cols, p, seed, offset, runs):
    """bias_dropout_add_forward (no mask) for a shard whose element r * run_length + j is unit
    first + r * run_stride + j, runs being (first, run_length, run_stride); bias holds the shard's
    own cols values."""
    _bias_dropout_add_over(dtype, x, bias, residual, y, cols, p, seed, offset, runs, None)
