"""Numba mirror of Gaussian dropout, bit-identical to the C++ core.

Its C++ twins, whose names and order of operations it keeps:
- csrc/include/fastdrop/math/gaussian_dropout.h: make_gaussian_params, split_word_plus_one,
  log_unit, quarter_turns, rotate_quarters, sincos_turn, gaussian_pair, gaussian_element (the
  float32 and float64 overloads here have a suffix each);
- csrc/cpu/gaussian_dropout_kernel.cpp: the tile loop (noise of the tile's pairs, then y = x * n);
- csrc/cpu/gaussian_dropout.cpp: gaussian_apply (pair_aligned runs, chunks in parallel) and the entry
  points fastdrop_gaussian_dropout_forward, _backward and their _runs.

The interface is fastdrop._native's (gaussian_forward, gaussian_backward, gaussian_forward_runs,
gaussian_backward_runs). The stream, exp2i and the 16-bit conversions are philox_stream.py's, the
chunks of a call's runs and the buffer checks api_common.py's. As there, 32-bit words are carried in
uint64 with explicit np.uint64 constants, float32 constants are np.float32 so that float32
arithmetic stays float32, and fastmath stays off.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .api_common import run_chunk, run_chunk_count, run_kernel, single_run, unit_runs
from .dropout_kernel import elementwise_arrays
from .philox_stream import (
    bfloat16_to_float,
    exp2i,
    float_as_u32,
    float_to_bfloat16_rne,
    float_to_half_rne,
    half_to_float,
    stream_block,
)

# The entry points under the compiled module's names (collected by _numba/__init__.py).
__all__ = ["gaussian_forward", "gaussian_forward_runs", "gaussian_backward", "gaussian_backward_runs"]

_U2 = np.uint64(2)
_U8 = np.uint64(8)
_U23 = np.uint64(23)
_U30 = np.uint64(30)
_LOW8 = np.uint64(0xFF)
_LOW32 = np.uint64(0xFFFFFFFF)
_ONE = np.uint64(1)
_THREE = np.uint64(3)
# musl logf's shift: the exponent of bits + this steps at sqrt(2) rather than at 2.
_SQRT_HALF_SHIFT = np.uint64(0x3F800000 - 0x3F3504F3)
_HALF_QUARTER = np.uint64(0x20000000)

# Units per tile (gaussian_dropout_kernel.cpp has 96 for the C++ vector stream; any multiple of 4 gives
# the same values).
TILE = 1024
# Noise a tile computes: that of whole blocks from the block of its first unit, which in a shard
# may lie 2 units past a block's start.
SKEWED_TILE = TILE + 4

# float32 constants, as the C++ float literals round them (checked: np.float32 of each double
# is the float nearest the decimal).
_F32_256 = np.float32(256.0)
_F32_LOG = tuple(np.float32(c) for c in (7.0376836292e-2, 1.1514610310e-1, 1.1676998740e-1, 1.2420140846e-1,
                                         1.4249322787e-1, 1.6668057665e-1, 2.0000714765e-1, 2.4999993993e-1,
                                         3.3333331174e-1))
_F32_LN2_LO = np.float32(-2.12194440e-4)
_F32_LN2_HI = np.float32(0.693359375)
_F32_HALF = np.float32(0.5)
_F32_ONE = np.float32(1.0)
_F32_MINUS_TWO = np.float32(-2.0)
_F32_TURN = np.float32(1.46291807926715968e-9)  # 2 pi / 2^32
_F32_SIN = tuple(np.float32(c) for c in (-1.9515295891e-4, 8.3321608736e-3, 1.6666654611e-1))
_F32_COS = tuple(np.float32(c) for c in (2.443315711809948e-5, 1.388731625493765e-3, 4.166664568298827e-2))
_F64_TURN = 1.4629180792671596e-09
# fdlibm's log (Lg1..Lg7, ln 2 in two parts), __kernel_sin (S1..S6) and __kernel_cos (C1..C6).
_F64_LG = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01,
           1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01)
_F64_LN2_HI = 6.93147180369123816490e-01
_F64_LN2_LO = 1.90821492927058770002e-10
_F64_SIN = (-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
            2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10)
_F64_COS = (4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
            -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11)


def make_gaussian_params(p):
    """(sigma_f32, sigma_f64) of a call; p lies in [0, 1). Plain Python, as in the C++ it runs on the host."""
    sigma = math.sqrt(float(p) / (1.0 - float(p)))
    return np.float32(sigma), np.float64(sigma)


@njit(cache=True, inline="always")
def split_word_plus_one(w):
    """(k, hi, lo): w + 1 = hi + lo exactly (hi has 24 bits, lo <= 256) and (w + 1) / 2^k close
    to [sqrt(1/2), sqrt(2))."""
    hi = np.float32(np.int64(w >> _U8)) * _F32_256
    lo = np.float32(np.int64((w & _LOW8) + _ONE))
    k = np.int64(((float_as_u32(hi + lo) + _SQRT_HALF_SHIFT) & _LOW32) >> _U23) - 127
    return k, hi, lo


@njit(cache=True, inline="always")
def log_unit_f32(w):
    """ln((w + 1) 2^-32) in float32: Cephes' logf polynomial by Estrin's scheme."""
    k, hi, lo = split_word_plus_one(w)
    f = ((hi - exp2i(k)) + lo) * exp2i(-k)
    e = np.float32(k - 32)
    z = f * f
    z2 = z * z
    c = _F32_LOG
    q0 = c[8] - c[7] * f
    q1 = c[6] - c[5] * f
    q2 = c[4] - c[3] * f
    q3 = c[2] - c[1] * f
    poly = (q0 + q1 * z) + (q2 + q3 * z) * z2 + c[0] * (z2 * z2)
    y = poly * (f * z) + (e * _F32_LN2_LO - _F32_HALF * z)
    return (f + y) + e * _F32_LN2_HI


@njit(cache=True, inline="always")
def log_unit_f64(w):
    """ln((w + 1) 2^-32) in float64: fdlibm's log kernel."""
    k, _, _ = split_word_plus_one(w)
    f = (np.float64(w) + 1.0) * np.float64(exp2i(-k)) - 1.0
    dk = np.float64(k - 32)
    s = f / (2.0 + f)
    z = s * s
    w2 = z * z
    lg1, lg2, lg3, lg4, lg5, lg6, lg7 = _F64_LG
    t1 = w2 * (lg2 + w2 * (lg4 + w2 * lg6))
    t2 = z * (lg1 + w2 * (lg3 + w2 * (lg5 + w2 * lg7)))
    hfsq = 0.5 * f * f
    return s * (hfsq + (t2 + t1)) + dk * _F64_LN2_LO - hfsq + f + dk * _F64_LN2_HI


@njit(cache=True, inline="always")
def quarter_turns(w):
    """(q, d): the turn 2 pi w 2^-32 is q quarter turns (mod 4) plus d 2^-32 turns, |d| <= 2^29."""
    nearest = (w + _HALF_QUARTER) >> _U30
    return nearest & _THREE, np.int64(w) - np.int64(nearest << _U30)


@njit(cache=True, inline="always")
def rotate_quarters(q, cos_a, sin_a):
    """(cos, sin) of the turn from those of its rest a and its quarter turns q."""
    c = -sin_a if q & _ONE else cos_a
    s = cos_a if q & _ONE else sin_a
    return (-c if q & np.uint64(2) else c), (-s if q & np.uint64(2) else s)


@njit(cache=True, inline="always")
def sincos_turn_f32(w):
    """(cos, sin) of 2 pi w 2^-32 in float32: Cephes' sinf and cosf polynomials."""
    q, d = quarter_turns(w)
    a = np.float32(d) * _F32_TURN
    z = a * a
    sin_a = ((_F32_SIN[0] * z + _F32_SIN[1]) * z - _F32_SIN[2]) * z * a + a
    cos_a = ((_F32_COS[0] * z - _F32_COS[1]) * z + _F32_COS[2]) * z * z - _F32_HALF * z + _F32_ONE
    return rotate_quarters(q, cos_a, sin_a)


@njit(cache=True, inline="always")
def sincos_turn_f64(w):
    """(cos, sin) of 2 pi w 2^-32 in float64: fdlibm's __kernel_sin and __kernel_cos, no tail."""
    q, d = quarter_turns(w)
    a = np.float64(d) * _F64_TURN
    z = a * a
    z2 = z * z
    s1, s2, s3, s4, s5, s6 = _F64_SIN
    c1, c2, c3, c4, c5, c6 = _F64_COS
    rs = s2 + z * (s3 + z * s4) + z * z2 * (s5 + z * s6)
    sin_a = a + z * a * (s1 + z * rs)
    rc = z * (c1 + z * (c2 + z * c3)) + z2 * z2 * (c4 + z * (c5 + z * c6))
    hz = 0.5 * z
    one_minus_hz = 1.0 - hz
    cos_a = one_minus_hz + (((1.0 - one_minus_hz) - hz) + z * rc)
    return rotate_quarters(q, cos_a, sin_a)


@njit(cache=True, inline="always")
def gaussian_pair_f32(word_even, word_odd, sigma):
    """The noises (n_even, n_odd) of a pair of units in float32."""
    r = np.sqrt(_F32_MINUS_TWO * log_unit_f32(word_even))
    cos_t, sin_t = sincos_turn_f32(word_odd)
    return _F32_ONE + sigma * (r * cos_t), _F32_ONE + sigma * (r * sin_t)


@njit(cache=True, inline="always")
def gaussian_pair_f64(word_even, word_odd, sigma):
    """The noises (n_even, n_odd) of a pair of units in float64."""
    r = np.sqrt(-2.0 * log_unit_f64(word_even))
    cos_t, sin_t = sincos_turn_f64(word_odd)
    return 1.0 + sigma * (r * cos_t), 1.0 + sigma * (r * sin_t)


# ---- gaussian_dropout_kernel.cpp: the noise of a tile's blocks, one kernel per storage kind --
# A tile's first unit is even (runs are checked to keep pairs whole), so its noise is that of
# whole blocks from the block of that unit, read from the unit's place in them (skew 0 or 2; 0
# in an unsharded call, whose tiles start at multiples of TILE), as the C++ reads its words from
# words + (unit & 3). The kernels differ only in how values widen and round back, as in
# dropout_kernel.py.


@njit(cache=True, inline="always")
def noise_f32(seed, offset, unit, n, sigma, noise):
    """Noise of units unit .. unit + n - 1 at noise[skew:], returning skew = unit & 3."""
    skew = np.int64(unit & _THREE)
    b0 = unit >> _U2
    for i in range((skew + n + 3) // 4):
        c0, c1, c2, c3 = stream_block(seed, offset, b0 + np.uint64(i))
        noise[4 * i], noise[4 * i + 1] = gaussian_pair_f32(c0, c1, sigma)
        noise[4 * i + 2], noise[4 * i + 3] = gaussian_pair_f32(c2, c3, sigma)
    return skew


@njit(cache=True, inline="always")
def noise_f64(seed, offset, unit, n, sigma, noise):
    """noise_f32 in float64."""
    skew = np.int64(unit & _THREE)
    b0 = unit >> _U2
    for i in range((skew + n + 3) // 4):
        c0, c1, c2, c3 = stream_block(seed, offset, b0 + np.uint64(i))
        noise[4 * i], noise[4 * i + 1] = gaussian_pair_f64(c0, c1, sigma)
        noise[4 * i + 2], noise[4 * i + 3] = gaussian_pair_f64(c2, c3, sigma)
    return skew


@njit(cache=True, parallel=True, nogil=True)
def gaussian_float16(n, runs, x, y, seed, offset, sigma):
    chunks, per_run = run_chunk_count(n, runs[1])
    for c in prange(chunks):
        noise = np.empty(SKEWED_TILE, np.float32)
        start, end, unit, _ = run_chunk(c, per_run, runs)
        for t in range(start, end, TILE):
            m = min(TILE, end - t)
            skew = noise_f32(seed, offset, unit + np.uint64(t - start), m, sigma, noise)
            for i in range(m):
                y[t + i] = float_to_half_rne(half_to_float(x[t + i]) * noise[skew + i])


@njit(cache=True, parallel=True, nogil=True)
def gaussian_bfloat16(n, runs, x, y, seed, offset, sigma):
    chunks, per_run = run_chunk_count(n, runs[1])
    for c in prange(chunks):
        noise = np.empty(SKEWED_TILE, np.float32)
        start, end, unit, _ = run_chunk(c, per_run, runs)
        for t in range(start, end, TILE):
            m = min(TILE, end - t)
            skew = noise_f32(seed, offset, unit + np.uint64(t - start), m, sigma, noise)
            for i in range(m):
                y[t + i] = float_to_bfloat16_rne(bfloat16_to_float(x[t + i]) * noise[skew + i])


@njit(cache=True, parallel=True, nogil=True)
def gaussian_float32(n, runs, x, y, seed, offset, sigma):
    chunks, per_run = run_chunk_count(n, runs[1])
    for c in prange(chunks):
        noise = np.empty(SKEWED_TILE, np.float32)
        start, end, unit, _ = run_chunk(c, per_run, runs)
        for t in range(start, end, TILE):
            m = min(TILE, end - t)
            skew = noise_f32(seed, offset, unit + np.uint64(t - start), m, sigma, noise)
            for i in range(m):
                y[t + i] = x[t + i] * noise[skew + i]


@njit(cache=True, parallel=True, nogil=True)
def gaussian_float64(n, runs, x, y, seed, offset, sigma):
    chunks, per_run = run_chunk_count(n, runs[1])
    for c in prange(chunks):
        noise = np.empty(SKEWED_TILE, np.float64)
        start, end, unit, _ = run_chunk(c, per_run, runs)
        for t in range(start, end, TILE):
            m = min(TILE, end - t)
            skew = noise_f64(seed, offset, unit + np.uint64(t - start), m, sigma, noise)
            for i in range(m):
                y[t + i] = x[t + i] * noise[skew + i]


# ---- gaussian_dropout.cpp: the module interface (fastdrop._native's) -------------------------

_KERNELS = {"float16": gaussian_float16, "bfloat16": gaussian_bfloat16, "float32": gaussian_float32,
            "float64": gaussian_float64}


def _check_p(p):
    p = float(p)
    if math.isnan(p) or not 0.0 <= p < 1.0:
        raise ValueError(f"p: Gaussian dropout rate has to be in [0, 1), got {p!r}")
    return p


def _pair_runs(runs, n):
    """runs as unit_runs checks them, and pair_aligned: first, run_length and run_stride even, so
    that no Box-Muller pair is split between shards."""
    call_runs = unit_runs(runs, n)
    if any(int(v) % 2 for v in call_runs):
        raise ValueError("runs: first, run_length and run_stride must be even (whole Box-Muller pairs)")
    return call_runs


def _apply(in_name, dtype, src, dst, p, seed, offset, runs):
    """gaussian_apply: dst = src * n over the units of runs (None: unsharded, element i is unit i)."""
    _, compute, n, xs, ys = elementwise_arrays(dtype, in_name, src, dst)
    p = _check_p(p)
    call_runs = single_run(n) if runs is None else _pair_runs(runs, n)
    sigma_f32, sigma_f64 = make_gaussian_params(p)
    run_kernel(_KERNELS[dtype], n, n, call_runs, xs, ys, np.uint64(seed), np.uint64(offset),
               sigma_f64 if compute is np.float64 else sigma_f32)


def gaussian_forward(dtype, x, y, p, seed, offset):
    """y = x * n, n = 1 + sqrt(p / (1 - p)) z with z standard normal from (seed, offset); y may be x."""
    _apply("x", dtype, x, y, p, seed, offset, None)


def gaussian_backward(dtype, dy, dx, p, seed, offset):
    """dx = dy * n with the forward's noise, regenerated from (seed, offset)."""
    _apply("grad", dtype, dy, dx, p, seed, offset, None)


def gaussian_forward_runs(dtype, x, y, p, seed, offset, runs):
    """gaussian_forward for a shard whose element r * run_length + j is unit first + r * run_stride
    + j, runs being (first, run_length, run_stride), all three even."""
    _apply("x", dtype, x, y, p, seed, offset, runs)


def gaussian_backward_runs(dtype, dy, dx, p, seed, offset, runs):
    """gaussian_backward for the units of runs (as gaussian_forward_runs')."""
    _apply("grad", dtype, dy, dx, p, seed, offset, runs)
