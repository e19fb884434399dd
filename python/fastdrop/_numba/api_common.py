"""What the Numba entry points share, as csrc/cpu/api_common.h is what the C ABI's CPU entry points
(csrc/cpu/<op>.cpp) share: a call split into chunks of its runs (for_each_run_chunk: run_chunk_count,
run_chunk), single_run and valid_runs (unit_runs here), the buffer checks of the bindings
(src/binding_checks.h) and the thread count (csrc/cpu/dispatch.cpp's fastdrop_set_num_threads).

Chunks never cross a run and are run in parallel, so that results do not depend on the thread
count. A call's runs (first, run_length, run_stride) say which unit each element is: element
r * run_length + j is unit first + r * run_stride + j; an unsharded call is the single run
(0, n, n), so one kernel serves both.
"""

from __future__ import annotations

import operator

import numba
import numpy as np
from numba import njit

# Units per chunk (dropout.cpp kChunk): a multiple of 8, so bit masks of chunks never share a byte.
CHUNK = 1 << 15
# Below this many units a call stays on the calling thread (dropout.cpp kParallelMin): waking
# threads costs more, and far more when another process holds the other cores.
PARALLEL_MIN = 1 << 16

_num_threads = 0


@njit(cache=True, inline="always")
def run_chunk_count(n, run_length):
    """(chunks, chunks per run) of a call of n elements in runs of run_length: chunks never cross a run."""
    if n == 0:
        return 0, 1
    per_run = (run_length + CHUNK - 1) // CHUNK
    return n // run_length * per_run, per_run


@njit(cache=True, inline="always")
def run_chunk(c, per_run, runs):
    """Chunk c of a call whose element r * run_length + j is unit first + r * run_stride + j, runs
    being (first, run_length, run_stride): its elements [start, end), the unit of element start,
    and the bit where its keep bits start when each run's bits start at a whole byte (start itself
    for a single run). Chunks start at a multiple of CHUNK within their run.
    """
    first, run_length, run_stride = runs
    run = c // per_run
    at = c % per_run * CHUNK
    start = run * run_length + at
    end = start + min(CHUNK, run_length - at)
    unit = first + np.uint64(run) * run_stride + np.uint64(at)
    bit = run * 8 * ((run_length + 7) // 8) + at
    return start, end, unit, bit


def buffer(a, what, storage, size, writable):
    """a's memory as a 1-D array of `size` items of `storage`, as the native module checks it."""
    a = np.asarray(a)
    if not a.flags.c_contiguous:
        raise ValueError(f"{what}: must be C-contiguous")
    if writable and not a.flags.writeable:
        raise ValueError(f"{what}: must be writable")
    expected = size * np.dtype(storage).itemsize
    if a.nbytes != expected:
        raise ValueError(f"{what}: expected {expected} bytes, got {a.nbytes}")
    return a.reshape(-1).view(storage)


def single_run(n):
    """The runs of an unsharded call, element i being unit i (api_common.h single_run)."""
    return np.uint64(0), np.int64(n), np.uint64(n)


def unit_runs(runs, n):
    """runs (first, run_length, run_stride) of a call of n elements as the kernels take them,
    checked as api_common.h valid_runs checks them; out-of-range values are refused as the native
    module's argument conversion refuses them (TypeError)."""
    if len(runs) != 3:
        raise TypeError(f"runs: expected (first, run_length, run_stride), got {runs!r}")
    first, run_length, run_stride = (operator.index(v) for v in runs)
    if not (0 <= first < 2**64 and 0 <= run_stride < 2**64 and -2**63 <= run_length < 2**63):
        raise TypeError(f"runs: expected first and run_stride in [0, 2**64), run_length an int64, got {runs!r}")
    if run_length < 0 or (n > 0 and (run_length == 0 or n % run_length)):
        raise ValueError("runs: run_length must be positive and divide n")
    return np.uint64(first), np.int64(run_length), np.uint64(run_stride)


def run_kernel(kernel, n, *args):
    """kernel(*args) for a call of n units, on the calling thread below PARALLEL_MIN."""
    # Numba's thread count belongs to the calling thread; setting it at each call makes
    # set_num_threads global, as the native module's is.
    numba.set_num_threads(get_num_threads() if n >= PARALLEL_MIN else 1)
    return kernel(*args)


def set_num_threads(threads):
    """Threads for the kernels; 0 is the default (all of Numba's). Results do not depend on it."""
    global _num_threads
    threads = int(threads)
    if threads < 0:
        raise ValueError(f"threads: expected a count >= 0, got {threads}")
    # Numba's pool has NUMBA_NUM_THREADS workers and cannot run more.
    _num_threads = min(threads, numba.config.NUMBA_NUM_THREADS)


def get_num_threads():
    return _num_threads or numba.config.NUMBA_NUM_THREADS
