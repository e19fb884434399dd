"""What setting a case up gives the timer: the call to time and the bytes it moves."""

from __future__ import annotations

from typing import Callable, NamedTuple


class Workload(NamedTuple):
    run: Callable[[], object]  # the call to time, inputs bound
    bytes_moved: int  # bytes read + written per call
    kept_bytes: int | None  # bytes kept from forward for backward (None: no backward, as for a copy)
