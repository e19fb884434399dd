"""Calls to fastdrop's kernels (native core or Numba mirror) for the benchmark cases.

The kernel modules are called directly, with what the NumPy front-end passes them after its
argument checks: the front-end binds one backend per process, and both are timed in one run.
"""

from __future__ import annotations

import numpy as np

from .inputs import kernel_view, numpy_input, optional_import

KERNEL_MODULES = {"native": "fastdrop._native", "numba": "fastdrop._numba"}
SEED = 0x5EED
OFFSET = 0


def unavailable(case) -> str | None:
    """Why this case cannot run here, or None."""
    _, reason = optional_import(KERNEL_MODULES[case.backend])
    if reason is None and case.dtype == "bfloat16":
        _, reason = optional_import("ml_dtypes")
    return reason


def kernels(backend: str):
    module, reason = optional_import(KERNEL_MODULES[backend])
    if module is None:
        raise RuntimeError(reason)
    return module


def _bits_for(size: int) -> np.ndarray:
    return np.empty((size + 7) // 8, np.uint8)


def dropout_forward(case, p: float):
    """y = dropout(x); with mask 'bits' the packed mask is written too (for backward from bits)."""
    module = kernels(case.backend)
    x = kernel_view(numpy_input(case.dtype, case.size))
    with_bits = case.mask == "bits"
    if case.mode == "out":
        y = np.empty_like(x)
        bits = _bits_for(case.size) if with_bits else None
        return lambda: module.forward(case.dtype, x, y, p, SEED, OFFSET, bits)

    def forward_allocating():
        y = np.empty_like(x)
        bits = _bits_for(case.size) if with_bits else None
        module.forward(case.dtype, x, y, p, SEED, OFFSET, bits)
        return y, bits

    return forward_allocating


def dropout_backward(case, p: float):
    """dx = dropout_backward(grad): from packed bits (mask 'bits') or regenerated from
    (seed, offset) (mask 'recompute', the forward map applied to the gradient)."""
    module = kernels(case.backend)
    grad = kernel_view(numpy_input(case.dtype, case.size, seed=1))
    if case.mask == "bits":
        bits = _bits_for(case.size)
        module.forward(case.dtype, grad, np.empty_like(grad), p, SEED, OFFSET, bits)

        def backward_into(dx):
            module.backward_bits(case.dtype, grad, dx, p, bits)
    else:
        def backward_into(dx):
            module.forward(case.dtype, grad, dx, p, SEED, OFFSET)

    if case.mode == "out":
        dx = np.empty_like(grad)
        return lambda: backward_into(dx)

    def backward_allocating():
        dx = np.empty_like(grad)
        backward_into(dx)
        return dx

    return backward_allocating


def mask_bits(case, p: float):
    """The keep bits of every unit, with no data read or written."""
    module = kernels(case.backend)
    bits = _bits_for(case.size)
    return lambda: module.mask_bits(case.size, p, SEED, OFFSET, bits)
