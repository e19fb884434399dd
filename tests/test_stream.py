"""Philox known answers and the fastdrop stream vectors, on every kernel backend."""

import numpy as np
import pytest

from reference import SHARED_DATA, philox4x32_10, read_hex_rows, stream_words

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
