"""The one list of benchmark cases, shared by ``fastdrop bench`` and the pytest-benchmark suite.

A case is (op, backend, dtype, size, direction, mode), plus the mask the backward pass uses. Each
``Entry`` says what to run for one (op, backend, direction, mask); crossing the entries with
dtypes, sizes and modes gives the cases. A new op (spatial dropout, alpha dropout,
bias_dropout_add, ...) adds entries and the calls they build, not new paths in the runner.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from . import copy_calls, fastdrop_calls, torch_calls
from .inputs import ITEMSIZE

OPS = ("dropout",)
BACKENDS = ("native", "numba", "torch", "copy")
DTYPES = ("float32", "bfloat16")
SIZES = (64 << 10, 1 << 20, 16 << 20)
DIRECTIONS = ("forward", "backward")
MODES = ("alloc", "out")
DROPOUT_P = 0.1
# The copy roofline belongs to no op and no direction.
NONE = "-"

_SIZE_SUFFIXES = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    """'64K' -> 65536, '16M' -> 16777216, '1000' -> 1000 (binary K, M, G)."""
    text = text.strip().upper()
    scale = _SIZE_SUFFIXES.get(text[-1:], 1)
    digits = text[:-1] if scale != 1 else text
    if not digits.isdigit() or int(digits) == 0:
        raise ValueError(f"size: expected a positive count like 4096, 64K or 16M, got {text!r}")
    return int(digits) * scale


def size_label(size: int) -> str:
    for suffix, scale in reversed(_SIZE_SUFFIXES.items()):
        if size % scale == 0:
            return f"{size // scale}{suffix}"
    return str(size)


def elementwise_traffic(arrays: int, bit_masks: int = 0) -> Callable[[int, int], int]:
    """Bytes read plus written by a pass over ``arrays`` arrays of the case's dtype (x, y, torch's
    noise tensor, ...) and ``bit_masks`` masks of one bit per element."""
    return lambda size, itemsize: arrays * size * itemsize + bit_masks * ((size + 7) // 8)


class Entry(NamedTuple):
    op: str
    backend: str
    direction: str
    # How backward gets the mask: 'recompute' (from seed and offset: none stored), 'bits' (one bit
    # per element), 'noise' (torch: the scaled mask as a tensor of x's dtype).
    mask: str
    build: Callable  # case -> zero-arg callable to time
    traffic: Callable[[int, int], int]  # (size, itemsize) -> bytes read + written


_dropout_forward = functools.partial(fastdrop_calls.dropout_forward, p=DROPOUT_P)
_dropout_backward = functools.partial(fastdrop_calls.dropout_backward, p=DROPOUT_P)
_torch_forward = functools.partial(torch_calls.dropout_forward, p=DROPOUT_P)
_torch_backward = functools.partial(torch_calls.dropout_backward, p=DROPOUT_P)

ENTRIES = (
    Entry(NONE, "copy", NONE, NONE, copy_calls.copy, elementwise_traffic(2)),
    # forward: x read, y written, plus the mask kept for backward
    Entry("dropout", "torch", "forward", "noise", _torch_forward, elementwise_traffic(3)),
    Entry("dropout", "native", "forward", "recompute", _dropout_forward, elementwise_traffic(2)),
    Entry("dropout", "native", "forward", "bits", _dropout_forward, elementwise_traffic(2, 1)),
    Entry("dropout", "numba", "forward", "recompute", _dropout_forward, elementwise_traffic(2)),
    Entry("dropout", "numba", "forward", "bits", _dropout_forward, elementwise_traffic(2, 1)),
    # backward: grad read, dx written, plus the stored mask read
    Entry("dropout", "torch", "backward", "noise", _torch_backward, elementwise_traffic(3)),
    Entry("dropout", "native", "backward", "bits", _dropout_backward, elementwise_traffic(2, 1)),
    Entry("dropout", "native", "backward", "recompute", _dropout_backward, elementwise_traffic(2)),
    Entry("dropout", "numba", "backward", "bits", _dropout_backward, elementwise_traffic(2, 1)),
    Entry("dropout", "numba", "backward", "recompute", _dropout_backward, elementwise_traffic(2)),
)

_UNAVAILABLE = {
    "native": fastdrop_calls.unavailable,
    "numba": fastdrop_calls.unavailable,
    "torch": torch_calls.unavailable,
    "copy": copy_calls.unavailable,
}


@dataclass(frozen=True)
class Case:
    op: str
    backend: str
    dtype: str
    size: int
    direction: str
    mode: str
    mask: str
    entry: Entry = field(compare=False, repr=False)

    @property
    def id(self) -> str:
        parts = (self.op, self.backend, self.dtype, size_label(self.size), self.direction,
                 self.mode, self.mask)
        return "-".join(part for part in parts if part != NONE)

    @property
    def comparison_key(self) -> tuple:
        """Cases with the same key do the same work: torch's is the one the others are compared to."""
        return self.op, self.dtype, self.size, self.direction, self.mode

    @property
    def bandwidth_key(self) -> tuple:
        """Cases moving the same arrays: the fastest copy among them is their roofline."""
        return self.dtype, self.size

    @property
    def bytes_moved(self) -> int:
        return self.entry.traffic(self.size, ITEMSIZE[self.dtype])

    def skip_reason(self) -> str | None:
        return _UNAVAILABLE[self.backend](self)

    def setup(self) -> Callable[[], object]:
        """Build the inputs; return the zero-arg callable to time."""
        return self.entry.build(self)


def cases(*, ops=OPS, backends=BACKENDS, dtypes=DTYPES, sizes=SIZES, directions=DIRECTIONS,
          modes=MODES) -> list[Case]:
    """The cases for these choices, grouped by dtype, size and mode, copy first in each group.
    Copy passes every op and direction filter: it is the roofline of all of them."""
    return [
        Case(entry.op, entry.backend, dtype, size, entry.direction, mode, entry.mask, entry)
        for dtype in dtypes
        for size in sizes
        for mode in modes
        for entry in ENTRIES
        if entry.backend in backends
        and (entry.backend == "copy" or (entry.op in ops and entry.direction in directions))
    ]


CASES = cases()
