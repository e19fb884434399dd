"""A slow, obviously-correct reference of the randomness contract v2 (docs/design.md), in plain
Python integers and NumPy scalar rounding, independent of every fastdrop backend: Bernoulli units
are decided by 16-bit lanes (stream_lanes), continuous draws (Gaussian dropout) use 32-bit words
(stream_words)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK32 = 0xFFFFFFFF

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def philox4x32_10(ctr, key):
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for _ in range(10):
        p0, p1 = M0 * c0, M1 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & MASK32, p1 & MASK32, ((p0 >> 32) ^ c3 ^ k1) & MASK32, p0 & MASK32
        k0, k1 = (k0 + W0) & MASK32, (k1 + W1) & MASK32
    return c0, c1, c2, c3


def stream_block(seed: int, offset: int, b: int) -> tuple:
    """Block b of call (seed, offset): counter (b lo, b hi, offset lo, offset hi), key (seed lo, seed hi)."""
    return philox4x32_10((b & MASK32, b >> 32, offset & MASK32, offset >> 32), (seed & MASK32, seed >> 32))


def stream_words(seed: int, offset: int, n: int, first: int = 0) -> np.ndarray:
    """32-bit words of continuous draws first .. first + n - 1 of call (seed, offset): word u & 3 of
    block u >> 2 for draw u."""
    out = np.empty(n, np.uint32)
    for i, u in enumerate(range(first, first + n)):
        if i == 0 or u & 3 == 0:
            block = stream_block(seed, offset, u >> 2)
        out[i] = block[u & 3]
    return out


def stream_lanes(seed: int, offset: int, n: int, first: int = 0) -> np.ndarray:
    """16-bit lanes of Bernoulli units first .. first + n - 1 of call (seed, offset): lane u & 7 of
    block u >> 3 for unit u, lane 2k being the low half of word k and lane 2k + 1 its high half."""
    out = np.empty(n, np.uint16)
    for i, u in enumerate(range(first, first + n)):
        if i == 0 or u & 7 == 0:
            block = stream_block(seed, offset, u >> 3)
        word = block[(u & 7) >> 1]
        out[i] = word >> 16 if u & 1 else word & 0xFFFF
    return out


def threshold(p: float) -> int:
    """A unit is dropped iff its lane is below this: floor(p * 2^16), 2^16 (above every lane) at p = 1."""
    return 2**16 if p >= 1.0 else math.floor(p * 2**16)


def keep_mask(shape, p: float, seed: int, offset: int, first: int = 0) -> np.ndarray:
    """Keep decisions of units first .. first + prod(shape) - 1 of call (seed, offset), in shape."""
    lanes = stream_lanes(seed, offset, math.prod(shape), first).astype(np.int64)
    return (lanes >= threshold(p)).reshape(shape)


def bfloat16_bits_rne(values32: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits, round to nearest even by its definition (finite inputs)."""
    u = values32.astype(np.float32).view(np.uint32).astype(np.uint64)
    low = u & 0xFFFF
    high = u >> 16
    round_up = (low > 0x8000) | ((low == 0x8000) & ((high & 1) == 1))
    return (high + round_up).astype(np.uint16)


def apply_mask(x: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    """y = keep ? x * s : 0 in the compute type, rounded once to x's dtype."""
    scale64 = 0.0 if p >= 1.0 else 1.0 / (1.0 - p)
    if x.dtype == np.float64:
        return np.where(keep, x * np.float64(scale64), 0.0)
    if x.dtype.name == "bfloat16":
        wide = (x.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        y32 = np.where(keep, wide * np.float32(scale64), np.float32(0))
        return bfloat16_bits_rne(y32).view(x.dtype)
    y32 = np.where(keep, x.astype(np.float32) * np.float32(scale64), np.float32(0))
    return y32.astype(x.dtype)


def dropout(x: np.ndarray, p: float, seed: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    keep = keep_mask(x.shape, p, seed, offset)
    return apply_mask(x, keep, p), keep


def read_hex_rows(name: str) -> list[list[int]]:
    rows = []
    for line in (SHARED_DATA / name).read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        rows.append([int(tok, 16) for tok in line.replace("->", " ").split()])
    return rows


def read_keep_vectors() -> list[tuple[int, int, float, int, int, bytes]]:
    """The rows of keep_vectors_v2.txt as (seed, offset, p, first, count, keep bits): seed, offset
    and the first unit in hex, p and the count in decimal (the count is checked against the bytes),
    the keep bits of units first .. first + count - 1 as bytes (bit i & 7 of byte i >> 3 is unit
    first + i)."""
    rows = []
    for line in (SHARED_DATA / "keep_vectors_v2.txt").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        seed, offset, p, first, count, keep = line.split()
        keep_bits = bytes.fromhex(keep)
        assert len(keep_bits) == (int(count) + 7) // 8, line
        rows.append((int(seed, 16), int(offset, 16), float(p), int(first, 16), int(count), keep_bits))
    return rows


ALPHA = 1.7580993408473766


def alpha_constants(p: float, compute):
    """PyTorch's alpha dropout constants in the compute type: (a, keep_add, drop_value)."""
    if p >= 1.0:
        return compute(0), compute(0), compute(0)
    a = 1.0 / math.sqrt((ALPHA * ALPHA * p + 1.0) * (1.0 - p))
    keep_add = compute(ALPHA * a * p)
    return compute(a), keep_add, keep_add - compute(ALPHA * a)


def compute_type(dtype):
    return np.float64 if dtype == np.float64 else np.float32


def to_compute(x: np.ndarray) -> np.ndarray:
    if x.dtype.name == "bfloat16":
        return (x.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    return x.astype(compute_type(x.dtype))


def from_compute(values: np.ndarray, dtype) -> np.ndarray:
    if np.dtype(dtype).name == "bfloat16":
        return bfloat16_bits_rne(values).view(dtype)
    return values.astype(dtype)


def apply_alpha(x: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    """keep ? x * a + keep_add : drop_value in the compute type, rounded once to x's dtype."""
    a, keep_add, drop = alpha_constants(p, compute_type(x.dtype))
    values = to_compute(x)
    return from_compute(np.where(keep, values * a + keep_add, drop), x.dtype)


def apply_alpha_grad(grad: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    a, _, _ = alpha_constants(p, compute_type(grad.dtype))
    return from_compute(np.where(keep, to_compute(grad) * a, 0), grad.dtype)


def broadcast_keep(shape, noise, p: float, seed: int, offset: int) -> np.ndarray:
    """The keep mask of every element: the units' mask of the noise shape, broadcast."""
    return np.broadcast_to(keep_mask(tuple(noise), p, seed, offset), tuple(shape))
