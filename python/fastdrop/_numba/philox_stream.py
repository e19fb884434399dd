"""The Philox stream and the per-element math that every op shares, bit-identical to the C++ core
(docs/design.md, Randomness).

Its C++ twins, whose structure and names it keeps:
- csrc/include/fastdrop/philox.h: philox_round, philox4x32_10, stream_block, stream_word (the
  32-bit word of a continuous draw), stream_lane (the 16-bit lane of a Bernoulli unit);
- csrc/include/fastdrop/math/common.h: float_as_u32, u32_as_float, half_to_float,
  float_to_half_rne, bfloat16_to_float, float_to_bfloat16_rne, exp2i, make_dropout_params, keeps,
  scale_of;
- csrc/cpu/philox_stream.h: the words of a tile of blocks (tile_words), and through it the entry
  point fastdrop_stream_words (chunk_stream_words, stream_chunks, stream_words); the lanes of a tile
  of blocks (tile_lanes).

Randomness contract v2: Bernoulli unit u is decided by the 16-bit lane u & 7 of block u >> 3 (lane
2k the low half of word k, 2k + 1 its high half), continuous draw u by the 32-bit word u & 3 of
block u >> 2.

16-bit floats are handled as their raw uint16 bits. Numba widens uint32 arithmetic to uint64 (and
mixing uint64 with a signed int gives float64), so 32-bit words are carried in uint64 with explicit
np.uint64 constants and masks, here and in every kernel. Every function is compiled lazily at its
first call and cached on disk; fastmath stays off so that rounding is exact. The helpers of the
loops are inlined in Numba's IR (inline="always"): LLVM alone does not inline the Philox rounds,
and the loop over blocks then does not vectorise. The float conversions are left to LLVM, which
vectorises them better that way.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

from .api_common import CHUNK, buffer, run_kernel

PHILOX_M0 = np.uint64(0xD2511F53)
PHILOX_M1 = np.uint64(0xCD9E8D57)
PHILOX_W0 = np.uint64(0x9E3779B9)
PHILOX_W1 = np.uint64(0xBB67AE85)
PHILOX_ROUNDS = 10

_LOW32 = np.uint64(0xFFFFFFFF)
_U1 = np.uint64(1)
_U2 = np.uint64(2)
_U3 = np.uint64(3)
_U7 = np.uint64(7)
_U13 = np.uint64(13)
_U16 = np.uint64(16)
_U23 = np.uint64(23)
_U32 = np.uint64(32)
_LOW16 = np.uint64(0xFFFF)

# Units per tile: a tile's words, or its keeps and values in the kernels of dropout_kernel.py,
# stay in L1 between loops.
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
    """The 32-bit word of continuous draw u (Gaussian dropout): word (u & 3) of block (u >> 2)."""
    return stream_block(seed, offset, u >> _U2)[u & _U3]


@njit(cache=True)
def stream_lane(seed, offset, u):
    """The 16 bits that decide Bernoulli unit u: lane (u & 7) of block (u >> 3), lane 2k being the
    low half of word k and lane 2k + 1 its high half."""
    word = stream_block(seed, offset, u >> _U3)[(u & _U7) >> _U1]
    return (word >> (_U16 * (u & _U1))) & _LOW16


# ---- math/common.h ---------------------------------------------------------------------------


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
    # NaNs come out quiet, as F16C's vcvtph2ps makes them (the C++ kernels use it).
    quiet = np.uint64(0x400000) if (hu & np.uint64(0x3FF)) != np.uint64(0) else np.uint64(0)
    o = (inf_nan | quiet) if exp == shifted_exp else o
    o = float_as_u32(sub) if exp == 0 else o
    return u32_as_float(o | ((hu & np.uint64(0x8000)) << _U16))


@njit(cache=True)
def float_to_half_rne(f):
    """float32 -> binary16 bits, round to nearest even; overflow gives inf, NaN a quiet NaN with the
    top bits of its payload (as F16C's vcvtps2ph)."""
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
    nan = np.uint64(0x7E00) | ((u >> _U13) & np.uint64(0x3FF))
    o = (nan if u > np.uint64(0x7F800000) else np.uint64(0x7C00)) if u >= f16max else o
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


@njit(cache=True, inline="always")
def exp2i(e):
    """2^e as a float32, for an integer e in [-126, 127]."""
    return u32_as_float(np.uint64(e + 127) << _U23)


def make_dropout_params(p, seed, offset):
    """(seed, offset, threshold, scale_f32, scale_f64) of a call; p lies in [0, 1].

    A unit whose 16-bit lane is below threshold = floor(p * 2^16) is dropped; 2^16, above every
    lane, when p == 1, so that no flag is needed. Plain Python, as in the C++ it runs once per call
    on the host: Python floats are IEEE doubles, int() truncates like static_cast<uint32_t>,
    np.float32() rounds to nearest even.
    """
    p = float(p)
    threshold = 65536 if p >= 1.0 else int(p * 65536.0)
    scale_f64 = 0.0 if p >= 1.0 else 1.0 / (1.0 - p)
    return np.uint64(seed), np.uint64(offset), np.uint64(threshold), np.float32(scale_f64), np.float64(scale_f64)


@njit(cache=True, inline="always")
def keeps(lane, threshold):
    """Whether a Bernoulli unit with this 16-bit lane (stream_lane) is kept."""
    return lane >= threshold


def scale_of(params, compute):
    """The scale of make_dropout_params' result in a compute type."""
    return params[4] if compute is np.float64 else params[3]


# ---- philox_stream.h and fastdrop_stream_words ------------------------------------------------


@njit(cache=True, inline="always")
def tile_words(seed, offset, b0, nblocks, words):
    """Words of blocks b0 .. b0 + nblocks - 1 into words[0, 4 * nblocks), in the order of the
    continuous draws.

    The blocks are independent, so LLVM runs several of them per vector register.
    """
    for i in range(nblocks):
        c0, c1, c2, c3 = stream_block(seed, offset, b0 + np.uint64(i))
        words[4 * i] = c0
        words[4 * i + 1] = c1
        words[4 * i + 2] = c2
        words[4 * i + 3] = c3


@njit(cache=True, inline="always")
def tile_lanes(seed, offset, b0, nblocks, lanes):
    """16-bit lanes of blocks b0 .. b0 + nblocks - 1 into lanes[0, 8 * nblocks) (uint16 or uint64),
    in Bernoulli unit order: each word's low half, then its high half (the C++ reads the words'
    memory as uint16 on a little-endian CPU, which is the same order)."""
    for i in range(nblocks):
        c0, c1, c2, c3 = stream_block(seed, offset, b0 + np.uint64(i))
        lanes[8 * i] = c0 & _LOW16
        lanes[8 * i + 1] = c0 >> _U16
        lanes[8 * i + 2] = c1 & _LOW16
        lanes[8 * i + 3] = c1 >> _U16
        lanes[8 * i + 4] = c2 & _LOW16
        lanes[8 * i + 5] = c2 >> _U16
        lanes[8 * i + 6] = c3 & _LOW16
        lanes[8 * i + 7] = c3 >> _U16


@njit(cache=True)
def chunk_stream_words(seed, offset, first, words, tile):
    """Words of draws first .. first + len(words) - 1, through tiles that start at a whole block."""
    n = words.size
    skew = int(first & _U3)
    b0 = first >> _U2
    # k counts units from the start of block b0.
    for k in range(0, skew + n, TILE):
        span = min(TILE, skew + n - k)
        tile_words(seed, offset, b0 + np.uint64(k // 4), (span + 3) // 4, tile)
        for i in range(max(k, skew), k + span):
            words[i - skew] = tile[i - k]


@njit(cache=True, parallel=True, nogil=True)
def stream_chunks(seed, offset, first, words):
    n = words.size
    for c in prange((n + CHUNK - 1) // CHUNK):
        tile = np.empty(TILE, np.uint32)
        start = c * CHUNK
        chunk_stream_words(seed, offset, first + np.uint64(start), words[start:min(n, start + CHUNK)], tile)


def stream_words(seed, offset, first, words):
    """words[i] = the stream word of continuous draw first + i of call (seed, offset)."""
    out = np.asarray(words)
    n = out.nbytes // 4
    ws = buffer(out, "words", np.uint32, n, True)
    run_kernel(stream_chunks, n, np.uint64(seed), np.uint64(offset), np.uint64(first), ws)
