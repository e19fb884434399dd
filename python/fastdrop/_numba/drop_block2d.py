"""Numba mirror of DropBlock, bit-identical to the C++ core.

Its C++ twins, whose names and structure it keeps:
- csrc/include/fastdrop/math/drop_block2d.h: drop_block_gamma, make_drop_block_params and
  dilate_eight_columns (drop_block_scale is _rules.drop_block2d's, which the front-ends share);
- csrc/cpu/drop_block2d_kernel.cpp: the first pass, one plane at a time (dilate_seed_row,
  append_mask_bits, or_into, keep_unless_either, count_ones, keep_bits): a seed row's drops from
  the stream, dilated along the row by a sliding count eight columns at a time and down the
  columns by van Herk / Gil-Werman's prefix and suffix ORs;
- csrc/cpu/drop_block2d.cpp: fastdrop_drop_block2d_forward, runs of whole planes in parallel
  (planes_per_run), the scale, then the second pass;
- fastdrop_apply_mask_bits_scale of the C ABI, the second pass and the backward: the tile loop
  of dropout_kernel.py with the keep bits and an explicit scale.

The interface is fastdrop._native's (drop_block2d_forward, apply_mask_bits_scale). The seeds are
Bernoulli units (16-bit lanes, contract v2); the stream and the keep decision are philox_stream.py's,
the bit packing dropout_kernel.py's, the buffer checks api_common.py's; as there, the stream's
words and lanes are carried in uint64 and fastmath stays off.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .._rules.drop_block2d import drop_block_scale
from .api_common import CHUNK, buffer, run_kernel, single_run
from .dropout_kernel import kind_of, pack8, run_dropout
from .element_ops import dropout_op
from .philox_stream import TILE, keeps, make_dropout_params, tile_lanes

# The entry points under the compiled module's names (collected by _numba/__init__.py).
__all__ = ["drop_block2d_forward", "apply_mask_bits_scale"]

_ONES = np.uint64(0x0101010101010101)
_SEVEN_FS = np.uint64(0x7F7F7F7F7F7F7F7F)
_U7 = np.uint64(7)
_U56 = np.uint64(56)


# ---- math/drop_block2d.h --------------------------------------------------------------------


def drop_block_gamma(p, height, width, block_size):
    """torchvision's gamma in its order of operations: p H W / (bs^2 (H - bs + 1)(W - bs + 1))."""
    seeds = (height - block_size + 1) * (width - block_size + 1)
    return float(p) * height * width / (float(block_size * block_size) * float(seeds))


def make_drop_block_params(p, height, width, block_size, seed, offset):
    """(seed, offset, threshold) of the seed grid's draw with probability gamma, a Bernoulli draw
    like dropout's; plain Python, as in the C++ it runs once per call on the host."""
    return make_dropout_params(drop_block_gamma(p, height, width, block_size), seed, offset)[:3]


@njit(cache=True, inline="always")
def dilate_eight_columns(entering, leaving, count):
    """(dilated, count after): eight columns of a seed row's dilation in the bytes of a uint64;
    see the C++ twin for why the bytewise comparison is exact."""
    entered = entering * _ONES
    left = leaving * _ONES
    capped = np.uint64(min(count, 9))
    differ = (capped * _ONES + entered) ^ left
    count += np.int64(entered >> _U56) - np.int64(left >> _U56)
    return ((differ + _SEVEN_FS) >> _U7) & _ONES, count


# ---- drop_block2d_kernel.cpp ----------------------------------------------------------------


@njit(cache=True, inline="always")
def load8(a, i):
    """Bytes a[i .. i + 7] as a uint64, a[i] lowest (memcpy on a little-endian CPU)."""
    v = np.uint64(0)
    for b in range(8):
        v |= np.uint64(a[i + b]) << np.uint64(8 * b)
    return v


@njit(cache=True, inline="always")
def store8(a, i, v):
    for b in range(8):
        a[i + b] = (v >> np.uint64(8 * b)) & np.uint64(0xFF)


@njit(cache=True)
def dilate_seed_row(seed, offset, threshold, first, seed_width, width, block, padded, lanes, out):
    """The drops of the seed row whose first unit is `first`, dilated along the row into out:
    out[w] = 1 iff a dropped seed j of the row has j <= w <= j + block - 1."""
    skew = np.int64(first & np.uint64(7))
    b0 = first >> np.uint64(3)
    # k counts units from the start of block b0; drops sit at padded[block:].
    for k in range(0, skew + seed_width, TILE):
        span = min(TILE, skew + seed_width - k)
        tile_lanes(seed, offset, b0 + np.uint64(k // 8), (span + 7) // 8, lanes)
        for i in range(max(k, skew), k + span):
            padded[block + i - skew] = not keeps(lanes[i - k], threshold)
    count = 0
    for w in range(0, width, 8):
        dilated, count = dilate_eight_columns(load8(padded, block + w), load8(padded, w), count)
        store8(out, w, dilated)


@njit(cache=True)
def append_mask_bits(keep, length, bits, pos):
    """keep[0, length) as bits at bit position pos: a byte started here is written whole (its
    bits past length 0), the first bits are ORed into the byte a previous call started."""
    i = 0
    while i < length and (pos + i) % 8 != 0:
        bits[(pos + i) // 8] |= keep[i] << ((pos + i) % 8)
        i += 1
    out = (pos + i) // 8
    whole = (length - i) // 8
    for j in range(whole):
        bits[out + j] = pack8(load8(keep, i + 8 * j))
    if (length - i) % 8:
        last = 0
        for k in range(i + 8 * whole, length):
            last |= keep[k] << ((k - i) % 8)
        bits[out + whole] = last


@njit(cache=True, inline="always")
def or_into(a, b, length):
    for w in range(length):
        a[w] |= b[w]


@njit(cache=True, inline="always")
def keep_unless_either(a, b, keep, length):
    for w in range(length):
        keep[w] = (a[w] | b[w]) ^ 1


@njit(cache=True, inline="always")
def count_ones(row, length):
    total = 0
    for w in range(length):
        total += row[w]
    return total


@njit(cache=True)
def keep_bits(first_plane, planes, seed, offset, threshold, height, width, block, seed_height, seed_width, bits):
    """Keep bits of planes first_plane .. first_plane + planes - 1 into bits (from the run's first
    element, a multiple of 8); returns how many are kept."""
    stride = (width + 7) // 8 * 8
    padded = np.zeros(block + stride, np.uint8)
    # A tile of whole blocks: TILE lanes and up to 7 before its first.
    lanes = np.empty(TILE + 8, np.uint64)
    segments = np.empty((2, block, stride), np.uint8)
    prefix = np.empty(stride, np.uint8)
    keep = np.zeros(stride, np.uint8)
    plane_seeds = np.uint64(seed_height * seed_width)
    kept = 0
    pos = 0
    for plane in range(planes):
        first = (first_plane + np.uint64(plane)) * plane_seeds
        # Down the columns, van Herk / Gil-Werman (see the C++ twin).
        for h in range(height):
            in_segment = h % block
            current = segments[(h // block) % 2]
            previous = segments[(h // block + 1) % 2]
            row = current[in_segment]
            if h < seed_height:
                dilate_seed_row(seed, offset, threshold, first + np.uint64(h * seed_width), seed_width, width, block,
                                padded, lanes, row)
            else:
                row[:] = 0
            if in_segment == 0:
                prefix[:] = row
                if h > 0:
                    for i in range(block - 2, -1, -1):
                        or_into(previous[i], previous[i + 1], stride)
            else:
                or_into(prefix, row, stride)
            oldest = h - block + 1
            suffix = previous[oldest % block] if oldest > 0 and oldest % block != 0 else prefix
            keep_unless_either(prefix, suffix, keep, width)
            kept += count_ones(keep, width)
            append_mask_bits(keep, width, bits, pos)
            pos += width
    return kept


# ---- drop_block2d.cpp -----------------------------------------------------------------------


def planes_per_run(plane_size):
    """Enough planes for about CHUNK elements, a multiple of the fewest that fill whole bytes of bits."""
    whole_bytes = 1
    while (whole_bytes * plane_size) % 8:
        whole_bytes *= 2
    wanted = max(CHUNK // plane_size, 1)
    return (wanted + whole_bytes - 1) // whole_bytes * whole_bytes


@njit(cache=True, parallel=True, nogil=True)
def keep_bits_runs(planes, run, seed, offset, threshold, height, width, block, bits):
    seed_height, seed_width = height - block + 1, width - block + 1
    plane_size = height * width
    runs = (planes + run - 1) // run
    kept = np.zeros(runs, np.int64)
    for r in prange(runs):
        start = r * run
        kept[r] = keep_bits(np.uint64(start), min(run, planes - start), seed, offset, threshold, height, width,
                            block, seed_height, seed_width, bits[start * plane_size // 8:])
    return kept.sum()


def _check_block(shape, block_size, eps):
    """The native module's checks (src/bind_drop_block2d.cpp), with its messages."""
    if len(shape) != 4:
        raise ValueError("shape: expected (batch, channels, height, width)")
    if any(size < 0 for size in shape):
        raise ValueError("shape: expected sizes >= 0")
    height, width = shape[2], shape[3]
    if block_size < 1 or block_size % 2 == 0 or block_size > height or block_size > width:
        raise ValueError(f"block_size: expected an odd size from 1 to the height {height} and width {width}, "
                         f"got {block_size}")
    if not (eps >= 0.0 and math.isfinite(eps)):
        raise ValueError(f"eps: expected a finite number >= 0, got {eps!r}")


def _check_p(p):
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError("invalid value: p must be in [0, 1] and counts non-negative")
    return p


def drop_block2d_forward(dtype, x, y, shape, block_size, p, eps, seed, offset, mask_bits):
    """DropBlock of x, (batch, channels, height, width) row-major, into y (may be x); writes the
    element keep bits and returns the scale numel / (eps + kept)."""
    _, storage, _ = kind_of(dtype)
    shape = [int(size) for size in shape]
    block_size, eps, p = int(block_size), float(eps), _check_p(p)
    _check_block(shape, block_size, eps)
    n = np.asarray(x).nbytes // np.dtype(storage).itemsize
    if math.prod(shape) != n:
        raise ValueError("shape: must have as many elements as x")
    xs = buffer(x, "x", storage, n, False)
    ys = buffer(y, "out", storage, n, True)
    bits = buffer(mask_bits, "mask_bits", np.uint8, (n + 7) // 8, True)
    batch, channels, height, width = shape
    seed_, offset_, threshold = make_drop_block_params(p, height, width, block_size, seed, offset)
    kept = 0
    if n:
        kept = int(run_kernel(keep_bits_runs, n, batch * channels, planes_per_run(height * width), seed_, offset_,
                              threshold, height, width, block_size, bits))
    scale = drop_block_scale(n, kept, eps)
    apply_mask_bits_scale(dtype, xs, ys, scale, bits)
    return scale


def apply_mask_bits_scale(dtype, x, y, scale, mask_bits):
    """y = keep ? x * scale : 0 with keep from bit (i & 7) of mask_bits[i >> 3]; y may be x."""
    kernel, storage, compute = kind_of(dtype)
    scale = float(scale)
    if not math.isfinite(scale):
        raise ValueError("scale: expected a finite number")
    n = np.asarray(x).nbytes // np.dtype(storage).itemsize
    xs = buffer(x, "x", storage, n, False)
    ys = buffer(y, "out", storage, n, True)
    bits = buffer(mask_bits, "mask_bits", np.uint8, (n + 7) // 8, False)
    run_dropout(kernel, n, single_run(n), xs, ys, make_dropout_params(0.0, 0, 0), dropout_op(compute(scale)),
                bits_in=bits)
