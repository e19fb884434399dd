"""Shards: the local array is a slice of a larger logical tensor, split along one dimension across
processes (sequence parallelism splits the first, tensor parallelism the last). The units of its
elements are those of their place in the logical tensor (docs/design.md, Randomness), so the shards
that different processes compute are exactly the slices of the whole tensor's result.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np


class Shard(NamedTuple):
    """The input is the slice [start, start + input.shape[dim]) along ``dim`` of a logical tensor
    of ``global_shape``; every other dimension is whole."""

    global_shape: tuple
    dim: int
    start: int


def _int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"shard: {name} must be an int, got {type(value).__name__}")
    return int(value)


def check_shard(shard, shape: Sequence[int]) -> Shard:
    """shard with dim made non-negative, checked against the local shape."""
    if not isinstance(shard, Shard):
        raise TypeError(f"shard: expected a fastdrop.Shard, got {type(shard).__name__}")
    try:
        global_shape = tuple(_int(s, "global_shape") for s in shard.global_shape)
    except TypeError as err:
        if "global_shape" in str(err):
            raise
        raise TypeError("shard: global_shape must be a sequence of ints") from None
    shape = tuple(int(s) for s in shape)
    dim, start = _int(shard.dim, "dim"), _int(shard.start, "start")
    if len(global_shape) != len(shape):
        raise ValueError(f"shard: global_shape {global_shape} has {len(global_shape)} dimensions, the input "
                         f"{len(shape)} (shape {shape})")
    if not -len(shape) <= dim < len(shape):
        raise ValueError(f"shard: dim {dim} out of range for {len(shape)} dimensions")
    dim %= len(shape)
    for d, (local, whole) in enumerate(zip(shape, global_shape)):
        if d != dim and local != whole:
            raise ValueError(f"shard: the input's dimension {d} is {local}, global_shape's {whole}: only "
                             f"dimension {dim} may be split")
    if start < 0 or start + shape[dim] > global_shape[dim]:
        raise ValueError(f"shard: the slice [{start}, {start + shape[dim]}) of dimension {dim} is outside "
                         f"global_shape's {global_shape[dim]}")
    return Shard(global_shape, dim, start)


def element_runs(shard: Shard, local_len: int) -> tuple[int, int, int]:
    """The kernels' runs (first, run_length, run_stride) when the units are the logical tensor's
    elements: each index of the dimensions before dim starts a run of the local slice."""
    inner = math.prod(shard.global_shape[shard.dim + 1:])
    return shard.start * inner, local_len * inner, shard.global_shape[shard.dim] * inner


class UnitLayout(NamedTuple):
    """Where the keep bits of a call's units lie: unit (i_0, ..., i_k) of the local noise shape
    has bit sum_d i_d * strides[d]; bits come from mask_bits over all units (runs None) or from
    mask_bits_runs, whose runs each start at a whole byte."""

    noise: tuple          # the units this process needs, as a noise shape
    strides: tuple        # bit index step along each dimension of noise
    runs: tuple | None    # (first, run_length, run_stride) for mask_bits_runs, or None
    bits_size: int        # bytes of keep bits


def _row_major(shape: Sequence[int]) -> tuple:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def unit_layout(noise: Sequence[int], shard: Shard | None = None, local_len: int | None = None) -> UnitLayout:
    """The layout of the units of a call with noise shape `noise` (of the logical tensor when
    sharded; local_len is then the input's size along shard.dim)."""
    noise = tuple(noise)
    units = math.prod(noise)
    split = shard is not None and noise[shard.dim] == shard.global_shape[shard.dim] and noise[shard.dim] != 1
    if not split:
        return UnitLayout(noise, _row_major(noise), None, (units + 7) // 8)
    dim = shard.dim
    local = noise[:dim] + (local_len,) + noise[dim + 1:]
    inner = math.prod(noise[dim + 1:])
    run_length = local_len * inner
    run_bytes = (run_length + 7) // 8
    within = _row_major(local[dim:])
    # Each run (one index of the dimensions before dim) starts a fresh byte.
    outer = tuple(8 * run_bytes * s for s in _row_major(local[:dim]))
    runs = (shard.start * inner, run_length, noise[dim] * inner)
    return UnitLayout(local, outer + within, runs, math.prod(local[:dim]) * run_bytes)


def draw_unit_bits(kernels, layout: UnitLayout, p: float, seed: int, offset: int, bits) -> None:
    """The keep bits of the layout's units of call (seed, offset) into bits (layout.bits_size bytes)."""
    if layout.runs is None:
        kernels.mask_bits(math.prod(layout.noise), p, seed, offset, bits)
    else:
        kernels.mask_bits_runs(math.prod(layout.noise), p, seed, offset, layout.runs, bits)


def unit_keep(bits: np.ndarray, layout: UnitLayout) -> np.ndarray:
    """The keep decisions of the layout's units as a bool array of its noise shape."""
    if layout.runs is None:
        count = math.prod(layout.noise)
        return np.unpackbits(bits, count=count, bitorder="little").astype(np.bool_).reshape(layout.noise)
    run_length = layout.runs[1]
    rows = bits.reshape(-1, (run_length + 7) // 8) if bits.size else bits.reshape(0, 0)
    keep = np.unpackbits(rows, axis=1, count=run_length, bitorder="little") if rows.size else rows
    return keep.astype(np.bool_).reshape(layout.noise)


def layout_bits(keep: np.ndarray, layout: UnitLayout) -> np.ndarray:
    """Keep bits in the layout's order from a bool array of its noise shape (unit_keep's inverse)."""
    if layout.runs is None:
        return np.packbits(keep.reshape(-1), bitorder="little")
    rows = keep.reshape(-1, layout.runs[1])
    return np.packbits(rows, axis=1, bitorder="little").reshape(-1)


def runs_of(shard, shape, return_mask=False):
    """The kernels' runs for a shard whose units are its logical tensor's elements (None: unsharded).
    return_mask: whether the caller asked for a mask, which the fused ops' sharded calls do not keep."""
    if shard is None:
        return None
    if return_mask:
        raise ValueError("return_mask: sharded calls keep no mask; pass seed= and shard= to the backward")
    shard = check_shard(shard, shape)
    return element_runs(shard, shape[shard.dim])
