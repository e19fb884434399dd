"""The Numba mirror (fastdrop._numba) alone, against a slow, obviously-correct reference
written here: Python integers for Philox, NumPy for the float rounding. No native module needed,
except by the last section, which checks bit identity with it where it imports."""

from __future__ import annotations

import functools
import importlib
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba", reason="numba is not installed: the Numba backend is optional")

import fastdrop._numba as nk  # noqa: E402
from fastdrop._numba.alpha_dropout import make_alpha_params  # noqa: E402
from fastdrop._numba.api_common import CHUNK, PARALLEL_MIN  # noqa: E402
from fastdrop._numba.philox_stream import (  # noqa: E402
    TILE,
    keeps,
    make_dropout_params,
    philox4x32_10,
    scale_of,
    stream_lane,
    stream_word,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"known-answer data not found at {SHARED_DATA} (shared/data)"
)

DTYPES = ("float16", "bfloat16", "float32", "float64")
# np.uint16 holds bfloat16 as raw bits, as the module's interface expects.
STORAGE = {"float16": np.float16, "bfloat16": np.uint16, "float32": np.float32, "float64": np.float64}
BITS = {"float16": np.uint16, "bfloat16": np.uint16, "float32": np.uint32, "float64": np.uint64}
SIZES = (0, 1, 3, 7, 8, 9, 1000, 33000)
# 1e-5 is below 2^-16 (drops nothing, yet scales), 0.99999 the last threshold below 2^16 (keeps lane 65535).
PS = (0.0, 1e-5, 0.1, 0.5, 0.9, 0.99999, 1.0)
# The variants' constants depend on p alone; these cover keep-all, a generic p and drop-all.
VARIANT_PS = (0.0, 0.3, 1.0)
SEED, OFFSET = 0x0123456789ABCDEF, 2**63 + 5
MASK32 = 0xFFFFFFFF


# ---- reference ------------------------------------------------------------------------------


def ref_philox(ctr, key):
    """Philox4x32-10 as Random123 defines it, in Python integers."""
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & MASK32, (p0 >> 32) ^ c3 ^ k1, p0 & MASK32
        k0, k1 = (k0 + 0x9E3779B9) & MASK32, (k1 + 0xBB67AE85) & MASK32
    return c0, c1, c2, c3


@functools.lru_cache(maxsize=None)
def ref_words(seed, offset, first, n):
    """Word of continuous draw u = first .. first + n - 1: word u % 4 of block u // 4."""
    out = np.empty(n, np.uint32)
    for i in range(n):
        u = first + i
        if i == 0 or u % 4 == 0:
            b = u // 4
            block = ref_philox((b & MASK32, b >> 32, offset & MASK32, offset >> 32), (seed & MASK32, seed >> 32))
        out[i] = block[u % 4]
    return out


@functools.lru_cache(maxsize=None)
def ref_lanes(seed, offset, first, n):
    """16-bit lane of Bernoulli unit u = first .. first + n - 1 (contract v2): lane u % 8 of block
    u // 8, the low half of word (u % 8) // 2 for an even u, its high half for an odd u."""
    out = np.empty(n, np.uint16)
    for i in range(n):
        u = first + i
        if i == 0 or u % 8 == 0:
            b = u // 8
            block = ref_philox((b & MASK32, b >> 32, offset & MASK32, offset >> 32), (seed & MASK32, seed >> 32))
        out[i] = (block[u % 8 // 2] >> (16 * (u % 2))) & 0xFFFF
    return out


def ref_keep(n, p, seed, offset, first=0):
    """Kept iff lane >= floor(p * 2^16); p = 1 drops every lane (threshold 2^16)."""
    threshold = 2**16 if p == 1.0 else math.floor(p * 2**16)
    return ref_lanes(seed, offset, first, n).astype(np.int64) >= threshold


def f32_to_bf16_bits(y32):
    """Round to nearest even by its definition, on the integer bits; NaN -> quiet NaN, same sign."""
    u = y32.view(np.uint32).astype(np.uint64)
    high, low = u >> 16, u & 0xFFFF
    up = (low > 0x8000) | ((low == 0x8000) & (high & 1 == 1))
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    return np.where(nan, high | 0x40, high + up).astype(np.uint16)


def compute_type(dtype):
    return np.float64 if dtype == "float64" else np.float32


def widen(dtype, x):
    """Stored values (16-bit floats as their bits) in their compute type, exactly."""
    if dtype == "bfloat16":
        return (x.astype(np.uint32) << 16).view(np.float32)
    return x.astype(compute_type(dtype))


def rounded_bits(dtype, y):
    """Values of the compute type rounded once to the storage type, as its bits."""
    if dtype == "float64":
        return y.view(np.uint64)
    if dtype == "float32":
        return y.view(np.uint32)
    if dtype == "bfloat16":
        return f32_to_bf16_bits(y)
    # NumPy rounds to nearest even; a NaN comes out quiet with the sign and the top of its payload
    # kept, as F16C's vcvtps2ph makes it.
    u = y.view(np.uint32)
    nan = (np.uint32(0x7E00) | ((u >> 13) & 0x3FF) | ((u >> 16) & 0x8000)).astype(np.uint16)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(np.isnan(y), nan, y.astype(np.float16).view(np.uint16))


@np.errstate(over="ignore", invalid="ignore")
def ref_apply(dtype, x, keep, p, scale=None):
    """keep ? x * s : 0 in the compute type, rounded once to the storage type (its bits); s is
    1 / (1 - p) unless a scale (of the compute type) is given."""
    c = compute_type(dtype)
    s = c(0.0 if p == 1.0 else 1.0 / (1.0 - p)) if scale is None else scale
    return rounded_bits(dtype, np.where(keep, widen(dtype, x) * s, c(0)))


def ref_alpha_constants(p, c):
    """PyTorch's alpha dropout constants (a, a alpha p, a alpha (p - 1)) in compute type c: each
    rounded to c from double, the dropped value subtracted in c."""
    if p == 1.0:
        return c(0), c(0), c(0)
    alpha = 1.7580993408473766
    a = 1.0 / math.sqrt((alpha * alpha * p + 1.0) * (1.0 - p))
    keep_add = c(alpha * a * p)
    return c(a), keep_add, keep_add - c(alpha * a)


@np.errstate(over="ignore", invalid="ignore")
def ref_alpha(dtype, x, keep, p):
    """keep ? x * a + a alpha p : a alpha (p - 1) in the compute type, rounded once (its bits)."""
    a, keep_add, drop_value = ref_alpha_constants(p, compute_type(dtype))
    return rounded_bits(dtype, np.where(keep, widen(dtype, x) * a + keep_add, drop_value))


def ref_alpha_grad(dtype, dy, keep, p):
    """keep ? dy * a : 0, a in the compute type."""
    return ref_apply(dtype, dy, keep, p, scale=ref_alpha_constants(p, compute_type(dtype))[0])


def ref_units(shape, unit_strides):
    """The unit of each element of a C-order array of shape: sum_d i_d * unit_strides[d]."""
    index = np.indices(shape).reshape(len(shape), -1)
    return (index * np.array(unit_strides, np.int64)[:, None]).sum(axis=0, dtype=np.int64)


def unit_count(shape, unit_strides):
    return 1 + sum((d - 1) * u for d, u in zip(shape, unit_strides)) if math.prod(shape) else 0


def random_values(dtype, n, seed=1):
    """Uniformly random bit patterns: every class of value, NaN, inf and subnormals included."""
    bits = np.random.default_rng(seed).integers(0, 2**64, n, dtype=np.uint64, endpoint=False)
    return bits.astype(BITS[dtype]).view(STORAGE[dtype])


def bits_of(a):
    return a.view(np.dtype(f"u{a.dtype.itemsize}"))


@pytest.fixture
def threads_restored():
    yield
    nk.set_num_threads(0)


# ---- Philox and the stream ------------------------------------------------------------------


def read_hex_rows(name):
    lines = (SHARED_DATA / name).read_text().splitlines()
    return [[int(v, 16) for v in line.split()] for line in lines if line.strip() and not line.startswith("#")]


@needs_data
def test_philox_known_answers():
    rows = read_hex_rows("philox4x32_10_kat.txt")
    assert rows
    for row in rows:
        assert ref_philox(row[0:4], row[4:6]) == tuple(row[6:10])
        got = philox4x32_10(*(np.uint64(v) for v in row[0:6]))
        assert tuple(int(v) for v in got) == tuple(row[6:10])


@needs_data
def test_stream_vectors():
    rows = read_hex_rows("stream_vectors.txt")
    assert rows
    for seed, offset, unit, word in rows:
        assert ref_words(seed, offset, unit, 1)[0] == word
        assert stream_word(np.uint64(seed), np.uint64(offset), np.uint64(unit)) == word
        one = np.empty(1, np.uint32)
        nk.stream_words(seed, offset, unit, one)
        assert one[0] == word


@needs_data
def test_keep_vectors():
    """keep_vectors_v2.txt (seed, offset and the first unit in hex, p and the count in decimal) on
    this file's reference, and on stream_lane with keeps, the decision the kernels inline."""
    rows = [line.split() for line in (SHARED_DATA / "keep_vectors_v2.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert rows
    for seed, offset, p, first, count, keep in rows:
        seed, offset, p, first, count = int(seed, 16), int(offset, 16), float(p), int(first, 16), int(count)
        want = np.unpackbits(np.frombuffer(bytes.fromhex(keep), np.uint8), count=count, bitorder="little")
        np.testing.assert_array_equal(ref_keep(count, p, seed, offset, first), want)
        threshold = make_dropout_params(p, seed, offset)[2]
        got = [keeps(stream_lane(np.uint64(seed), np.uint64(offset), np.uint64(first + i)), threshold)
               for i in range(count)]
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("first", [0, 1, 7, 2**32 - 3, 2**35 - 5, 2**63 + 1, 2**64 - 37])
def test_stream_lane_matches_reference(first):
    got = [stream_lane(np.uint64(SEED), np.uint64(OFFSET), np.uint64(first + i)) for i in range(37)]
    np.testing.assert_array_equal(got, ref_lanes(SEED, OFFSET, first, 37))


@pytest.mark.parametrize("p", (0.0, 2**-17, 2**-16, 0.1, 0.5, 1 - 2**-16, 0.99999, 1.0))
def test_dropout_params(p):
    """The threshold is floor(p * 2^16), 2^16 at p = 1 (above every lane); the scale 1 / (1 - p) in
    double, rounded to float32 once."""
    params = make_dropout_params(p, 3, 4)
    seed, offset, threshold, scale_f32, scale_f64 = params
    assert (seed, offset) == (3, 4)
    assert threshold == (2**16 if p == 1.0 else math.floor(p * 2**16))
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    assert type(scale_f64) is np.float64 and scale_f64 == scale
    assert type(scale_f32) is np.float32 and scale_f32 == np.float32(scale)
    assert scale_of(params, np.float64) is scale_f64 and scale_of(params, np.float32) is scale_f32


@pytest.mark.parametrize("first", [0, 1, 2, 3, 5, 2**32 - 3, 2**34 - 5, 2**63 + 1, 2**64 - 37])
def test_stream_words_match_reference(first):
    words = np.empty(37, np.uint32)
    nk.stream_words(SEED, OFFSET, first, words)
    np.testing.assert_array_equal(words, ref_words(SEED, OFFSET, first, 37))


def test_stream_words_across_chunks_from_an_unaligned_unit():
    n = 2 * CHUNK + 1000
    words = np.empty(n, np.uint32)
    nk.stream_words(SEED, OFFSET, 3, words)
    np.testing.assert_array_equal(words, ref_words(SEED, OFFSET, 3, n))
    empty = np.empty(0, np.uint32)
    nk.stream_words(SEED, OFFSET, 3, empty)


# ---- forward and backward -------------------------------------------------------------------


@pytest.mark.parametrize("p", PS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_matches_reference(dtype, p):
    for n in SIZES:
        x = random_values(dtype, n)
        x_before = x.copy()
        y = np.empty_like(x)
        mask_bits = np.full((n + 7) // 8, 0xA5, np.uint8)
        mask_bytes = np.empty(n, np.bool_)
        nk.forward(dtype, x, y, p, SEED, OFFSET, mask_bits=mask_bits, mask_bytes=mask_bytes)
        keep = ref_keep(n, p, SEED, OFFSET)
        np.testing.assert_array_equal(bits_of(y), ref_apply(dtype, x, keep, p), err_msg=f"n={n}")
        np.testing.assert_array_equal(mask_bytes, keep)
        # Bits past n in the last byte are 0.
        np.testing.assert_array_equal(mask_bits, np.packbits(keep, bitorder="little"))
        np.testing.assert_array_equal(bits_of(x), bits_of(x_before))


@pytest.mark.parametrize("dtype", DTYPES)
def test_masks_do_not_change_the_output(dtype):
    n = 33000
    x = random_values(dtype, n, seed=2)
    plain = np.empty_like(x)
    nk.forward(dtype, x, plain, 0.5, SEED, OFFSET)
    for masks in ({"mask_bits": np.empty((n + 7) // 8, np.uint8)}, {"mask_bytes": np.empty(n, np.bool_)}):
        y = np.empty_like(x)
        nk.forward(dtype, x, y, 0.5, SEED, OFFSET, **masks)
        np.testing.assert_array_equal(bits_of(y), bits_of(plain))


@pytest.mark.parametrize("dtype", DTYPES)
def test_in_place(dtype):
    for n in (9, 33000):
        x = random_values(dtype, n, seed=3)
        expected = np.empty_like(x)
        nk.forward(dtype, x, expected, 0.1, SEED, OFFSET)
        nk.forward(dtype, x, x, 0.1, SEED, OFFSET)
        np.testing.assert_array_equal(bits_of(x), bits_of(expected))


@pytest.mark.parametrize("p", PS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_bits_matches_reference(dtype, p):
    rng = np.random.default_rng(4)
    for n in SIZES:
        dy = random_values(dtype, n, seed=5)
        # Random bits, those past n included: they must be ignored.
        mask_bits = rng.integers(0, 256, (n + 7) // 8, dtype=np.uint8)
        keep = np.unpackbits(mask_bits, bitorder="little")[:n].astype(np.bool_)
        dx = np.empty_like(dy)
        nk.backward_bits(dtype, dy, dx, p, mask_bits)
        np.testing.assert_array_equal(bits_of(dx), ref_apply(dtype, dy, keep, p), err_msg=f"n={n}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_of_forward_bits_is_forward_of_the_gradient(dtype):
    n = 33000
    x, dy = random_values(dtype, n, seed=6), random_values(dtype, n, seed=7)
    y, mask_bits = np.empty_like(x), np.empty((n + 7) // 8, np.uint8)
    nk.forward(dtype, x, y, 0.5, SEED, OFFSET, mask_bits=mask_bits)
    dx, recomputed = np.empty_like(dy), np.empty_like(dy)
    nk.backward_bits(dtype, dy, dx, 0.5, mask_bits)
    nk.forward(dtype, dy, recomputed, 0.5, SEED, OFFSET)
    np.testing.assert_array_equal(bits_of(dx), bits_of(recomputed))


# ---- threads and errors ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_counts_give_identical_bits(dtype, threads_restored):
    n = 5 * CHUNK + 13
    x = random_values(dtype, n, seed=8)
    results = []
    for threads in (1, 2):
        nk.set_num_threads(threads)
        y, bits, words = np.empty_like(x), np.empty((n + 7) // 8, np.uint8), np.empty(n, np.uint32)
        nk.forward(dtype, x, y, 0.5, SEED, OFFSET, mask_bits=bits)
        dx = np.empty_like(x)
        nk.backward_bits(dtype, x, dx, 0.5, bits)
        nk.stream_words(SEED, OFFSET, 1, words)
        results.append((bits_of(y), bits, bits_of(dx), words))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


def test_thread_count_setting(threads_restored):
    import numba

    nk.set_num_threads(1)
    assert nk.get_num_threads() == 1
    nk.set_num_threads(0)
    assert nk.get_num_threads() == numba.config.NUMBA_NUM_THREADS
    with pytest.raises(ValueError):
        nk.set_num_threads(-1)


def test_wrong_sizes_raise_and_touch_nothing():
    x = np.arange(10, dtype=np.float32)
    y = np.zeros(10, np.float32)
    with pytest.raises(ValueError, match="out"):
        nk.forward("float32", x, np.zeros(9, np.float32), 0.5, 1, 2)
    with pytest.raises(ValueError, match="mask_bits"):
        nk.forward("float32", x, y, 0.5, 1, 2, mask_bits=np.zeros(1, np.uint8))
    with pytest.raises(ValueError, match="mask_bytes"):
        nk.forward("float32", x, y, 0.5, 1, 2, mask_bytes=np.zeros(11, np.bool_))
    with pytest.raises(ValueError, match="mask_bits"):
        nk.backward_bits("float32", x, y, 0.5, np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="out"):
        nk.backward_bits("float32", x, np.zeros(11, np.float32), 0.5, np.zeros(2, np.uint8))
    assert not y.any()
    np.testing.assert_array_equal(x, np.arange(10, dtype=np.float32))


# ---- keep bits, broadcast apply and alpha dropout -------------------------------------------

# (shape, unit_strides) as the front-ends pass them: elementwise; a broadcast dim (a noise shape
# (3, 1, 5)); a stride-0 last dim (spatial dropout channels first, stochastic depth); a last dim
# of unit stride other than 1 (channels last, a transposed view); a size-1 dim; empty arrays.
# Odd sizes, and rows that cross tiles (1024 elements) and chunks (32768) mid-row.
APPLY_PATTERNS = (
    ((37,), (1,)),
    ((3, 4, 5), (5, 0, 1)),
    ((2, 3, 63), (3, 1, 0)),
    ((33, 1003), (1, 0)),
    ((9, 7, 3), (3, 0, 1)),
    ((3, 7, 5), (35, 1, 7)),
    ((5, 7001), (1, 5)),
    ((2, 1, 3, 5, 7), (1, 4, 2, 0, 6)),
    ((0, 5), (5, 1)),
    ((4, 0), (1, 0)),
)
APPLY_REFS = {"dropout": ref_apply, "alpha": ref_alpha, "alpha_grad": ref_alpha_grad}


@pytest.mark.parametrize("p", (0.0, 1e-9, 0.3, 0.5, 0.999999, 1.0))
def test_alpha_constants_match_reference(p):
    for c, got in zip((np.float32, np.float64), make_alpha_params(p)):
        want = ref_alpha_constants(p, c)
        assert [type(v) for v in got] == [c] * 3
        assert [v.tobytes() for v in got] == [v.tobytes() for v in want]


@pytest.mark.parametrize("p", VARIANT_PS)
def test_mask_bits_match_reference(p):
    for n in SIZES:
        bits = np.full((n + 7) // 8, 0xA5, np.uint8)
        nk.mask_bits(n, p, SEED, OFFSET, bits)
        # Bits past n in the last byte are 0.
        np.testing.assert_array_equal(bits, np.packbits(ref_keep(n, p, SEED, OFFSET), bitorder="little"),
                                      err_msg=f"n={n}")


@pytest.mark.parametrize("skew", range(8))
def test_mask_bits_runs_from_any_lane_of_a_block(skew):
    """A run whose first unit is lane `skew` of its block, over several tiles: each tile decides
    whole blocks from that of its first unit and moves its keeps down past the skew."""
    first, n = 2**35 + skew, 3 * TILE + 5
    bits = np.full((n + 7) // 8, 0xA5, np.uint8)
    nk.mask_bits_runs(n, 0.3, SEED, OFFSET, (first, n, n), bits)
    np.testing.assert_array_equal(bits, np.packbits(ref_keep(n, 0.3, SEED, OFFSET, first), bitorder="little"))


@pytest.mark.parametrize("p", VARIANT_PS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_alpha_forward_and_backward_match_reference(dtype, p):
    for n in SIZES:
        x, dy = random_values(dtype, n, seed=9), random_values(dtype, n, seed=10)
        x_before = x.copy()
        y, dx = np.empty_like(x), np.empty_like(dy)
        bits = np.full((n + 7) // 8, 0xA5, np.uint8)
        nk.alpha_forward(dtype, x, y, p, SEED, OFFSET, mask_bits=bits)
        nk.alpha_backward(dtype, dy, dx, p, SEED, OFFSET)
        keep = ref_keep(n, p, SEED, OFFSET)
        np.testing.assert_array_equal(bits_of(y), ref_alpha(dtype, x, keep, p), err_msg=f"n={n}")
        np.testing.assert_array_equal(bits_of(dx), ref_alpha_grad(dtype, dy, keep, p), err_msg=f"n={n}")
        np.testing.assert_array_equal(bits, np.packbits(keep, bitorder="little"))
        np.testing.assert_array_equal(bits_of(x), bits_of(x_before))


@pytest.mark.parametrize("p", VARIANT_PS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", APPLY_REFS)
def test_apply_mask_bits_matches_reference(kind, dtype, p):
    rng = np.random.default_rng(11)
    for shape, unit_strides in APPLY_PATTERNS:
        n = math.prod(shape)
        x = random_values(dtype, n, seed=12)
        x_before = x.copy()
        # Random bits, those past the last unit included: they must be ignored.
        unit_bits = rng.integers(0, 256, (unit_count(shape, unit_strides) + 7) // 8, dtype=np.uint8)
        keep = np.unpackbits(unit_bits, bitorder="little").astype(np.bool_)[ref_units(shape, unit_strides)]
        y = np.empty_like(x)
        nk.apply_mask_bits(kind, dtype, x, y, list(shape), list(unit_strides), p, unit_bits)
        want = APPLY_REFS[kind](dtype, x, keep, p)
        np.testing.assert_array_equal(bits_of(y), want, err_msg=f"shape={shape} unit_strides={unit_strides}")
        np.testing.assert_array_equal(bits_of(x), bits_of(x_before))
        nk.apply_mask_bits(kind, dtype, x, x, list(shape), list(unit_strides), p, unit_bits)
        np.testing.assert_array_equal(bits_of(x), want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_variants_thread_counts_give_identical_bits(dtype, threads_restored):
    # Several chunks, each starting mid-row, units read in transposed order.
    shape, unit_strides = (13, 12611), (1, 13)
    n = math.prod(shape)
    x = random_values(dtype, n, seed=13)
    unit_bits = np.random.default_rng(14).integers(0, 256, (n + 7) // 8, dtype=np.uint8)
    results = []
    for threads in (1, 2):
        nk.set_num_threads(threads)
        y, dx, applied = np.empty_like(x), np.empty_like(x), np.empty_like(x)
        bits, alone = np.empty((n + 7) // 8, np.uint8), np.empty((n + 7) // 8, np.uint8)
        nk.alpha_forward(dtype, x, y, 0.3, SEED, OFFSET, mask_bits=bits)
        nk.alpha_backward(dtype, x, dx, 0.3, SEED, OFFSET)
        nk.mask_bits(n, 0.3, SEED, OFFSET, alone)
        nk.apply_mask_bits("alpha", dtype, x, applied, list(shape), list(unit_strides), 0.3, unit_bits)
        results.append((bits_of(y), bits_of(dx), bits, alone, bits_of(applied)))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


def test_variant_errors_raise_and_touch_nothing():
    x = np.arange(12, dtype=np.float32)
    y = np.zeros(12, np.float32)
    unit_bits = np.full(2, 0xFF, np.uint8)
    with pytest.raises(ValueError, match="kind: expected dropout, alpha or alpha_grad, got gauss"):
        nk.apply_mask_bits("gauss", "float32", x, y, [3, 4], [4, 1], 0.5, unit_bits)
    with pytest.raises(TypeError, match="dtype"):
        nk.apply_mask_bits("dropout", "int8", x, y, [3, 4], [4, 1], 0.5, unit_bits)
    with pytest.raises(ValueError, match="unit_strides"):
        nk.apply_mask_bits("dropout", "float32", x, y, [3, 4], [4], 0.5, unit_bits)
    with pytest.raises(ValueError, match="shape"):
        nk.apply_mask_bits("dropout", "float32", x, y, [], [], 0.5, unit_bits)
    with pytest.raises(ValueError, match="unit_strides"):
        nk.apply_mask_bits("dropout", "float32", x, y, [3, 4], [4, -1], 0.5, unit_bits)
    with pytest.raises(ValueError, match="x"):
        nk.apply_mask_bits("dropout", "float32", x, y, [3, 5], [5, 1], 0.5, unit_bits)
    with pytest.raises(ValueError, match="out"):
        nk.apply_mask_bits("dropout", "float32", x, np.zeros(11, np.float32), [3, 4], [4, 1], 0.5, unit_bits)
    with pytest.raises(ValueError, match="unit_bits"):
        nk.apply_mask_bits("dropout", "float32", x, y, [3, 4], [8, 1], 0.5, unit_bits)
    with pytest.raises(ValueError, match="n: expected a count >= 0"):
        nk.mask_bits(-1, 0.5, 1, 2, np.zeros(0, np.uint8))
    with pytest.raises(ValueError, match="mask_bits"):
        nk.mask_bits(17, 0.5, 1, 2, unit_bits)
    with pytest.raises(ValueError, match="mask_bits"):
        nk.alpha_forward("float32", x, y, 0.5, 1, 2, mask_bits=np.zeros(1, np.uint8))
    with pytest.raises(ValueError, match="out"):
        nk.alpha_backward("float32", x, np.zeros(13, np.float32), 0.5, 1, 2)
    assert not y.any()
    np.testing.assert_array_equal(x, np.arange(12, dtype=np.float32))
    np.testing.assert_array_equal(unit_bits, [0xFF, 0xFF])


# ---- bit identity with the native module -----------------------------------------------------


@pytest.fixture(scope="module")
def native():
    try:
        return importlib.import_module("fastdrop._native")
    except ImportError as err:
        pytest.skip(f"fastdrop._native does not import ({err}): nothing to compare the mirror with")


@pytest.mark.parametrize("p", VARIANT_PS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_variants_match_native(native, dtype, p):
    rng = np.random.default_rng(15)
    for n in SIZES + (2 * PARALLEL_MIN + 9,):
        x = random_values(dtype, n, seed=16)
        for name in ("alpha_forward", "alpha_backward"):
            got, want = np.empty_like(x), np.empty_like(x)
            getattr(nk, name)(dtype, x, got, p, SEED, OFFSET)
            getattr(native, name)(dtype, x, want, p, SEED, OFFSET)
            np.testing.assert_array_equal(bits_of(got), bits_of(want), err_msg=f"{name} n={n}")
        got, want = np.empty((n + 7) // 8, np.uint8), np.empty((n + 7) // 8, np.uint8)
        nk.mask_bits(n, p, SEED, OFFSET, got)
        native.mask_bits(n, p, SEED, OFFSET, want)
        np.testing.assert_array_equal(got, want, err_msg=f"mask_bits n={n}")
    for shape, unit_strides in APPLY_PATTERNS:
        x = random_values(dtype, math.prod(shape), seed=17)
        unit_bits = rng.integers(0, 256, (unit_count(shape, unit_strides) + 7) // 8, dtype=np.uint8)
        for kind in APPLY_REFS:
            got, want = np.empty_like(x), np.empty_like(x)
            nk.apply_mask_bits(kind, dtype, x, got, list(shape), list(unit_strides), p, unit_bits)
            native.apply_mask_bits(kind, dtype, x, want, list(shape), list(unit_strides), p, unit_bits)
            np.testing.assert_array_equal(bits_of(got), bits_of(want), err_msg=f"{kind} shape={shape}")
