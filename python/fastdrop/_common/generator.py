"""fastdrop's random state: a (seed, offset) pair per generator, advanced once per call.

A call with no explicit seed takes the generator's current (seed, offset) and bumps the offset, so
one ``manual_seed`` makes a whole run reproducible, and no two calls share a stream.
"""

from __future__ import annotations

import operator
import secrets
import threading

_U64 = 1 << 64


def as_u64(value, name: str) -> int:
    """An integer in [0, 2^64); torch-style negative seeds (>= -2^63) wrap modulo 2^64."""
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}") from None
    if not -(1 << 63) <= value < _U64:
        raise ValueError(f"{name}: expected an integer in [-2**63, 2**64), got {value}")
    return value % _U64


class Generator:
    """A source of (seed, offset) pairs for fastdrop calls."""

    def __init__(self, seed=None):
        self._lock = threading.Lock()
        self.manual_seed(secrets.randbits(64) if seed is None else seed)

    def manual_seed(self, seed) -> "Generator":
        seed = as_u64(seed, "seed")
        with self._lock:
            self._seed = seed
            self._offset = 0
        return self

    def seed(self) -> int:
        """Reseed from OS entropy; returns the new seed."""
        seed = secrets.randbits(64)
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> tuple[int, int]:
        with self._lock:
            return self._seed, self._offset

    def set_state(self, state) -> None:
        seed, offset = state
        seed, offset = as_u64(seed, "seed"), as_u64(offset, "offset")
        with self._lock:
            self._seed, self._offset = seed, offset

    def draw(self) -> tuple[int, int]:
        """The (seed, offset) of the next call; advances the offset by one."""
        with self._lock:
            state = self._seed, self._offset
            self._offset = (self._offset + 1) % _U64
        return state

    def __repr__(self) -> str:
        return f"fastdrop.Generator(seed={self._seed}, offset={self._offset})"


default_generator = Generator()


def manual_seed(seed) -> Generator:
    """Seed fastdrop's default generator (used by NumPy inputs when no seed is given)."""
    return default_generator.manual_seed(seed)


def explicit_seed_offset(seed, offset, generator) -> tuple[int, int] | None:
    """An explicit (seed, offset) as u64 (offset 0 by default), or None when the call draws one."""
    if seed is not None:
        if generator is not None:
            raise ValueError("generator: pass either seed= or generator=, not both")
        return as_u64(seed, "seed"), 0 if offset is None else as_u64(offset, "offset")
    if offset is not None:
        raise ValueError("offset: an explicit offset needs an explicit seed")
    return None


def resolve_seed_offset(seed, offset, generator) -> tuple[int, int]:
    """The (seed, offset) of one call: explicit, or drawn from a fastdrop generator."""
    explicit = explicit_seed_offset(seed, offset, generator)
    if explicit is not None:
        return explicit
    if generator is None:
        generator = default_generator
    elif not isinstance(generator, Generator):
        raise TypeError(f"generator: expected a fastdrop.Generator, got {type(generator).__name__}")
    return generator.draw()
