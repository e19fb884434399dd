"""Statistics of the masks, with bounds of 6 standard deviations for the sizes used."""

import math

import numpy as np
import pytest

import fastdrop

N = 1 << 22


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_drop_fraction(p):
    _, keep = fastdrop.dropout(np.ones(N, np.float32), p, seed=123, return_mask=True)
    dropped = N - int(keep.sum())
    assert abs(dropped - N * p) <= 6 * math.sqrt(N * p * (1 - p))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_mean_is_preserved(p):
    y = fastdrop.dropout(np.ones(N, np.float64), p, seed=7)
    # y is 0 or 1/(1-p): mean 1, variance p/(1-p).
    assert abs(y.mean() - 1.0) <= 6 * math.sqrt(p / (1 - p) / N)


def agreement_bound(p):
    """Two independent masks agree on a unit with probability q = p^2 + (1-p)^2."""
    q = p * p + (1 - p) * (1 - p)
    return q, 6 * math.sqrt(N * q * (1 - q))


@pytest.mark.parametrize("other", [dict(seed=1, offset=1), dict(seed=2, offset=0), dict(seed=1 << 32, offset=0)])
def test_different_offsets_and_seeds_are_independent(other):
    p = 0.5
    x = np.ones(N, np.float32)
    _, a = fastdrop.dropout(x, p, seed=1, offset=0, return_mask=True)
    _, b = fastdrop.dropout(x, p, return_mask=True, **other)
    q, bound = agreement_bound(p)
    assert abs(int((a == b).sum()) - N * q) <= bound


def test_neighbouring_units_are_independent():
    _, keep = fastdrop.dropout(np.ones(N + 1, np.float32), 0.5, seed=9, return_mask=True)
    q, bound = agreement_bound(0.5)
    assert abs(int((keep[1:] == keep[:-1]).sum()) - N * q) <= bound


def test_generator_calls_draw_fresh_masks():
    gen = fastdrop.Generator(5)
    x = np.ones(N, np.float32)
    _, a = fastdrop.dropout(x, 0.5, generator=gen, return_mask=True)
    _, b = fastdrop.dropout(x, 0.5, generator=gen, return_mask=True)
    q, bound = agreement_bound(0.5)
    assert abs(int((a == b).sum()) - N * q) <= bound
