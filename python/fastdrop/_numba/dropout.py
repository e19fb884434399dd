"""Numba mirror of dropout, bit-identical to the C++ core (docs/design.md, Randomness).

Its C++ twin is csrc/cpu/dropout.cpp, the entry points fastdrop_dropout_forward, _backward_bits,
_mask_bits and their _runs forms (forward_over there, run_dropout here, with the single run or
the caller's); their tile loop is dropout_kernel.py's (csrc/cpu/dropout_kernel.cpp). The
interface is that of the compiled module fastdrop._native (forward, forward_runs, backward_bits,
mask_bits, mask_bits_runs), so the front-end can call either.
"""

from __future__ import annotations

import numpy as np

from .api_common import buffer, single_run, unit_runs
from .dropout_kernel import NO_BITS, NO_BYTES, NO_DATA, dropout_float, elementwise_arrays, run_dropout
from .element_ops import dropout_op
from .philox_stream import make_dropout_params, scale_of

# The entry points under the compiled module's names (collected by _numba/__init__.py).
__all__ = ["forward", "forward_runs", "backward_bits", "mask_bits", "mask_bits_runs"]


def forward(dtype, x, y, p, seed, offset, mask_bits=None, mask_bytes=None):
    """y = dropout(x) for units 0 .. n - 1 of call (seed, offset); optionally the keep masks."""
    kernel, compute, n, xs, ys = elementwise_arrays(dtype, "x", x, y)
    bits = NO_BITS if mask_bits is None else buffer(mask_bits, "mask_bits", np.uint8, (n + 7) // 8, True)
    keep = NO_BYTES if mask_bytes is None else buffer(mask_bytes, "mask_bytes", np.bool_, n, True)
    params = make_dropout_params(p, seed, offset)
    run_dropout(kernel, n, single_run(n), xs, ys, params, dropout_op(scale_of(params, compute)), mask_bits=bits,
                mask_bytes=keep)


def forward_runs(dtype, x, y, p, seed, offset, runs):
    """y = dropout(x) for a shard of a logical tensor whose element r * run_length + j is unit
    first + r * run_stride + j of call (seed, offset), runs being (first, run_length, run_stride);
    also its backward, the mask regenerated."""
    kernel, compute, n, xs, ys = elementwise_arrays(dtype, "x", x, y)
    params = make_dropout_params(p, seed, offset)
    run_dropout(kernel, n, unit_runs(runs, n), xs, ys, params, dropout_op(scale_of(params, compute)))


def backward_bits(dtype, dy, dx, p, mask_bits):
    """dx = keep ? dy * scale : 0 with keep from bit (i & 7) of mask_bits[i >> 3]."""
    kernel, compute, n, gs, dxs = elementwise_arrays(dtype, "grad", dy, dx)
    bits = buffer(mask_bits, "mask_bits", np.uint8, (n + 7) // 8, False)
    params = make_dropout_params(p, 0, 0)
    run_dropout(kernel, n, single_run(n), gs, dxs, params, dropout_op(scale_of(params, compute)), bits_in=bits)


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
    call_runs = unit_runs(runs, n)
    run_length = int(call_runs[1])
    out = buffer(bits, "mask_bits", np.uint8, n // run_length * ((run_length + 7) // 8) if n else 0, True)
    params = make_dropout_params(p, seed, offset)
    run_dropout(dropout_float, n, call_runs, NO_DATA, NO_DATA, params,
                dropout_op(scale_of(params, np.float32)), mask_bits=out)
