"""Numba mirror of alpha dropout, bit-identical to the C++ core.

Its C++ twins, whose names it keeps:
- csrc/include/fastdrop/math/alpha_dropout.h: make_alpha_constants, make_alpha_params (its
  alpha_dropout_element is element_ops.py's, which the shared kernels switch to by op code);
- csrc/cpu/alpha_dropout.cpp: the entry points fastdrop_alpha_dropout_forward, _backward and
  their _runs forms (alpha_forward_over and alpha_backward_over there, run_dropout here); their
  tile loop is dropout_kernel.py's (csrc/cpu/alpha_dropout_kernel.cpp). The backward is
  dropout's with the scale a.

The interface is fastdrop._native's (alpha_forward, alpha_backward, alpha_forward_runs,
alpha_backward_runs).
"""

from __future__ import annotations

import math

import numpy as np

from .api_common import buffer, single_run, unit_runs
from .dropout_kernel import NO_BITS, elementwise_arrays, run_dropout
from .element_ops import alpha_op, dropout_op
from .philox_stream import make_dropout_params

# The entry points under the compiled module's names (collected by _numba/__init__.py).
__all__ = ["alpha_forward", "alpha_forward_runs", "alpha_backward", "alpha_backward_runs"]

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


def alpha_of(alpha, compute):
    """The constants of make_alpha_params' result in a compute type."""
    return alpha[1] if compute is np.float64 else alpha[0]


def alpha_forward(dtype, x, y, p, seed, offset, mask_bits=None):
    """y = alpha dropout of x for units 0 .. n - 1 of call (seed, offset); optionally the keep bits."""
    kernel, compute, n, xs, ys = elementwise_arrays(dtype, "x", x, y)
    bits = NO_BITS if mask_bits is None else buffer(mask_bits, "mask_bits", np.uint8, (n + 7) // 8, True)
    params = make_dropout_params(p, seed, offset)
    run_dropout(kernel, n, single_run(n), xs, ys, params, alpha_op(alpha_of(make_alpha_params(p), compute)),
                mask_bits=bits)


def alpha_forward_runs(dtype, x, y, p, seed, offset, runs):
    """y = alpha dropout of x for the units of runs (as forward_runs') of call (seed, offset)."""
    kernel, compute, n, xs, ys = elementwise_arrays(dtype, "x", x, y)
    params = make_dropout_params(p, seed, offset)
    run_dropout(kernel, n, unit_runs(runs, n), xs, ys, params, alpha_op(alpha_of(make_alpha_params(p), compute)))


def alpha_backward(dtype, dy, dx, p, seed, offset):
    """dx = keep ? dy * a : 0, the mask regenerated from (seed, offset): dropout's backward with
    the scale a in place of 1 / (1 - p)."""
    kernel, compute, n, gs, dxs = elementwise_arrays(dtype, "grad", dy, dx)
    params = make_dropout_params(p, seed, offset)
    run_dropout(kernel, n, single_run(n), gs, dxs, params, dropout_op(alpha_of(make_alpha_params(p), compute)[0]))


def alpha_backward_runs(dtype, dy, dx, p, seed, offset, runs):
    """alpha_backward for the units of runs (as forward_runs')."""
    kernel, compute, n, gs, dxs = elementwise_arrays(dtype, "grad", dy, dx)
    params = make_dropout_params(p, seed, offset)
    run_dropout(kernel, n, unit_runs(runs, n), gs, dxs, params,
                dropout_op(alpha_of(make_alpha_params(p), compute)[0]))
