"""A slow, obviously-correct reference of the randomness contract (docs/design.md), in plain Python
integers and NumPy scalar rounding, independent of every fastdrop backend."""

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


def stream_words(seed: int, offset: int, n: int, first: int = 0) -> np.ndarray:
    """Word of units first .. first + n - 1 of call (seed, offset)."""
    key = (seed & MASK32, seed >> 32)
    out = np.empty(n, np.uint32)
    block_words = None
    for i in range(n):
        u = first + i
        if block_words is None or u % 4 == 0:
            b = u >> 2
            block_words = philox4x32_10((b & MASK32, b >> 32, offset & MASK32, offset >> 32), key)
        out[i] = block_words[u & 3]
    return out


def keep_mask(shape, p: float, seed: int, offset: int) -> np.ndarray:
    n = math.prod(shape)
    if p >= 1.0:
        return np.zeros(shape, np.bool_)
    threshold = math.floor(p * 2**32)
    return (stream_words(seed, offset, n) >= threshold).reshape(shape)


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
