"""What a kernel does with one element once its keep is known, as csrc/cpu/element_ops.h (DropoutOp,
AlphaOp): here an op code (element_op) that the one kernel of each storage kind (dropout_kernel.py)
switches on, with the element maps it picks from, the twins of dropout_element
(csrc/include/fastdrop/math/dropout.h) and alpha_dropout_element (math/alpha_dropout.h).

The op is a code, not a function argument: each function object would compile the kernels again
(and miss the disk cache). The alpha dropout backward is OP_DROPOUT with the scale a, as in the C++.
"""

from __future__ import annotations

import numpy as np
from numba import njit

OP_DROPOUT = 0  # DropoutOp: keep ? x * scale : 0
OP_ALPHA = 1  # AlphaOp: keep ? x * scale + keep_add : drop_value, scale being a


@njit(cache=True, inline="always")
def dropout_element(x, keep, scale):
    """keep ? x * scale : 0 in the compute type of x and scale (float32 or float64).

    The C++ twin also widens and rounds 16-bit storage; here the caller does, since Numba sees
    both 16-bit formats as uint16. The float32 zero widens exactly in float64 code.
    """
    return x * scale if keep else np.float32(0.0)


@njit(cache=True, inline="always")
def alpha_dropout_element(x, keep, a, keep_add, drop_value):
    """keep ? x * a + keep_add : drop_value in the compute type (16-bit storage as dropout_element)."""
    return x * a + keep_add if keep else drop_value


@njit(cache=True, inline="always")
def element_op(op, x, keep, scale, keep_add, drop_value):
    if op == OP_ALPHA:
        return alpha_dropout_element(x, keep, scale, keep_add, drop_value)
    return dropout_element(x, keep, scale)


def dropout_op(scale):
    """The op (code, scale, keep_add, drop_value) of keep ? x * scale : 0."""
    # The unused constants have the scale's type: every op then shares one specialisation.
    zero = type(scale)(0.0)
    return OP_DROPOUT, scale, zero, zero


def alpha_op(constants):
    """The op of alpha dropout's forward, constants being (a, keep_add, drop_value)."""
    return (OP_ALPHA, *constants)
