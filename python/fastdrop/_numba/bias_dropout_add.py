"""Numba mirror of the fused bias + dropout + residual kernel.

Twins: csrc/cpu/bias_dropout_add_kernel.cpp (the tile loop), bias_dropout_add_element in
csrc/include/fastdrop/math/bias_dropout_add.h, and bias_dropout_add_over in
csrc/cpu/bias_dropout_add.cpp (chunks of the call's runs in parallel) with its entry points
fastdrop_bias_dropout_add_forward and fastdrop_bias_dropout_add_forward_runs. The stream and the
16-bit conversions are philox_stream.py's, the keeps and masks of a tile dropout_kernel.py's
(csrc/cpu/fused_tiles.h), the chunks of runs api_common.py's. The bias is indexed by an element's
local column, its position modulo cols, whatever its unit: a shard holds its own columns' bias
values.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .api_common import buffer, run_chunk, run_chunk_count, run_kernel, single_run, unit_runs
from .dropout_kernel import NO_BITS, NO_DIMS, SKEWED_TILE, kind_of, store_masks, tile_keeps
from .philox_stream import (
    TILE,
    bfloat16_to_float,
    float_to_bfloat16_rne,
    float_to_half_rne,
    half_to_float,
    make_dropout_params,
    scale_of,
)

# The entry points under the compiled module's names (collected by _numba/__init__.py).
__all__ = ["bias_dropout_add_forward", "bias_dropout_add_forward_runs"]


@njit(cache=True, inline="always")
def bias_dropout_add_element(x, b, r, keep, scale):
    """r + (keep ? (x + b) * scale : 0) in the compute type of the widened values, not rounded."""
    return r + ((x + b) * scale if keep else scale * np.float32(0))


# One kernel per storage kind, as in dropout_kernel.py: they differ only in how values widen and
# round back (16-bit floats arrive as uint16 bits, so the type alone cannot tell them apart).


@njit(cache=True, parallel=True, nogil=True)
def bias_dropout_add_float16(n, runs, cols, x, bias, residual, y, seed, offset, threshold, scale,
                             mask_bits, no_bytes):
    chunks, per_run = run_chunk_count(n, runs[1])
    for c in prange(chunks):
        keep = np.empty(SKEWED_TILE, np.uint8)
        start, end, unit, bit = run_chunk(c, per_run, runs)
        for t in range(start, end, TILE):
            m = min(TILE, end - t)
            tile_keeps(seed, offset, threshold, unit + np.uint64(t - start), t, m, NO_BITS, NO_DIMS, NO_DIMS, keep)
            for i in range(m):
                b = half_to_float(bias[(t + i) % cols]) if bias.size else np.float32(0)
                y[t + i] = float_to_half_rne(bias_dropout_add_element(
                    half_to_float(x[t + i]), b, half_to_float(residual[t + i]), keep[i] != 0, scale))
            store_masks(t, bit + (t - start), m, keep, mask_bits, no_bytes)


@njit(cache=True, parallel=True, nogil=True)
def bias_dropout_add_bfloat16(n, runs, cols, x, bias, residual, y, seed, offset, threshold, scale,
                              mask_bits, no_bytes):
    chunks, per_run = run_chunk_count(n, runs[1])
    for c in prange(chunks):
        keep = np.empty(SKEWED_TILE, np.uint8)
        start, end, unit, bit = run_chunk(c, per_run, runs)
        for t in range(start, end, TILE):
            m = min(TILE, end - t)
            tile_keeps(seed, offset, threshold, unit + np.uint64(t - start), t, m, NO_BITS, NO_DIMS, NO_DIMS, keep)
            for i in range(m):
                b = bfloat16_to_float(bias[(t + i) % cols]) if bias.size else np.float32(0)
                y[t + i] = float_to_bfloat16_rne(bias_dropout_add_element(
                    bfloat16_to_float(x[t + i]), b, bfloat16_to_float(residual[t + i]), keep[i] != 0, scale))
            store_masks(t, bit + (t - start), m, keep, mask_bits, no_bytes)


@njit(cache=True, parallel=True, nogil=True)
def bias_dropout_add_float(n, runs, cols, x, bias, residual, y, seed, offset, threshold, scale,
                           mask_bits, no_bytes):
    """float32 and float64, whose storage type is their compute type."""
    chunks, per_run = run_chunk_count(n, runs[1])
    for c in prange(chunks):
        keep = np.empty(SKEWED_TILE, np.uint8)
        start, end, unit, bit = run_chunk(c, per_run, runs)
        for t in range(start, end, TILE):
            m = min(TILE, end - t)
            tile_keeps(seed, offset, threshold, unit + np.uint64(t - start), t, m, NO_BITS, NO_DIMS, NO_DIMS, keep)
            for i in range(m):
                b = bias[(t + i) % cols] if bias.size else scale * np.float32(0)
                y[t + i] = bias_dropout_add_element(x[t + i], b, residual[t + i], keep[i] != 0, scale)
            store_masks(t, bit + (t - start), m, keep, mask_bits, no_bytes)


_KERNELS = {"float16": bias_dropout_add_float16, "bfloat16": bias_dropout_add_bfloat16,
            "float32": bias_dropout_add_float, "float64": bias_dropout_add_float}


def _bias_dropout_add_over(dtype, x, bias, residual, y, cols, p, seed, offset, runs, mask_bits):
    """Over the units of runs (None: unsharded, element i is unit i), as bias_dropout_add.cpp's
    bias_dropout_add_over."""
    _, storage, compute = kind_of(dtype)
    n = np.asarray(x).nbytes // np.dtype(storage).itemsize
    if cols <= 0 or n % cols:
        raise ValueError("cols: must divide the number of elements of x")
    xs = buffer(x, "x", storage, n, False)
    bs = np.zeros(0, storage) if bias is None else buffer(bias, "bias", storage, cols, False)
    rs = buffer(residual, "residual", storage, n, False)
    ys = buffer(y, "out", storage, n, True)
    bits = NO_BITS if mask_bits is None else buffer(mask_bits, "mask_bits", np.uint8, (n + 7) // 8, True)
    call_runs = single_run(n) if runs is None else unit_runs(runs, n)
    params = make_dropout_params(p, seed, offset)
    seed_, offset_, threshold = params[:3]
    run_kernel(_KERNELS[dtype], n, n, call_runs, cols, xs, bs, rs, ys, seed_, offset_, threshold,
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
