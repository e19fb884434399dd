"""Philox known answers, the fastdrop stream vectors (32-bit words of continuous draws) and the
contract v2 keep vectors (16-bit lanes of Bernoulli units), on every kernel backend."""

import numpy as np
import pytest

from reference import (
    SHARED_DATA,
    keep_mask,
    philox4x32_10,
    read_hex_rows,
    read_keep_vectors,
    stream_lanes,
    stream_words,
)

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} not found")


def test_reference_matches_random123_known_answers():
    for row in read_hex_rows("philox4x32_10_kat.txt"):
        assert philox4x32_10(row[0:4], row[4:6]) == tuple(row[6:10])


def test_stream_vectors(kernels):
    rows = read_hex_rows("stream_vectors.txt")
    assert rows
    for seed, offset, unit, word in rows:
        one = np.empty(1, np.uint32)
        kernels.stream_words(seed, offset, unit, one)
        assert one[0] == word
        # The same word inside a longer run that starts at an unaligned unit.
        first = max(unit - 37, 0)
        run = np.empty(101, np.uint32)
        kernels.stream_words(seed, offset, first, run)
        assert run[unit - first] == word


@pytest.mark.parametrize("first", [0, 1, 2, 3, 5, 2**32 - 3, 2**63 + 1])
def test_stream_runs_match_reference(kernels, first):
    n = 515
    words = np.empty(n, np.uint32)
    kernels.stream_words(0x0123456789ABCDEF, 7, first, words)
    np.testing.assert_array_equal(words, stream_words(0x0123456789ABCDEF, 7, n, first))


def test_reference_lanes_are_the_halves_of_the_words():
    # Unit 8b + 2k + h is the low (h = 0) or high (h = 1) half of draw 4b + k's word.
    first_block = 2**32 - 2
    words = stream_words(5, 2**40 + 3, 12, 4 * first_block)
    lanes = stream_lanes(5, 2**40 + 3, 24, 8 * first_block)
    np.testing.assert_array_equal(lanes[0::2], words & 0xFFFF)
    np.testing.assert_array_equal(lanes[1::2], words >> 16)


def test_reference_matches_keep_vectors():
    rows = read_keep_vectors()
    assert rows
    for seed, offset, p, first, count, keep in rows:
        got = np.packbits(keep_mask((count,), p, seed, offset, first), bitorder="little").tobytes()
        assert got == keep, f"seed={seed:#x} offset={offset:#x} p={p} first={first:#x}"


def unpack(bits, count):
    return np.unpackbits(bits, count=count, bitorder="little").astype(np.bool_)


def test_keep_vectors(kernels):
    """Each row's units through the kernels' tile loop: mask_bits_runs of the single run of the
    row's units, and of those units less the first 3 (a run that starts mid-block, as a shard's
    may); forward_runs of ones (y != 0 where kept); mask_bits and forward where the row starts at
    unit 0."""
    for seed, offset, p, first, count, keep in read_keep_vectors():
        want = unpack(np.frombuffer(keep, np.uint8), count)
        where = f"seed={seed:#x} offset={offset:#x} p={p} first={first:#x}"
        for skip in (0, 3):
            n = count - skip
            bits = np.full((n + 7) // 8, 0xA5, np.uint8)
            kernels.mask_bits_runs(n, p, seed, offset, (first + skip, n, n), bits)
            np.testing.assert_array_equal(unpack(bits, n), want[skip:], err_msg=f"mask_bits_runs skip={skip} {where}")
            assert not np.unpackbits(bits, bitorder="little")[n:].any(), "bits past the run must be 0"
        x, y = np.ones(count, np.float32), np.empty(count, np.float32)
        kernels.forward_runs("float32", x, y, p, seed, offset, (first, count, count))
        np.testing.assert_array_equal(y != 0, want, err_msg=f"forward_runs {where}")
        if first == 0:
            bits = np.empty((count + 7) // 8, np.uint8)
            kernels.mask_bits(count, p, seed, offset, bits)
            assert bits.tobytes() == keep, f"mask_bits {where}"
            bits[:] = 0
            kernels.forward("float32", x, y, p, seed, offset, mask_bits=bits)
            assert bits.tobytes() == keep, f"forward {where}"
            np.testing.assert_array_equal(y != 0, want, err_msg=f"forward {where}")
