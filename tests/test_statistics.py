"""Statistics of the masks, with bounds of 6 standard deviations for the sizes used."""

import functools
import math

import numpy as np
import pytest

import fastdrop
import reference

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


# ---- the resolution of p (contract v2: a unit is dropped iff its 16-bit lane < floor(p * 2^16)) ----


RESOLUTION_UNITS = 3 * (1 << 16) + 13


@functools.lru_cache(maxsize=None)
def reference_lanes(seed, n):
    return reference.stream_lanes(seed, 0, n).astype(np.int64)


def dropped(kernels, n, p, seed, offset=0):
    """Which of units 0 .. n - 1 a backend's mask_bits drops."""
    bits = np.empty((n + 7) // 8, np.uint8)
    kernels.mask_bits(n, p, seed, offset, bits)
    return ~np.unpackbits(bits, count=n, bitorder="little").astype(np.bool_)


@pytest.mark.parametrize("p", [0.1, 1 / 3, 0.123456789, 0.7])
def test_p_acts_at_a_resolution_of_2_to_the_minus_16(kernels, p):
    """p drops exactly the units that its effective rate t / 2^16, t = floor(p * 2^16), drops: the
    reference's lanes below t, on a modest size; and one step of 2^-16 more drops the units whose
    lane is t too."""
    n, seed = RESOLUTION_UNITS, 17
    t = reference.threshold(p)
    assert t != p * 2**16, "p must not be a multiple of 2^-16"
    lanes = reference_lanes(seed, n)
    drops = dropped(kernels, n, p, seed)
    np.testing.assert_array_equal(drops, lanes < t)
    np.testing.assert_array_equal(dropped(kernels, n, t / 2**16, seed), drops)
    more = dropped(kernels, n, (t + 1) / 2**16, seed)
    np.testing.assert_array_equal(more, lanes <= t)
    assert (lanes == t).any(), "no lane of t: the step would not show"


@pytest.mark.parametrize("p", [5e-324, 1e-9, 1e-5, 2**-17, 2**-16 - 2**-40])
def test_p_below_2_to_the_minus_16_drops_nothing(kernels, p):
    # Contract v1 (32-bit words) dropped about N p units here: 42 of N = 2^22 at p = 1e-5.
    assert not dropped(kernels, N, p, seed=3).any()


def test_p_of_2_to_the_minus_16_drops_the_units_whose_lane_is_0(kernels):
    np.testing.assert_array_equal(dropped(kernels, RESOLUTION_UNITS, 2**-16, 17),
                                  reference_lanes(17, RESOLUTION_UNITS) == 0)
    count = int(dropped(kernels, N, 2**-16, seed=3).sum())
    mean = N / 2**16
    assert abs(count - mean) <= 6 * math.sqrt(mean) and count > 0


@pytest.mark.parametrize("p", [0.99999, 1 - 2**-16, 1 - 2**-40])
def test_p_just_below_1_keeps_the_units_whose_lane_is_65535(kernels, p):
    np.testing.assert_array_equal(~dropped(kernels, RESOLUTION_UNITS, p, 17),
                                  reference_lanes(17, RESOLUTION_UNITS) == 0xFFFF)
    kept = N - int(dropped(kernels, N, p, seed=4).sum())
    mean = N / 2**16
    assert abs(kept - mean) <= 6 * math.sqrt(mean) and kept > 0
    assert dropped(kernels, N, 1.0, seed=4).all()
