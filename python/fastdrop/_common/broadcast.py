"""Broadcast dropout: which unit each element belongs to, as the kernels take it.

A noise shape (Keras's noise_shape; Flax's broadcast_dims) has the input's number of dimensions,
each either the input's size (one unit per index) or 1 (one unit shared along that dimension).
Units are numbered row-major in the noise shape (docs/design.md, Randomness). The plan walks the
array in memory order, so dense arrays of any layout (channels-last included) are processed where
they lie, and merges neighbouring dimensions the kernels can treat as one.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence


class BroadcastPlan(NamedTuple):
    order: tuple[int, ...]          # logical dimensions in memory order (outermost first)
    shape: tuple[int, ...]          # merged dimensions, in memory order
    unit_strides: tuple[int, ...]   # unit-index step along each merged dimension (0: broadcast)
    units: int                      # number of units: the product of the noise shape


def check_noise_shape(noise_shape, shape: Sequence[int]) -> tuple[int, ...]:
    """The noise shape with None entries filled in from shape; each entry must be 1 or the size."""
    try:
        noise = tuple(noise_shape)
    except TypeError:
        raise TypeError(f"noise_shape: expected a sequence of ints, got {type(noise_shape).__name__}") from None
    if len(noise) != len(shape):
        raise ValueError(f"noise_shape: expected {len(shape)} dimensions for input of shape {tuple(shape)}, "
                         f"got {noise}")
    filled = []
    for d, (n, size) in enumerate(zip(noise, shape)):
        n = size if n is None else n
        if isinstance(n, bool) or not isinstance(n, int) or n not in (1, size):
            raise ValueError(f"noise_shape: dimension {d} must be 1 or {size} (the input's size), got {n!r}")
        filled.append(n)
    return tuple(filled)


def memory_order(shape: Sequence[int], strides: Sequence[int]) -> tuple[int, ...] | None:
    """The permutation that makes a dense, non-overlapping array C-contiguous, or None."""
    dims = sorted(range(len(shape)), key=lambda d: -strides[d])
    expected = 1
    for d in reversed(dims):
        if shape[d] != 1 and strides[d] != expected:
            return None
        expected *= shape[d]
    return tuple(dims)


def plan(shape: Sequence[int], noise: Sequence[int], order: Sequence[int],
         noise_strides: Sequence[int] | None = None) -> BroadcastPlan:
    """The kernel's view of an array of `shape` laid out in `order` with noise shape `noise`,
    whose units' bits are numbered row-major or, when given, by noise_strides (a shard's layout)."""
    if noise_strides is None:
        noise_strides, step = [], 1
        for size in reversed(noise):
            noise_strides.append(step)
            step *= size
        noise_strides.reverse()
    logical_strides = [noise_strides[d] if noise[d] == shape[d] and shape[d] != 1 else 0 for d in range(len(shape))]
    merged_shape: list[int] = []
    merged_strides: list[int] = []
    for d in order:
        size, stride = shape[d], logical_strides[d]
        if size == 1:
            continue
        if merged_shape and merged_strides[-1] == stride * size:
            merged_shape[-1] *= size
            merged_strides[-1] = stride
        else:
            merged_shape.append(size)
            merged_strides.append(stride)
    if not merged_shape:
        merged_shape, merged_strides = [1], [0]
    return BroadcastPlan(tuple(order), tuple(merged_shape), tuple(merged_strides), math.prod(noise))
