"""Gaussian dropout's rules, shared by the NumPy and torch front-ends: its rate and its shards."""

from __future__ import annotations

import numbers

from .._common.shard import runs_of


def check_gaussian_p(p) -> float:
    """Gaussian dropout's rate: a real number in [0, 1), as Keras requires (p = 1 would need an
    infinite variance)."""
    # As _checks.check_p: torch.compile may pass a SymFloat, and cannot trace math.isnan (NaN
    # fails the comparisons instead).
    symbolic = type(p).__name__ == "SymFloat"
    if not symbolic and (isinstance(p, bool) or not isinstance(p, numbers.Real)):
        raise TypeError(f"p: expected a real number in [0, 1), got {type(p).__name__}")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p: Gaussian dropout rate has to be in [0, 1), but got {p}")
    return p if symbolic else float(p)


def gaussian_runs(shard, shape):
    """The kernels' runs for a shard (None: unsharded), which must hold whole Box–Muller pairs."""
    runs = runs_of(shard, shape)
    if runs is not None and any(v % 2 for v in runs):
        raise ValueError("shard: Gaussian dropout draws its noise for pairs of elements; the slice must start "
                         "at an even element and hold an even number of them per run (split a dimension at "
                         "even starts and sizes, or keep an even trailing size)")
    return runs
