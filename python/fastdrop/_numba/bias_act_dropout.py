"""Numba mirror of the fused bias + activation + dropout, bit-identical to the C++ core.

Its C++ twins, whose names and order of operations it keeps:
- csrc/include/fastdrop/math/bias_act_dropout.h: exp_sum, exp_half_square, scaled_normal_tail,
  tail_argument, exp_nonpositive, normal_pdf, normal_cdf, gelu_tanh_sigmoid, activate and
  activate_grad (the float32 and float64 overloads here have a suffix each; activate and
  activate_grad pick theirs by type), bias_act_dropout_element and bias_act_dropout_grad_element
  (the element step of the kernel below);
- csrc/cpu/bias_act_dropout_kernel.cpp: the tile loop (keeps from the stream or from mask bits,
  then the elements);
- csrc/cpu/bias_act_dropout.cpp: the forward and backward entry points (the _runs ones of shards
  too), chunks of the call's runs in parallel.

The interface is fastdrop._native's (bias_act_dropout_forward, bias_act_dropout_backward and their
_runs). The stream, exp2i and the 16-bit conversions are philox_stream.py's, the keeps and masks of
a tile dropout_kernel.py's (csrc/cpu/fused_tiles.h), the chunks of runs and the buffer checks
api_common.py's. As there, 32-bit integers are carried in uint64 with explicit np.uint64 constants,
float32 constants are np.float32 so that float32 arithmetic stays float32, and fastmath stays off.
float64 calls math.exp and math.erfc, which Numba takes from the same libm as the C++. Divisions
follow IEEE (error_model="numpy"): Python's zero-division check would keep the loops from
vectorising.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from .api_common import buffer, run_chunk, run_chunk_count, run_kernel, single_run, unit_runs
from .dropout_kernel import NO_BITS, NO_DIMS, SKEWED_TILE, kind_of, store_masks, tile_keeps
from .philox_stream import (
    TILE,
    bfloat16_to_float,
    exp2i,
    float_as_u32,
    float_to_bfloat16_rne,
    float_to_half_rne,
    half_to_float,
    make_dropout_params,
    scale_of,
    u32_as_float,
)

# The entry points under the compiled module's names (collected by _numba/__init__.py).
__all__ = [
    "bias_act_dropout_forward", "bias_act_dropout_forward_runs", "bias_act_dropout_backward",
    "bias_act_dropout_backward_runs",
]

# fastdrop_activation's values, by the names the bindings take.
RELU, GELU, GELU_TANH = 0, 1, 2
ACTIVATIONS = {"relu": RELU, "gelu": GELU, "gelu_tanh": GELU_TANH}

# Which 16-bit format a kernel's uint16 values hold (the float kinds need none).
_FLOAT16, _BFLOAT16, _FLOAT = 0, 1, 2
_STORAGE_KINDS = {"float16": _FLOAT16, "bfloat16": _BFLOAT16, "float32": _FLOAT, "float64": _FLOAT}

# float32 constants, as the C++ float literals round them (tests check the results bit for bit).
_F32_ZERO = np.float32(0.0)
_F32_ONE = np.float32(1.0)
_F32_MINUS_HALF = np.float32(-0.5)
_F32_MINUS_TWO = np.float32(-2.0)
_F32_SHIFT = np.float32(12582912.0)  # 1.5 * 2^23
_SHIFT_BITS = np.uint64(0x4B400000)
_F32_LOG2E = np.float32(1.44269504088896341)
_F32_LN2_HI = np.float32(0.693359375)
_F32_LN2_LO = np.float32(-2.12194440e-4)
_F32_EXP = tuple(np.float32(c) for c in (5.0000001201e-1, 1.6666665459e-1, 4.1665795894e-2, 8.3334519073e-3,
                                         1.3981999507e-3, 1.9875691500e-4))
_HIGH_12_BITS = np.uint64(0xFFFFF000)
_F32_TAIL_P = tuple(np.float32(c) for c in (0.5, 4.3759736e-1, 1.8269175e-1, 4.0442307e-2, 4.08566e-3))
_F32_TAIL_Q = tuple(np.float32(c) for c in (1.0, 1.6730796, 1.2003039, 4.6802917e-1, 1.013804e-1, 1.0241108e-2))
_F32_TAIL_MAX = np.float32(14.5)
_F32_EXP_MIN = np.float32(-170.0)

INV_SQRT_2PI = 0.39894228040143267794
SQRT_HALF = 0.70710678118654752440
GELU_TANH_BETA = 0.79788456080286535588
GELU_TANH_KAPPA = 0.044715
_F32_INV_SQRT_2PI = np.float32(INV_SQRT_2PI)


# ---- math/bias_act_dropout.h: the float32 functions -------------------------------------------


@njit(cache=True, inline="always", error_model="numpy")
def exp_sum(hi, lo):
    """exp(hi + lo) in float32 for -170 <= hi <= 170 and |lo| <= 0.15, hi's reduction exact."""
    shifted = hi * _F32_LOG2E + _F32_SHIFT
    n = shifted - _F32_SHIFT
    g = ((hi - n * _F32_LN2_HI) + lo) - n * _F32_LN2_LO
    z = g * g
    c = _F32_EXP
    poly = (c[0] + c[1] * g) + (c[2] + c[3] * g) * z + (c[4] + c[5] * g) * (z * z)
    p = (poly * z + g) + _F32_ONE
    # n as the C++ int32: the low 32 bits of the difference, sign-extended.
    n_int = np.int64(np.int32(float_as_u32(shifted) - _SHIFT_BITS))
    n_half = n_int >> 1
    return p * exp2i(n_half) * exp2i(n_int - n_half)


@njit(cache=True, inline="always", error_model="numpy")
def exp_half_square(a):
    """exp(-a^2 / 2) for 0 <= a <= 14.5, a split as hi + lo with hi^2 exact."""
    hi = u32_as_float(float_as_u32(a) & _HIGH_12_BITS)
    lo = a - hi
    return exp_sum(_F32_MINUS_HALF * (hi * hi), _F32_MINUS_HALF * (lo * (a + hi)))


@njit(cache=True, inline="always", error_model="numpy")
def scaled_normal_tail(a):
    """Phi(-a) exp(a^2 / 2) for 0 <= a <= 14.5: the rational fit, by Estrin's scheme."""
    a2 = a * a
    a4 = a2 * a2
    p, q = _F32_TAIL_P, _F32_TAIL_Q
    num = (p[0] + p[1] * a) + (p[2] + p[3] * a) * a2 + p[4] * a4
    den = (q[0] + q[1] * a) + (q[2] + q[3] * a) * a2 + (q[4] + q[5] * a) * a4
    return num / den


@njit(cache=True, inline="always", error_model="numpy")
def tail_argument(v):
    """|v| clamped to 14.5; NaN gives 14.5."""
    a = -v if v < _F32_ZERO else v
    return a if a < _F32_TAIL_MAX else _F32_TAIL_MAX


@njit(cache=True, inline="always", error_model="numpy")
def exp_nonpositive_f32(x):
    return exp_sum(_F32_EXP_MIN if x < _F32_EXP_MIN else x, _F32_ZERO)


@njit(cache=True, inline="always", error_model="numpy")
def normal_pdf_f32(v):
    return exp_half_square(tail_argument(v)) * _F32_INV_SQRT_2PI


@njit(cache=True, inline="always", error_model="numpy")
def normal_cdf_f32(v):
    a = tail_argument(v)
    tail = exp_half_square(a) * scaled_normal_tail(a)
    return tail if v < _F32_ZERO else _F32_ONE - tail


# ---- math/bias_act_dropout.h: the float64 functions, from libm ---------------------------------


@njit(cache=True, inline="always", error_model="numpy")
def exp_nonpositive_f64(x):
    return math.exp(x)


@njit(cache=True, inline="always", error_model="numpy")
def normal_pdf_f64(v):
    return math.exp(-0.5 * (v * v)) * INV_SQRT_2PI


@njit(cache=True, inline="always", error_model="numpy")
def normal_cdf_f64(v):
    return 0.5 * math.erfc(v * -SQRT_HALF)


# ---- the C++ overloads: one name, the float32 or float64 function by the argument's type --------


def like(v, c):
    """The constant c in v's compute type, as the C++ templates' C(c) rounds it."""


def exp_nonpositive(x):
    """exp(x) for x <= 0."""


def normal_pdf(v):
    """phi(v), the standard normal density."""


def normal_cdf(v):
    """Phi(v), the standard normal distribution."""


def _by_type(generic, f32, f64):
    """generic(v) calls f32 or f64 by v's type, as the C++ overloads are picked."""

    @overload(generic)
    def _pick(v):
        chosen = f32 if v == types.float32 else f64

        def impl(v):
            return chosen(v)
        return impl


_by_type(exp_nonpositive, exp_nonpositive_f32, exp_nonpositive_f64)
_by_type(normal_pdf, normal_pdf_f32, normal_pdf_f64)
_by_type(normal_cdf, normal_cdf_f32, normal_cdf_f64)


@overload(like)
def _like(v, c):
    if v == types.float32:
        return lambda v, c: np.float32(c)
    return lambda v, c: np.float64(c)


# ---- math/bias_act_dropout.h: the activations, written once for both compute types --------------


@njit(cache=True, inline="always", error_model="numpy")
def gelu_tanh_sigmoid(v):
    """(sigmoid(2u), sigmoid(2u) (1 - sigmoid(2u))) for gelu's tanh form, from e = exp(-2 |u|)."""
    zero, one = like(v, 0.0), like(v, 1.0)
    u = like(v, GELU_TANH_BETA) * (v + like(v, GELU_TANH_KAPPA) * (v * v * v))
    e = exp_nonpositive(like(v, -2.0) * (-u if u < zero else u))
    r = one / (one + e)
    return (e * r if v < zero else r), (e * r) * r


@njit(cache=True, inline="always", error_model="numpy")
def activate(act, v):
    """act(v): relu as np.maximum(v, 0), gelu v Phi(v), or gelu's tanh form."""
    zero = like(v, 0.0)
    if act == RELU:
        return zero if v <= zero else v
    if act == GELU:
        return v * normal_cdf(v)
    return v * gelu_tanh_sigmoid(v)[0]


@njit(cache=True, inline="always", error_model="numpy")
def activate_grad(act, v, g):
    """act'(v) g: relu's is PyTorch's threshold_backward."""
    zero = like(v, 0.0)
    if act == RELU:
        return zero if v <= zero else g
    if act == GELU:
        return g * (normal_cdf(v) + v * normal_pdf(v))
    s, spread = gelu_tanh_sigmoid(v)
    slope = like(v, GELU_TANH_BETA) * (like(v, 1.0) + like(v, 3 * GELU_TANH_KAPPA) * (v * v))
    return g * (s + (v + v) * spread * slope)


# ---- bias_act_dropout_kernel.cpp and bias_act_dropout.cpp ----------------------------------------


def widen(x, kind):
    """A stored value in its compute type (16-bit floats arrive as uint16 bits of format kind)."""


def narrow(value, kind, out):
    """A compute-type value rounded once to out's storage (of format kind for uint16)."""


@overload(widen)
def _widen(x, kind):
    if isinstance(x, types.Integer):
        return lambda x, kind: half_to_float(x) if kind == _FLOAT16 else bfloat16_to_float(x)
    return lambda x, kind: x


@overload(narrow)
def _narrow(value, kind, out):
    if isinstance(out.dtype, types.Integer):
        return lambda value, kind, out: float_to_half_rne(value) if kind == _FLOAT16 else float_to_bfloat16_rne(value)
    return lambda value, kind, out: value


@njit(cache=True, inline="always", error_model="numpy")
def segment(act, kind, dy, x, bias, out, keep, scale):
    """The elements of one row segment of a tile, every array sliced to it (dy empty in the
    forward). Indices from 0 and act a constant: LLVM then vectorises the loops."""
    zero = scale * _F32_ZERO
    if dy.size:
        for j in range(x.size):
            value = activate_grad(act, widen(x[j], kind) + widen(bias[j], kind), widen(dy[j], kind) * scale)
            out[j] = narrow(value if keep[j] != 0 else zero, kind, out)
    else:
        for j in range(x.size):
            value = activate(act, widen(x[j], kind) + widen(bias[j], kind)) * scale
            out[j] = narrow(value if keep[j] != 0 else zero, kind, out)


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def bias_act_dropout_chunks(n, runs, cols, kind, act, dy, x, bias, out, seed, offset, threshold, scale, bits_in,
                            bits_out, no_bytes):
    """The forward (dy empty) or the backward over n elements of (n / cols, cols) data with a bias
    of cols values, element r * run_length + j being unit first + r * run_stride + j (runs =
    (first, run_length, run_stride)), chunks of the runs in parallel: keeps from the stream, or from
    bits_in when it is not empty. The bias column is the local one: a shard holds its own columns.
    no_bytes: an empty bool array (store_masks writes bytes too, so a global constant will not
    type)."""
    chunks, per_run = run_chunk_count(n, runs[1])
    for c in prange(chunks):
        keep = np.empty(SKEWED_TILE, np.uint8)
        start, end, unit, bit = run_chunk(c, per_run, runs)
        for t in range(start, end, TILE):
            m = min(TILE, end - t)
            tile_keeps(seed, offset, threshold, unit + np.uint64(t - start), bit + (t - start), m, bits_in, NO_DIMS,
                       NO_DIMS, keep)
            # Row segments of the tile, so that the bias is read contiguously.
            i = 0
            while i < m:
                col = (t + i) % cols
                seg = min(cols - col, m - i)
                lo, hi = t + i, t + i + seg
                d = dy[lo:hi] if dy.size else dy
                xs, bs, outs, ks = x[lo:hi], bias[col:col + seg], out[lo:hi], keep[i:i + seg]
                if act == RELU:
                    segment(RELU, kind, d, xs, bs, outs, ks, scale)
                elif act == GELU:
                    segment(GELU, kind, d, xs, bs, outs, ks, scale)
                else:
                    segment(GELU_TANH, kind, d, xs, bs, outs, ks, scale)
                i += seg
            store_masks(t, bit + (t - start), m, keep, bits_out, no_bytes)


class _Call(NamedTuple):
    """What forward and backward share: the activation's and storage's codes, the dtypes, the
    element count, and x and the bias as kernel arrays."""

    act: int
    kind: int
    storage: type
    compute: type
    n: int
    x: np.ndarray
    bias: np.ndarray


def _checked_call(activation, dtype, x, bias, cols, p) -> _Call:
    """The _Call of a forward or backward, checked as the native module checks it."""
    act = ACTIVATIONS.get(activation)
    if act is None:
        raise ValueError(f"activation: expected relu, gelu or gelu_tanh, got {activation}")
    if not 0.0 <= p <= 1.0:
        raise ValueError("invalid value: p must be in [0, 1] and counts non-negative")
    _, storage, compute = kind_of(dtype)
    n = np.asarray(x).nbytes // np.dtype(storage).itemsize
    if cols < 0 or (n % cols if cols else n):  # cols = 0 only for an empty x
        raise ValueError("cols: must divide the number of elements of x")
    xs = buffer(x, "x", storage, n, False)
    # No bias adds +0, as the C++ does: zeros of any 16-bit format widen to +0.
    bs = np.zeros(cols, storage) if bias is None else buffer(bias, "bias", storage, cols, False)
    return _Call(act, _STORAGE_KINDS[dtype], storage, compute, n, xs, bs)


def _run_chunks(call: _Call, cols, dy, out, p, seed, offset, bits_in, bits_out, runs=None):
    """Over the units of runs (None: unsharded, element i is unit i), as bias_act_dropout.cpp's run_over."""
    call_runs = single_run(call.n) if runs is None else unit_runs(runs, call.n)
    params = make_dropout_params(p, seed, offset)
    run_kernel(bias_act_dropout_chunks, call.n, call.n, call_runs, cols, call.kind, call.act, dy, call.x, call.bias,
               out, *params[:3], scale_of(params, call.compute), bits_in, bits_out, np.zeros(0, np.bool_))


def bias_act_dropout_forward(activation, dtype, x, bias, y, cols, p, seed, offset, mask_bits=None):
    """The native module's bias_act_dropout_forward: y = dropout(act(x + bias)) over (n / cols, cols)
    data, bias (cols values) optional, keep bits optional."""
    call = _checked_call(activation, dtype, x, bias, cols, p)
    ys = buffer(y, "out", call.storage, call.n, True)
    bits = NO_BITS if mask_bits is None else buffer(mask_bits, "mask_bits", np.uint8, (call.n + 7) // 8, True)
    _run_chunks(call, cols, np.zeros(0, call.storage), ys, p, seed, offset, NO_BITS, bits)


def bias_act_dropout_backward(activation, dtype, dy, x, bias, dx, cols, p, seed=0, offset=0, mask_bits=None):
    """The native module's bias_act_dropout_backward: dx = keep ? act'(x + bias) dy / (1 - p) : 0,
    keep read from mask_bits when given, else regenerated from (seed, offset)."""
    call = _checked_call(activation, dtype, x, bias, cols, p)
    gs = buffer(dy, "grad", call.storage, call.n, False)
    dxs = buffer(dx, "out", call.storage, call.n, True)
    bits = NO_BITS if mask_bits is None else buffer(mask_bits, "mask_bits", np.uint8, (call.n + 7) // 8, False)
    _run_chunks(call, cols, gs, dxs, p, seed, offset, bits, NO_BITS)


def bias_act_dropout_forward_runs(activation, dtype, x, bias, y, cols, p, seed, offset, runs):
    """bias_act_dropout_forward (no mask) for a shard whose element r * run_length + j is unit
    first + r * run_stride + j, runs being (first, run_length, run_stride); bias holds the shard's
    own cols values."""
    call = _checked_call(activation, dtype, x, bias, cols, p)
    ys = buffer(y, "out", call.storage, call.n, True)
    _run_chunks(call, cols, np.zeros(0, call.storage), ys, p, seed, offset, NO_BITS, NO_BITS, runs)


def bias_act_dropout_backward_runs(activation, dtype, dy, x, bias, dx, cols, p, seed, offset, runs):
    """Its backward, the mask regenerated from (seed, offset) over the runs."""
    call = _checked_call(activation, dtype, x, bias, cols, p)
    gs = buffer(dy, "grad", call.storage, call.n, False)
    dxs = buffer(dx, "out", call.storage, call.n, True)
    _run_chunks(call, cols, gs, dxs, p, seed, offset, NO_BITS, NO_BITS, runs)
