"""The tile loop of the Bernoulli elementwise ops (dropout, alpha dropout, the apply of stored keep
bits), bit-identical to the C++ core: one kernel per storage kind that runs every op by its code
(element_ops.py), where the C++ compiles a kernel per op and ISA.

Its C++ twins, whose structure and names it keeps:
- csrc/cpu/dropout_kernel.cpp and forward_tiles.h: the tile loops (keeps of a tile, element loop,
  masks; tile_keeps, store_masks, pack8, unpack8);
- csrc/cpu/apply_mask_bits_kernel.cpp and the row-segment walk of fastdrop_apply_mask_bits:
  unit_bit, unit_keeps (here because tile_keeps reads them);
- the *_over functions of csrc/cpu/dropout.cpp and alpha_dropout.cpp: run_dropout, over the
  chunks of a call's runs (api_common.py).

tile_keeps and store_masks serve the fused kernels too (bias_dropout_add.py, bias_act_dropout.py,
as csrc/cpu/fused_tiles.h). The functions called once per tile (tile_keeps, unit_keeps,
store_masks) are not inlined: compiled once, they serve every kernel, which keeps a cold start
about a third shorter at no cost in speed.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .api_common import buffer, run_chunk, run_chunk_count, run_kernel
from .element_ops import element_op
from .philox_stream import (
    TILE,
    bfloat16_to_float,
    float_to_bfloat16_rne,
    float_to_half_rne,
    half_to_float,
    keeps,
    stream_block,
)

_U3 = np.uint64(3)
_U7 = np.uint64(7)
_U16 = np.uint64(16)
_LOW16 = np.uint64(0xFFFF)

# Bytes of a tile's keeps: those of whole blocks (8 units each) from the block of its first unit,
# which in a shard may lie up to 7 units past a block's start: TILE + 8 (whole uint64s too, for
# the 8-keep views of unpack8 and pack8).
SKEWED_TILE = TILE + 8


# ---- apply_mask_bits_kernel.cpp: the keep bits of a broadcast shape's units ------------------


@njit(cache=True, inline="always")
def unit_bit(bits, u):
    return (bits[u >> 3] >> (u & 7)) & 1


@njit(cache=True)
def unit_keeps(first, n, unit_bits, shape, unit_strides, keep):
    """keep[0, n) of the elements first .. first + n - 1 of a C-order array of `shape`, where
    element (i_0, ..., i_last) has the bit of unit sum_d i_d * unit_strides[d].

    Row segment by row segment: only the unit of a segment's first element needs its
    multi-index, the rest of the segment steps by the last dimension's unit stride.
    """
    last = shape.size - 1
    row, row_stride = shape[last], unit_strides[last]
    i = 0
    while i < n:
        col = (first + i) % row
        rest = (first + i) // row
        unit = col * row_stride
        for d in range(last - 1, -1, -1):
            unit += (rest % shape[d]) * unit_strides[d]
            rest //= shape[d]
        seg = min(row - col, n - i)
        for j in range(seg):
            keep[i + j] = unit_bit(unit_bits, unit + j * row_stride)
        i += seg


# ---- dropout_kernel.cpp and forward_tiles.h: a tile's keeps and masks -------------------------


@njit(cache=True, inline="always")
def pack8(v):
    """Bit i of the result is byte i of v, for bytes that are 0 or 1."""
    return (v * np.uint64(0x0102040810204080)) >> np.uint64(56)


@njit(cache=True, inline="always")
def unpack8(byte):
    """Byte i of the result is bit i of byte, as 0 or 1."""
    v = (np.uint64(byte) * np.uint64(0x0101010101010101)) & np.uint64(0x8040201008040201)
    return ((v + np.uint64(0x7F7F7F7F7F7F7F7F)) >> np.uint64(7)) & np.uint64(0x0101010101010101)


@njit(cache=True)
def tile_keeps(seed, offset, threshold, unit, position, n, bits_in, shape, unit_strides, keep):
    """keep[0, n) (0 or 1) of a tile: the elements position .. position + n - 1 of the call (position
    a multiple of 8), whose units are unit .. unit + n - 1; keep holds SKEWED_TILE bytes.

    From bits_in's bits of the units of a broadcast shape when shape is not empty
    (apply_mask_bits); else from the stream when bits_in is empty (forward), else from its bit
    `position + i` (backward_bits). The stream is decided a block at a time, its 8 lanes' keeps
    stored straight as 8 bytes (LLVM then runs 8 blocks per AVX-512 register; packing them into a
    uint64 first halves that), from the block of the tile's first unit; when that unit is not the
    block's first (shards only: an unsharded call's tiles start at multiples of TILE), the keeps
    then move down past the skew, as the C++ reads the lanes from lanes + (unit & 7).
    """
    if shape.size != 0:
        unit_keeps(position, n, bits_in, shape, unit_strides, keep)
    elif bits_in.size == 0:
        skew = np.int64(unit & _U7)
        b0 = unit >> _U3
        for i in range((skew + n + 7) // 8):
            c0, c1, c2, c3 = stream_block(seed, offset, b0 + np.uint64(i))
            keep[8 * i] = keeps(c0 & _LOW16, threshold)
            keep[8 * i + 1] = keeps(c0 >> _U16, threshold)
            keep[8 * i + 2] = keeps(c1 & _LOW16, threshold)
            keep[8 * i + 3] = keeps(c1 >> _U16, threshold)
            keep[8 * i + 4] = keeps(c2 & _LOW16, threshold)
            keep[8 * i + 5] = keeps(c2 >> _U16, threshold)
            keep[8 * i + 6] = keeps(c3 & _LOW16, threshold)
            keep[8 * i + 7] = keeps(c3 >> _U16, threshold)
        if skew:
            for i in range(n):
                keep[i] = keep[skew + i]
    else:
        bits = bits_in[position // 8:]
        keep8 = keep.view(np.uint64)
        for j in range((n + 7) // 8):
            keep8[j] = unpack8(bits[j])


@njit(cache=True)
def store_masks(position, bit, n, keep, mask_bits, mask_bytes):
    """The keeps of a tile into the masks asked for (an empty array was not asked for): those of
    elements position .. position + n - 1 as mask bytes, as mask bits from bit `bit` on (a multiple
    of 8; past position when each run's bits start at a whole byte, mask_bits_runs)."""
    if mask_bytes.size != 0:
        out = mask_bytes[position:position + n]
        for i in range(n):
            out[i] = keep[i] != 0
    if mask_bits.size != 0:
        out = mask_bits[bit // 8:]
        keep8 = keep.view(np.uint64)
        whole = n // 8
        for j in range(whole):
            out[j] = pack8(keep8[j])
        if n % 8:
            # The last byte's bits past n stay 0.
            last = 0
            for i in range(8 * whole, n):
                last |= np.int64(keep[i]) << (i % 8)
            out[whole] = last


# ---- dropout_kernel.cpp: chunks in parallel, one kernel per storage kind ----------------------
# Each kernel does every call but stream_words: the runs, the element op (op, scale, keep_add,
# drop_value) and the source of the keeps (see tile_keeps) are arguments. They differ only in the
# element loop: a Numba function handed another as an argument compiles, and misses the disk
# cache, once per function object. Each tile of x is first copied into xt: when y is x (in place)
# LLVM's overlap check would otherwise pick its scalar loop.


@njit(cache=True, parallel=True, nogil=True)
def dropout_float16(n, runs, x, y, seed, offset, threshold, op, scale, keep_add, drop_value,
                    bits_in, shape, unit_strides, mask_bits, mask_bytes):
    chunks, per_run = run_chunk_count(n, runs[1])
    for c in prange(chunks):
        keep = np.empty(SKEWED_TILE, np.uint8)
        xt = np.empty(TILE, x.dtype)
        start, end, unit, bit = run_chunk(c, per_run, runs)
        for t in range(start, end, TILE):
            m = min(TILE, end - t)
            tile_keeps(seed, offset, threshold, unit + np.uint64(t - start), t, m, bits_in, shape, unit_strides, keep)
            xs, ys = x[t:t + m], y[t:t + m]
            for i in range(m):
                xt[i] = xs[i]
            for i in range(m):
                ys[i] = float_to_half_rne(element_op(op, half_to_float(xt[i]), keep[i] != 0, scale, keep_add,
                                                     drop_value))
            store_masks(t, bit + (t - start), m, keep, mask_bits, mask_bytes)


@njit(cache=True, parallel=True, nogil=True)
def dropout_bfloat16(n, runs, x, y, seed, offset, threshold, op, scale, keep_add, drop_value,
                     bits_in, shape, unit_strides, mask_bits, mask_bytes):
    chunks, per_run = run_chunk_count(n, runs[1])
    for c in prange(chunks):
        keep = np.empty(SKEWED_TILE, np.uint8)
        xt = np.empty(TILE, x.dtype)
        start, end, unit, bit = run_chunk(c, per_run, runs)
        for t in range(start, end, TILE):
            m = min(TILE, end - t)
            tile_keeps(seed, offset, threshold, unit + np.uint64(t - start), t, m, bits_in, shape, unit_strides, keep)
            xs, ys = x[t:t + m], y[t:t + m]
            for i in range(m):
                xt[i] = xs[i]
            for i in range(m):
                ys[i] = float_to_bfloat16_rne(element_op(op, bfloat16_to_float(xt[i]), keep[i] != 0, scale,
                                                         keep_add, drop_value))
            store_masks(t, bit + (t - start), m, keep, mask_bits, mask_bytes)


@njit(cache=True, parallel=True, nogil=True)
def dropout_float(n, runs, x, y, seed, offset, threshold, op, scale, keep_add, drop_value,
                  bits_in, shape, unit_strides, mask_bits, mask_bytes):
    """float32 and float64 (one specialisation each), whose storage type is their compute type.

    mask_bits runs it with empty x and y, as the C++ runs the tile loop with no data.
    """
    chunks, per_run = run_chunk_count(n, runs[1])
    for c in prange(chunks):
        keep = np.empty(SKEWED_TILE, np.uint8)
        xt = np.empty(TILE, x.dtype)
        start, end, unit, bit = run_chunk(c, per_run, runs)
        for t in range(start, end, TILE):
            m = min(TILE, end - t)
            tile_keeps(seed, offset, threshold, unit + np.uint64(t - start), t, m, bits_in, shape, unit_strides, keep)
            if x.size != 0:
                xs, ys = x[t:t + m], y[t:t + m]
                for i in range(m):
                    xt[i] = xs[i]
                for i in range(m):
                    ys[i] = element_op(op, xt[i], keep[i] != 0, scale, keep_add, drop_value)
            store_masks(t, bit + (t - start), m, keep, mask_bits, mask_bytes)


# ---- the calls of the entry points (dropout.py, alpha_dropout.py, apply_mask_bits.py) ----------

# dtype name -> (kernel, storage dtype, compute dtype).
_KINDS = {
    "float16": (dropout_float16, np.uint16, np.float32),
    "bfloat16": (dropout_bfloat16, np.uint16, np.float32),
    "float32": (dropout_float, np.float32, np.float32),
    "float64": (dropout_float, np.float64, np.float64),
}
NO_DATA = np.zeros(0, np.float32)
NO_BITS = np.zeros(0, np.uint8)
NO_BYTES = np.zeros(0, np.bool_)
NO_DIMS = np.zeros(0, np.int64)


def kind_of(dtype):
    """(kernel, storage dtype, compute dtype) of a dtype name."""
    try:
        return _KINDS[dtype]
    except KeyError:
        raise TypeError(f"dtype: expected float16, bfloat16, float32 or float64, got {dtype}") from None


def elementwise_arrays(dtype, in_name, src, dst):
    """(kernel, compute dtype, n, src, dst) of a call that maps src to dst, n items each, their
    memory checked as the native module checks it."""
    kernel, storage, compute = kind_of(dtype)
    n = np.asarray(src).nbytes // np.dtype(storage).itemsize
    return kernel, compute, n, buffer(src, in_name, storage, n, False), buffer(dst, "out", storage, n, True)


def run_dropout(kernel, n, runs, x, y, params, op, bits_in=NO_BITS, shape=NO_DIMS, unit_strides=NO_DIMS,
                 mask_bits=NO_BITS, mask_bytes=NO_BYTES):
    """One of the dropout kernels over n elements of the units of runs (see api_common.unit_runs), op
    being (code, scale, keep_add, drop_value)."""
    seed, offset, threshold = params[:3]
    run_kernel(kernel, n, n, runs, x, y, seed, offset, threshold, *op, bits_in, shape, unit_strides, mask_bits,
               mask_bytes)
