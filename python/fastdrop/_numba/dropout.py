"""Numba mirror of fastdrop's C++ CPU core, bit-identical to it (docs/design.md, Randomness).

Its C++ twins, whose structure and names it keeps:
- csrc/include/fastdrop/philox.h: philox_round, philox4x32_10, stream_block, stream_word;
- csrc/include/fastdrop/dropout_math.h: half_to_float, float_to_half_rne, bfloat16_to_float,
  float_to_bfloat16_rne, make_dropout_params, keeps, dropout_element, make_alpha_constants,
  make_alpha_params, alpha_dropout_element;
- csrc/cpu/element_ops.h: DropoutOp and AlphaOp, here an op code (element_op);
- csrc/cpu/dropout_kernel.cpp: tile_words and the tile loops (keeps of a tile, element loop, masks);
- csrc/cpu/broadcast_kernel.cpp and the row-segment walk of api.cpp's fastdrop_apply_mask_bits:
  unit_bit, unit_keeps;
- csrc/cpu/api_common.h: for_each_run_chunk (run_chunk_count, run_chunk), single_run,
  valid_runs: calls split into chunks of 32768 elements that never cross a run, run in parallel,
  so that results do not depend on the thread count;
- csrc/cpu/api.cpp: the entry points, each one _run_dropout call here (where the C++ calls
  forward_over, alpha_forward_over or alpha_backward_over, with the single run or the caller's).

The interface is that of the compiled module fastdrop._native (forward, backward_bits, mask_bits,
apply_mask_bits, alpha_forward, alpha_backward, stream_words, set_num_threads, get_num_threads,
and for shards of a logical tensor forward_runs, mask_bits_runs, alpha_forward_runs,
alpha_backward_runs), so the front-end can call either. 16-bit floats are handled as their raw
uint16 bits. A call's runs (first, run_length, run_stride) say which unit each element is:
element r * run_length + j is unit first + r * run_stride + j; an unsharded call is the single
run (0, n, n), so one kernel serves both.

Numba widens uint32 arithmetic to uint64 (and mixing uint64 with a signed int gives float64), so
32-bit words are carried in uint64 with explicit np.uint64 constants and masks. Every function is
compiled lazily at its first call and cached on disk; fastmath stays off so that rounding is exact.
The helpers of the loops are inlined in Numba's IR (inline="always"): LLVM alone does not inline
the Philox rounds, and the loop over blocks then does not vectorise. The float conversions are
left to LLVM, which vectorises them better that way. The functions called once per tile
(tile_keeps, unit_keeps, store_masks) are not inlined: compiled once, they serve every kernel,
which keeps a cold start about a third shorter at no cost in speed.
"""

from __future__ import annotations

import math
import operator

import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

PHILOX_M0 = np.uint64(0xD2511F53)
PHILOX_M1 = np.uint64(0xCD9E8D57)
PHILOX_W0 = np.uint64(0x9E3779B9)
PHILOX_W1 = np.uint64(0xBB67AE85)
PHILOX_ROUNDS = 10

_LOW32 = np.uint64(0xFFFFFFFF)
_U2 = np.uint64(2)
_U3 = np.uint64(3)
_U8 = np.uint64(8)
_U13 = np.uint64(13)
_U16 = np.uint64(16)
_U24 = np.uint64(24)
_U32 = np.uint64(32)

# Units per chunk (api.cpp kChunk): a multiple of 8, so bit masks of chunks never share a byte.
CHUNK = 1 << 15
# Below this many units a call stays on the calling thread (api.cpp kParallelMin): waking
# threads costs more, and far more when another process holds the other cores.
PARALLEL_MIN = 1 << 16
# Units per tile (dropout_kernel.cpp kTile): a tile's keeps and values stay in L1 between loops.
TILE = 1024
# Bytes of a tile's keeps: those of whole blocks from the block of its first unit, which in a
# shard may lie up to 3 units past a block's start (TILE + 4), rounded up to whole uint64s for
# the 8-keep views.
SKEWED_TILE = TILE + 8
# Dimensions apply_mask_bits takes (api.cpp kMaxDims); callers merge adjacent dimensions first.
MAX_DIMS = 16


# ---- philox.h -------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def philox_round(c0, c1, c2, c3, k0, k1):
    p0 = PHILOX_M0 * c0
    p1 = PHILOX_M1 * c2
    return (p1 >> _U32) ^ c1 ^ k0, p1 & _LOW32, (p0 >> _U32) ^ c3 ^ k1, p0 & _LOW32


@njit(cache=True, inline="always")
def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of counter (c0, c1, c2, c3) and key (k0, k1): 32-bit values in uint64."""
    for _ in range(PHILOX_ROUNDS):
        c0, c1, c2, c3 = philox_round(c0, c1, c2, c3, k0, k1)
        k0 = (k0 + PHILOX_W0) & _LOW32
        k1 = (k1 + PHILOX_W1) & _LOW32
    return c0, c1, c2, c3


@njit(cache=True, inline="always")
def stream_block(seed, offset, b):
    """Block b of call (seed, offset): counter (b lo, b hi, offset lo, offset hi), key (seed lo, seed hi)."""
    return philox4x32_10(b & _LOW32, b >> _U32, offset & _LOW32, offset >> _U32, seed & _LOW32, seed >> _U32)


@njit(cache=True)
def stream_word(seed, offset, u):
    """The 32-bit word that decides unit u: word (u & 3) of block (u >> 2)."""
    return stream_block(seed, offset, u >> _U2)[u & _U3]


# ---- dropout_math.h -------------------------------------------------------------------------


@intrinsic
def float_as_u32(typingctx, f):
    """The bits of a float32, zero-extended to uint64 (memcpy in the C++)."""
    if f != types.float32:
        return None

    def codegen(context, builder, signature, args):
        bits = builder.bitcast(args[0], context.get_value_type(types.uint32))
        return builder.zext(bits, context.get_value_type(types.uint64))

    return types.uint64(types.float32), codegen


@intrinsic
def u32_as_float(typingctx, u):
    """The float32 whose bits are the low 32 bits of a uint64 (memcpy in the C++)."""
    if u != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        bits = builder.trunc(args[0], context.get_value_type(types.uint32))
        return builder.bitcast(bits, context.get_value_type(types.float32))

    return types.float32(types.uint64), codegen


@njit(cache=True)
def half_to_float(h):
    """IEEE binary16 bits -> float32, exact (F. Giesen's branch-free form)."""
    hu = np.uint64(h)
    shifted_exp = np.uint64(0x7C00 << 13)
    o = (hu & np.uint64(0x7FFF)) << _U13
    exp = shifted_exp & o
    o += np.uint64((127 - 15) << 23)
    inf_nan = o + np.uint64((128 - 16) << 23)
    sub = u32_as_float(o + np.uint64(1 << 23)) - u32_as_float(np.uint64(113 << 23))
    o = inf_nan if exp == shifted_exp else o
    o = float_as_u32(sub) if exp == 0 else o
    return u32_as_float(o | ((hu & np.uint64(0x8000)) << _U16))


@njit(cache=True)
def float_to_half_rne(f):
    """float32 -> binary16 bits, round to nearest even; overflow gives inf, NaN a quiet NaN."""
    u = float_as_u32(f)
    sign = u & np.uint64(0x80000000)
    u ^= sign
    f16max = np.uint64((127 + 16) << 23)
    denorm_magic = np.uint64(((127 - 15) + (23 - 10) + 1) << 23)
    # Subnormal results: the float addition rounds to nearest even at the half's last place.
    sub = float_as_u32(u32_as_float(u) + u32_as_float(denorm_magic)) - denorm_magic
    mant_odd = (u >> _U13) & np.uint64(1)
    # 0xC8000000 is uint32((15 - 127) << 23): adding it rebiases the exponent modulo 2^32. In
    # uint64 the sums can carry past bit 31, which the uint16 result drops anyway.
    normal = (u + np.uint64(0xC8000000) + np.uint64(0xFFF) + mant_odd) >> _U13
    o = sub if u < np.uint64(113 << 23) else normal
    o = (np.uint64(0x7E00) if u > np.uint64(0x7F800000) else np.uint64(0x7C00)) if u >= f16max else o
    return np.uint16(o | (sign >> _U16))


@njit(cache=True)
def bfloat16_to_float(b):
    return u32_as_float(np.uint64(b) << _U16)


@njit(cache=True)
def float_to_bfloat16_rne(f):
    """float32 -> bfloat16 bits, round to nearest even; NaN stays a quiet NaN of the same sign."""
    u = float_as_u32(f)
    rounded = (u + np.uint64(0x7FFF) + ((u >> _U16) & np.uint64(1))) >> _U16
    quiet_nan = (u >> _U16) | np.uint64(0x40)
    return np.uint16(quiet_nan if (u & np.uint64(0x7FFFFFFF)) > np.uint64(0x7F800000) else rounded)


def make_dropout_params(p, seed, offset):
    """(seed, offset, threshold, drop_all, scale_f32, scale_f64) of a call; p lies in [0, 1].

    Plain Python, as in the C++ it runs once per call on the host: Python floats are IEEE
    doubles, int() truncates like static_cast<uint32_t>, np.float32() rounds to nearest even.
    """
    p = float(p)
    drop_all = p >= 1.0
    threshold = 0 if drop_all else int(p * 4294967296.0)
    scale_f64 = 0.0 if drop_all else 1.0 / (1.0 - p)
    return (np.uint64(seed), np.uint64(offset), np.uint64(threshold), drop_all,
            np.float32(scale_f64), np.float64(scale_f64))


@njit(cache=True, inline="always")
def keeps(word, threshold, drop_all):
    return (word >= threshold) & (not drop_all)


@njit(cache=True, inline="always")
def dropout_element(x, keep, scale):
    """keep ? x * scale : 0 in the compute type of x and scale (float32 or float64).

    The C++ twin also widens and rounds 16-bit storage; here the caller does, since Numba sees
    both 16-bit formats as uint16. The float32 zero widens exactly in float64 code.
    """
    return x * scale if keep else np.float32(0.0)


# Alpha dropout with PyTorch's constants (Klambauer et al., "Self-Normalizing Neural Networks").
ALPHA_DROPOUT_ALPHA = 1.7580993408473766


def make_alpha_constants(p, compute):
    """(a, keep_add, drop_value) of alpha dropout in compute (np.float32 or np.float64).

    Plain Python like make_dropout_params: a = 1 / sqrt((alpha^2 p + 1)(1 - p)) in double, each
    constant rounded to the compute type, and drop_value their difference in that type (NumPy
    scalars of one type compute in it), as PyTorch computes them.
    """
    p = float(p)
    if p >= 1.0:
        return compute(0.0), compute(0.0), compute(0.0)  # everything dropped to 0, no inf
    alpha = ALPHA_DROPOUT_ALPHA
    a = 1.0 / math.sqrt((alpha * alpha * p + 1.0) * (1.0 - p))
    alpha_a = compute(alpha * a)
    keep_add = compute(alpha * a * p)
    return compute(a), keep_add, keep_add - alpha_a


def make_alpha_params(p):
    """The alpha constants of a call in both compute types: (float32 ones, float64 ones)."""
    return make_alpha_constants(p, np.float32), make_alpha_constants(p, np.float64)


@njit(cache=True, inline="always")
def alpha_dropout_element(x, keep, a, keep_add, drop_value):
    """keep ? x * a + keep_add : drop_value in the compute type (16-bit storage as dropout_element)."""
    return x * a + keep_add if keep else drop_value


# ---- element_ops.h --------------------------------------------------------------------------
# The op of a kernel's element loop is a code, not a function argument: each function object
# would compile the kernels again (and miss the disk cache). The alpha dropout backward is
# OP_DROPOUT with the scale a, as in the C++.
OP_DROPOUT = 0  # DropoutOp: keep ? x * scale : 0
OP_ALPHA = 1  # AlphaOp: keep ? x * scale + keep_add : drop_value, scale being a


@njit(cache=True, inline="always")
def element_op(op, x, keep, scale, keep_add, drop_value):
    if op == OP_ALPHA:
        return alpha_dropout_element(x, keep, scale, keep_add, drop_value)
    return dropout_element(x, keep, scale)


# ---- broadcast_kernel.cpp and api.cpp's fastdrop_apply_mask_bits ----------------------------


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


# ---- dropout_kernel.cpp ---------------------------------------------------------------------


@njit(cache=True, inline="always")
def tile_words(seed, offset, b0, nblocks, words):
    """Words of blocks b0 .. b0 + nblocks - 1 into words[0, 4 * nblocks), in unit order.

    The blocks are independent, so LLVM runs several of them per vector register.
    """
    for i in range(nblocks):
        c0, c1, c2, c3 = stream_block(seed, offset, b0 + np.uint64(i))
        words[4 * i] = c0
        words[4 * i + 1] = c1
        words[4 * i + 2] = c2
        words[4 * i + 3] = c3


@njit(cache=True)
def chunk_stream_words(seed, offset, first, words, tile):
    """Words of units first .. first + len(words) - 1, through tiles that start at a whole block."""
    n = words.size
    skew = int(first & _U3)
    b0 = first >> _U2
    # k counts units from the start of block b0.
    for k in range(0, skew + n, TILE):
        span = min(TILE, skew + n - k)
        tile_words(seed, offset, b0 + np.uint64(k // 4), (span + 3) // 4, tile)
        for i in range(max(k, skew), k + span):
            words[i - skew] = tile[i - k]


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
def tile_keeps(seed, offset, threshold, drop_all, unit, position, n, bits_in, shape, unit_strides, keep):
    """keep[0, n) (0 or 1) of a tile: the elements position .. position + n - 1 of the call (position
    a multiple of 8), whose units are unit .. unit + n - 1; keep holds SKEWED_TILE bytes.

    From bits_in's bits of the units of a broadcast shape when shape is not empty
    (apply_mask_bits); else from the stream when bits_in is empty (forward), else from its bit
    `position + i` (backward_bits). The stream is decided a block at a time: its 4 keeps go out as
    the 4 bytes of one uint32 (in memory order on a little-endian CPU, as the C++ pack8/unpack8
    assume too), from the block of the tile's first unit; when that unit is not the block's first
    (shards only: an unsharded call's tiles start at multiples of TILE), the keeps then move down
    past the skew, as the C++ reads the words from words + (unit & 3).
    """
    if shape.size != 0:
        unit_keeps(position, n, bits_in, shape, unit_strides, keep)
    elif bits_in.size == 0:
        skew = np.int64(unit & _U3)
        b0 = unit >> _U2
        keep4 = keep.view(np.uint32)
        for i in range((skew + n + 3) // 4):
            c0, c1, c2, c3 = stream_block(seed, offset, b0 + np.uint64(i))
            keep4[i] = (np.uint64(keeps(c0, threshold, drop_all))
                        | np.uint64(keeps(c1, threshold, drop_all)) << _U8
                        | np.uint64(keeps(c2, threshold, drop_all)) << _U16
                        | np.uint64(keeps(c3, threshold, drop_all)) << _U24)
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


# ---- api_common.h: for_each_run_chunk -------------------------------------------------------


@njit(cache=True, inline="always")
def run_chunk_count(n, run_length):
    """(chunks, chunks per run) of a call of n elements in runs of run_length: chunks never cross a run."""
    if n == 0:
        return 0, 1
    per_run = (run_length + CHUNK - 1) // CHUNK
    return n // run_length * per_run, per_run


@njit(cache=True, inline="always")
def run_chunk(c, per_run, runs):
    """Chunk c of a call whose element r * run_length + j is unit first + r * run_stride + j, runs
    being (first, run_length, run_stride): its elements [start, end), the unit of element start,
    and the bit where its keep bits start when each run's bits start at a whole byte (start itself
    for a single run). Chunks start at a multiple of CHUNK within their run.
    """
    first, run_length, run_stride = runs
    run = c // per_run
    at = c % per_run * CHUNK
    start = run * run_length + at
    end = start + min(CHUNK, run_length - at)
    unit = first + np.uint64(run) * run_stride + np.uint64(at)
    bit = run * 8 * ((run_length + 7) // 8) + at
    return start, end, unit, bit


# ---- api.cpp: chunks in parallel, one kernel per storage kind --------------------------------
# Each kernel does every call but stream_words: the runs, the element op (op, scale, keep_add,
# drop_value) and the source of the keeps (see tile_keeps) are arguments. They differ only in the
# element loop: a Numba function handed another as an argument compiles, and misses the disk
# cache, once per function object. Each tile of x is first copied into xt: when y is x (in place)
# LLVM's overlap check would otherwise pick its scalar loop.


@njit(cache=True, parallel=True, nogil=True)
def dropout_float16(n, runs, x, y, seed, offset, threshold, drop_all, op, scale, keep_add, drop_value,
                    bits_in, shape, unit_strides, mask_bits, mask_bytes):
    chunks, per_run = run_chunk_count(n, runs[1])
    for c in prange(chunks):
        keep = np.empty(SKEWED_TILE, np.uint8)
        xt = np.empty(TILE, x.dtype)
        start, end, unit, bit = run_chunk(c, per_run, runs)
        for t in range(start, end, TILE):
            m = min(TILE, end - t)
            tile_keeps(seed, offset, threshold, drop_all, unit + np.uint64(t - start), t, m, bits_in, shape,
                       unit_strides, keep)
            xs, ys = x[t:t + m], y[t:t + m]
            for i in range(m):
                xt[i] = xs[i]
            for i in range(m):
                ys[i] = float_to_half_rne(element_op(op, half_to_float(xt[i]), keep[i] != 0, scale, keep_add,
                                                     drop_value))
            store_masks(t, bit + (t - start), m, keep, mask_bits, mask_bytes)


@njit(cache=True, parallel=True, nogil=True)
def dropout_bfloat16(n, runs, x, y, seed, offset, threshold, drop_all, op, scale, keep_add, drop_value,
                     bits_in, shape, unit_strides, mask_bits, mask_bytes):
    chunks, per_run = run_chunk_count(n, runs[1])
    for c in prange(chunks):
        keep = np.empty(SKEWED_TILE, np.uint8)
        xt = np.empty(TILE, x.dtype)
        start, end, unit, bit = run_chunk(c, per_run, runs)
        for t in range(start, end, TILE):
            m = min(TILE, end - t)
            tile_keeps(seed, offset, threshold, drop_all, unit + np.uint64(t - start), t, m, bits_in, shape,
                       unit_strides, keep)
            xs, ys = x[t:t + m], y[t:t + m]
            for i in range(m):
                xt[i] = xs[i]
            for i in range(m):
                ys[i] = float_to_bfloat16_rne(element_op(op, bfloat16_to_float(xt[i]), keep[i] != 0, scale,
                                                         keep_add, drop_value))
            store_masks(t, bit + (t - start), m, keep, mask_bits, mask_bytes)


@njit(cache=True, parallel=True, nogil=True)
def dropout_float(n, runs, x, y, seed, offset, threshold, drop_all, op, scale, keep_add, drop_value,
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
            tile_keeps(seed, offset, threshold, drop_all, unit + np.uint64(t - start), t, m, bits_in, shape,
                       unit_strides, keep)
            if x.size != 0:
                xs, ys = x[t:t + m], y[t:t + m]
                for i in range(m):
                    xt[i] = xs[i]
                for i in range(m):
                    ys[i] = element_op(op, xt[i], keep[i] != 0, scale, keep_add, drop_value)
            store_masks(t, bit + (t - start), m, keep, mask_bits, mask_bytes)


@njit(cache=True, parallel=True, nogil=True)
def stream_chunks(seed, offset, first, words):
    n = words.size
    for c in prange((n + CHUNK - 1) // CHUNK):
        tile = np.empty(TILE, np.uint32)
        start = c * CHUNK
        chunk_stream_words(seed, offset, first + np.uint64(start), words[start:min(n, start + CHUNK)], tile)


# ---- the module interface (fastdrop._native's) ----------------------------------------------

# dtype name -> (kernel, storage dtype, compute dtype).
_KINDS = {
    "float16": (dropout_float16, np.uint16, np.float32),
    "bfloat16": (dropout_bfloat16, np.uint16, np.float32),
    "float32": (dropout_float, np.float32, np.float32),
    "float64": (dropout_float, np.float64, np.float64),
}
_APPLY_KINDS = ("dropout", "alpha", "alpha_grad")
_NO_DATA = np.zeros(0, np.float32)
_NO_BITS = np.zeros(0, np.uint8)
_NO_BYTES = np.zeros(0, np.bool_)
_NO_DIMS = np.zeros(0, np.int64)
_num_threads = 0


def _kind(dtype):
    try:
        return _KINDS[dtype]
    except KeyError:
        raise TypeError(f"dtype: expected float16, bfloat16, float32 or float64, got {dtype}") from None


def scale_of(params, compute):
    """The scale of make_dropout_params' result in a compute type."""
    return params[5] if compute is np.float64 else params[4]


def alpha_of(alpha, compute):
    """The constants of make_alpha_params' result in a compute type."""
    return alpha[1] if compute is np.float64 else alpha[0]


def _dropout_op(scale):
    # The unused constants have the scale's type: every op then shares one specialisation.
    zero = type(scale)(0.0)
    return OP_DROPOUT, scale, zero, zero


def _alpha_op(constants):
    return (OP_ALPHA, *constants)


def _buffer(a, what, storage, size, writable):
    """a's memory as a 1-D array of `size` items of `storage`, as the native module checks it."""
    a = np.asarray(a)
    if not a.flags.c_contiguous:
        raise ValueError(f"{what}: must be C-contiguous")
    if writable and not a.flags.writeable:
        raise ValueError(f"{what}: must be writable")
    expected = size * np.dtype(storage).itemsize
    if a.nbytes != expected:
        raise ValueError(f"{what}: expected {expected} bytes, got {a.nbytes}")
    return a.reshape(-1).view(storage)


def _elementwise_arrays(dtype, in_name, src, dst):
    """(kernel, compute dtype, n, src, dst) of a call that maps src to dst, n items each, their
    memory checked as the native module checks it."""
    kernel, storage, compute = _kind(dtype)
    n = np.asarray(src).nbytes // np.dtype(storage).itemsize
    return kernel, compute, n, _buffer(src, in_name, storage, n, False), _buffer(dst, "out", storage, n, True)


def _single_run(n):
    """The runs of an unsharded call, element i being unit i (api_common.h single_run)."""
    return np.uint64(0), np.int64(n), np.uint64(n)


def _unit_runs(runs, n):
    """runs (first, run_length, run_stride) of a call of n elements as the kernels take them,
    checked as api_common.h valid_runs checks them; out-of-range values are refused as the native
    module's argument conversion refuses them (TypeError)."""
    if len(runs) != 3:
        raise TypeError(f"runs: expected (first, run_length, run_stride), got {runs!r}")
    first, run_length, run_stride = (operator.index(v) for v in runs)
    if not (0 <= first < 2**64 and 0 <= run_stride < 2**64 and -2**63 <= run_length < 2**63):
        raise TypeError(f"runs: expected first and run_stride in [0, 2**64), run_length an int64, got {runs!r}")
    if run_length < 0 or (n > 0 and (run_length == 0 or n % run_length)):
        raise ValueError("runs: run_length must be positive and divide n")
    return np.uint64(first), np.int64(run_length), np.uint64(run_stride)


def _run(kernel, n, *args):
    # Numba's thread count belongs to the calling thread; setting it at each call makes
    # set_num_threads global, as the native module's is.
    numba.set_num_threads(get_num_threads() if n >= PARALLEL_MIN else 1)
    return kernel(*args)


def _run_dropout(kernel, n, runs, x, y, params, op, bits_in=_NO_BITS, shape=_NO_DIMS, unit_strides=_NO_DIMS,
                 mask_bits=_NO_BITS, mask_bytes=_NO_BYTES):
    """One of the dropout kernels over n elements of the units of runs (see _unit_runs), op being
    (code, scale, keep_add, drop_value)."""
    seed, offset, threshold, drop_all = params[:4]
    _run(kernel, n, n, runs, x, y, seed, offset, threshold, drop_all, *op, bits_in, shape, unit_strides, mask_bits,
         mask_bytes)


def forward(dtype, x, y, p, seed, offset, mask_bits=None, mask_bytes=None):
    """y = dropout(x) for units 0 .. n - 1 of call (seed, offset); optionally the keep masks."""
    kernel, compute, n, xs, ys = _elementwise_arrays(dtype, "x", x, y)
    bits = _NO_BITS if mask_bits is None else _buffer(mask_bits, "mask_bits", np.uint8, (n + 7) // 8, True)
    keep = _NO_BYTES if mask_bytes is None else _buffer(mask_bytes, "mask_bytes", np.bool_, n, True)
    params = make_dropout_params(p, seed, offset)
    _run_dropout(kernel, n, _single_run(n), xs, ys, params, _dropout_op(scale_of(params, compute)), mask_bits=bits,
                 mask_bytes=keep)


def forward_runs(dtype, x, y, p, seed, offset, runs):
    """y = dropout(x) for a shard of a logical tensor whose element r * run_length + j is unit
    first + r * run_stride + j of call (seed, offset), runs being (first, run_length, run_stride);
    also its backward, the mask regenerated."""
    kernel, compute, n, xs, ys = _elementwise_arrays(dtype, "x", x, y)
    params = make_dropout_params(p, seed, offset)
    _run_dropout(kernel, n, _unit_runs(runs, n), xs, ys, params, _dropout_op(scale_of(params, compute)))


def backward_bits(dtype, dy, dx, p, mask_bits):
    """dx = keep ? dy * scale : 0 with keep from bit (i & 7) of mask_bits[i >> 3]."""
    kernel, compute, n, gs, dxs = _elementwise_arrays(dtype, "grad", dy, dx)
    bits = _buffer(mask_bits, "mask_bits", np.uint8, (n + 7) // 8, False)
    params = make_dropout_params(p, 0, 0)
    _run_dropout(kernel, n, _single_run(n), gs, dxs, params, _dropout_op(scale_of(params, compute)), bits_in=bits)


def mask_bits(n, p, seed, offset, bits):
    """Keep bits alone of units 0 .. n - 1 of call (seed, offset): bit (i & 7) of bits[i >> 3],
    the bits past n 0; mask_bits_runs of the single run (0, n, n)."""
    mask_bits_runs(n, p, seed, offset, (0, n, n), bits)


def mask_bits_runs(n, p, seed, offset, runs, bits):
    """Keep bits alone of the units of runs (as forward_runs') of call (seed, offset): those of run
    r from byte r * ceil(run_length / 8) of bits on, bit (j & 7) of byte j >> 3 of them for its
    element j, the bits past run_length 0. The float32 kernel runs with no data (no specialisation
    of its own)."""
    n = int(n)
    if n < 0:
        raise ValueError("n: expected a count >= 0")
    unit_runs = _unit_runs(runs, n)
    run_length = int(unit_runs[1])
    out = _buffer(bits, "mask_bits", np.uint8, n // run_length * ((run_length + 7) // 8) if n else 0, True)
    params = make_dropout_params(p, seed, offset)
    _run_dropout(dropout_float, n, unit_runs, _NO_DATA, _NO_DATA, params,
                 _dropout_op(scale_of(params, np.float32)), mask_bits=out)


def apply_mask_bits(kind, dtype, x, y, shape, unit_strides, p, unit_bits):
    """y = kind(x, keep bit of the element's unit) for a contiguous x of `shape` (row-major), whose
    element (i_0, ..., i_last) belongs to unit sum_d i_d * unit_strides[d] (stride 0 broadcasts).

    kind: "dropout" (keep ? x * s : 0), "alpha" (alpha dropout's forward) or "alpha_grad" (its
    backward, keep ? x * a : 0). Keep bits are read from unit_bits as mask_bits writes them.
    """
    if kind not in _APPLY_KINDS:
        raise ValueError(f"kind: expected dropout, alpha or alpha_grad, got {kind}")
    kernel, storage, compute = _kind(dtype)
    if len(shape) != len(unit_strides):
        raise ValueError("unit_strides: expected one per dimension of shape")
    if not 1 <= len(shape) <= MAX_DIMS:
        raise ValueError(f"shape: expected 1 to {MAX_DIMS} dimensions, got {len(shape)}")
    dims = np.array(shape, np.int64)
    strides = np.array(unit_strides, np.int64)
    if (dims < 0).any() or (strides < 0).any():
        raise ValueError("shape, unit_strides: expected values >= 0")
    n = math.prod(int(d) for d in dims)
    xs = _buffer(x, "x", storage, n, False)
    ys = _buffer(y, "out", storage, n, True)
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
        op = _alpha_op(alpha)
    elif kind == "alpha_grad":
        op = _dropout_op(alpha[0])
    else:
        op = _dropout_op(scale_of(params, compute))
    _run_dropout(kernel, n, _single_run(n), xs, ys, params, op, bits_in=bits, shape=dims, unit_strides=strides)


def alpha_forward(dtype, x, y, p, seed, offset, mask_bits=None):
    """y = alpha dropout of x for units 0 .. n - 1 of call (seed, offset); optionally the keep bits."""
    kernel, compute, n, xs, ys = _elementwise_arrays(dtype, "x", x, y)
    bits = _NO_BITS if mask_bits is None else _buffer(mask_bits, "mask_bits", np.uint8, (n + 7) // 8, True)
    params = make_dropout_params(p, seed, offset)
    _run_dropout(kernel, n, _single_run(n), xs, ys, params, _alpha_op(alpha_of(make_alpha_params(p), compute)),
                 mask_bits=bits)


def alpha_forward_runs(dtype, x, y, p, seed, offset, runs):
    """y = alpha dropout of x for the units of runs (as forward_runs') of call (seed, offset)."""
    kernel, compute, n, xs, ys = _elementwise_arrays(dtype, "x", x, y)
    params = make_dropout_params(p, seed, offset)
    _run_dropout(kernel, n, _unit_runs(runs, n), xs, ys, params, _alpha_op(alpha_of(make_alpha_params(p), compute)))


def alpha_backward(dtype, dy, dx, p, seed, offset):
    """dx = keep ? dy * a : 0, the mask regenerated from (seed, offset): dropout's backward with
    the scale a in place of 1 / (1 - p)."""
    kernel, compute, n, gs, dxs = _elementwise_arrays(dtype, "grad", dy, dx)
    params = make_dropout_params(p, seed, offset)
    _run_dropout(kernel, n, _single_run(n), gs, dxs, params, _dropout_op(alpha_of(make_alpha_params(p), compute)[0]))


def alpha_backward_runs(dtype, dy, dx, p, seed, offset, runs):
    """alpha_backward for the units of runs (as forward_runs')."""
    kernel, compute, n, gs, dxs = _elementwise_arrays(dtype, "grad", dy, dx)
    params = make_dropout_params(p, seed, offset)
    _run_dropout(kernel, n, _unit_runs(runs, n), gs, dxs, params,
                 _dropout_op(alpha_of(make_alpha_params(p), compute)[0]))


def stream_words(seed, offset, first, words):
    """words[i] = the stream word of unit first + i of call (seed, offset)."""
    out = np.asarray(words)
    n = out.nbytes // 4
    ws = _buffer(out, "words", np.uint32, n, True)
    _run(stream_chunks, n, np.uint64(seed), np.uint64(offset), np.uint64(first), ws)


def set_num_threads(threads):
    """Threads for the kernels; 0 is the default (all of Numba's). Results do not depend on it."""
    global _num_threads
    threads = int(threads)
    if threads < 0:
        raise ValueError(f"threads: expected a count >= 0, got {threads}")
    # Numba's pool has NUMBA_NUM_THREADS workers and cannot run more.
    _num_threads = min(threads, numba.config.NUMBA_NUM_THREADS)


def get_num_threads():
    return _num_threads or numba.config.NUMBA_NUM_THREADS
