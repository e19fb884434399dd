"""Numba mirror of fastdrop's C++ CPU core, bit-identical to it (DESIGN.md, Randomness).

Its C++ twins, whose structure and names it keeps:
- csrc/include/fastdrop/philox.h: philox_round, philox4x32_10, stream_block, stream_word;
- csrc/include/fastdrop/dropout_math.h: half_to_float, float_to_half_rne, bfloat16_to_float,
  float_to_bfloat16_rne, make_dropout_params, keeps, dropout_element;
- csrc/cpu/dropout_kernel.cpp: tile_words and the tile loops (keeps of a tile, element loop, masks);
- csrc/cpu/api.cpp: calls split into chunks of 32768 units run in parallel, so that results do
  not depend on the thread count.

The interface is that of the compiled module fastdrop._native (forward, backward_bits,
stream_words, set_num_threads, get_num_threads), so the front-end can call either. 16-bit floats
are handled as their raw uint16 bits.

Numba widens uint32 arithmetic to uint64 (and mixing uint64 with a signed int gives float64), so
32-bit words are carried in uint64 with explicit np.uint64 constants and masks. Every function is
compiled lazily at its first call and cached on disk; fastmath stays off so that rounding is exact.
The helpers of the loops are inlined in Numba's IR (inline="always"): LLVM alone does not inline
the Philox rounds, and the loop over blocks then does not vectorise. The float conversions are
left to LLVM, which vectorises them better that way.
"""

from __future__ import annotations

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


@njit(cache=True, inline="always")
def tile_keeps(seed, offset, threshold, drop_all, first, n, bits_in, keep):
    """keep[0, n) (0 or 1) of the units first .. first + n - 1 of a tile; first is a multiple of 8.

    From the stream when bits_in is empty (forward), else from its bits (backward_bits). The
    stream is decided a block at a time: its 4 keeps go out as the 4 bytes of one uint32 (in
    memory order on a little-endian CPU, as the C++ pack8/unpack8 assume too).
    """
    if bits_in.size == 0:
        keep4 = keep.view(np.uint32)
        for i in range((n + 3) // 4):
            c0, c1, c2, c3 = stream_block(seed, offset, np.uint64(first // 4 + i))
            keep4[i] = (np.uint64(keeps(c0, threshold, drop_all))
                        | np.uint64(keeps(c1, threshold, drop_all)) << _U8
                        | np.uint64(keeps(c2, threshold, drop_all)) << _U16
                        | np.uint64(keeps(c3, threshold, drop_all)) << _U24)
    else:
        bits = bits_in[first // 8:]
        keep8 = keep.view(np.uint64)
        for j in range((n + 7) // 8):
            keep8[j] = unpack8(bits[j])


@njit(cache=True, inline="always")
def store_masks(first, n, keep, mask_bits, mask_bytes):
    """The keeps of a tile into the masks asked for (an empty array was not asked for)."""
    if mask_bytes.size != 0:
        out = mask_bytes[first:first + n]
        for i in range(n):
            out[i] = keep[i] != 0
    if mask_bits.size != 0:
        out = mask_bits[first // 8:]
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


# ---- api.cpp: chunks in parallel, one kernel per storage kind --------------------------------
# Each kernel does forward (bits_in empty: keeps from the stream) and backward_bits (keeps from
# bits_in). They differ only in the element loop: a Numba function handed another as an argument
# compiles, and misses the disk cache, once per function object. Each tile of x is first copied
# into xt: when y is x (in place) LLVM's overlap check would otherwise pick its scalar loop.


@njit(cache=True, parallel=True, nogil=True)
def dropout_float16(x, y, seed, offset, threshold, drop_all, scale, bits_in, mask_bits, mask_bytes):
    n = x.size
    for c in prange((n + CHUNK - 1) // CHUNK):
        keep = np.empty(TILE, np.uint8)
        xt = np.empty(TILE, x.dtype)
        for t in range(c * CHUNK, min(n, (c + 1) * CHUNK), TILE):
            m = min(TILE, n - t)
            tile_keeps(seed, offset, threshold, drop_all, t, m, bits_in, keep)
            xs, ys = x[t:t + m], y[t:t + m]
            for i in range(m):
                xt[i] = xs[i]
            for i in range(m):
                ys[i] = float_to_half_rne(dropout_element(half_to_float(xt[i]), keep[i] != 0, scale))
            store_masks(t, m, keep, mask_bits, mask_bytes)


@njit(cache=True, parallel=True, nogil=True)
def dropout_bfloat16(x, y, seed, offset, threshold, drop_all, scale, bits_in, mask_bits, mask_bytes):
    n = x.size
    for c in prange((n + CHUNK - 1) // CHUNK):
        keep = np.empty(TILE, np.uint8)
        xt = np.empty(TILE, x.dtype)
        for t in range(c * CHUNK, min(n, (c + 1) * CHUNK), TILE):
            m = min(TILE, n - t)
            tile_keeps(seed, offset, threshold, drop_all, t, m, bits_in, keep)
            xs, ys = x[t:t + m], y[t:t + m]
            for i in range(m):
                xt[i] = xs[i]
            for i in range(m):
                ys[i] = float_to_bfloat16_rne(dropout_element(bfloat16_to_float(xt[i]), keep[i] != 0, scale))
            store_masks(t, m, keep, mask_bits, mask_bytes)


@njit(cache=True, parallel=True, nogil=True)
def dropout_float(x, y, seed, offset, threshold, drop_all, scale, bits_in, mask_bits, mask_bytes):
    """float32 and float64 (one specialisation each), whose storage type is their compute type."""
    n = x.size
    for c in prange((n + CHUNK - 1) // CHUNK):
        keep = np.empty(TILE, np.uint8)
        xt = np.empty(TILE, x.dtype)
        for t in range(c * CHUNK, min(n, (c + 1) * CHUNK), TILE):
            m = min(TILE, n - t)
            tile_keeps(seed, offset, threshold, drop_all, t, m, bits_in, keep)
            xs, ys = x[t:t + m], y[t:t + m]
            for i in range(m):
                xt[i] = xs[i]
            for i in range(m):
                ys[i] = dropout_element(xt[i], keep[i] != 0, scale)
            store_masks(t, m, keep, mask_bits, mask_bytes)


@njit(cache=True, parallel=True, nogil=True)
def stream_chunks(seed, offset, first, words):
    n = words.size
    for c in prange((n + CHUNK - 1) // CHUNK):
        tile = np.empty(TILE, np.uint32)
        start = c * CHUNK
        chunk_stream_words(seed, offset, first + np.uint64(start), words[start:min(n, start + CHUNK)], tile)


# ---- the module interface (fastdrop._native's) ----------------------------------------------

# dtype name -> (kernel, storage dtype, index of the scale in make_dropout_params' result).
_KINDS = {
    "float16": (dropout_float16, np.uint16, 4),
    "bfloat16": (dropout_bfloat16, np.uint16, 4),
    "float32": (dropout_float, np.float32, 4),
    "float64": (dropout_float, np.float64, 5),
}
_NO_BITS = np.zeros(0, np.uint8)
_NO_BYTES = np.zeros(0, np.bool_)
_num_threads = 0


def _kind(dtype):
    try:
        return _KINDS[dtype]
    except KeyError:
        raise TypeError(f"dtype: expected float16, bfloat16, float32 or float64, got {dtype}") from None


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


def _run(kernel, n, *args):
    # Numba's thread count belongs to the calling thread; setting it at each call makes
    # set_num_threads global, as the native module's is.
    numba.set_num_threads(get_num_threads() if n >= PARALLEL_MIN else 1)
    kernel(*args)


def forward(dtype, x, y, p, seed, offset, mask_bits=None, mask_bytes=None):
    """y = dropout(x) for units 0 .. n - 1 of call (seed, offset); optionally the keep masks."""
    kernel, storage, scale_index = _kind(dtype)
    n = np.asarray(x).nbytes // np.dtype(storage).itemsize
    xs = _buffer(x, "x", storage, n, False)
    ys = _buffer(y, "out", storage, n, True)
    bits = _NO_BITS if mask_bits is None else _buffer(mask_bits, "mask_bits", np.uint8, (n + 7) // 8, True)
    keep = _NO_BYTES if mask_bytes is None else _buffer(mask_bytes, "mask_bytes", np.bool_, n, True)
    params = make_dropout_params(p, seed, offset)
    _run(kernel, n, xs, ys, params[0], params[1], params[2], params[3], params[scale_index],
         _NO_BITS, bits, keep)


def backward_bits(dtype, dy, dx, p, mask_bits):
    """dx = keep ? dy * scale : 0 with keep from bit (i & 7) of mask_bits[i >> 3]."""
    kernel, storage, scale_index = _kind(dtype)
    n = np.asarray(dy).nbytes // np.dtype(storage).itemsize
    gs = _buffer(dy, "grad", storage, n, False)
    dxs = _buffer(dx, "out", storage, n, True)
    bits = _buffer(mask_bits, "mask_bits", np.uint8, (n + 7) // 8, False)
    params = make_dropout_params(p, 0, 0)
    _run(kernel, n, gs, dxs, params[0], params[1], params[2], params[3], params[scale_index],
         bits, _NO_BITS, _NO_BYTES)


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
