"""Input shapes of the cases timed through torch autograd, for a case's size (its element count).

Each function maps the size to the shape of every input, by the name the calls take them by. A
size a layout cannot take raises ValueError, and its cases are skipped with that reason.
"""

from __future__ import annotations

import math

# The spatial size of the images: ResNet's later stages run at 14x14 to 28x28.
IMAGE_SIDE = 16
# DropBlock's maps: large enough that blocks of 7 leave room to place them.
FEATURE_MAP_SIDE = 32
LINEAR_BATCH = 64


def near_square(count: int) -> tuple[int, int]:
    """(rows, columns), rows >= columns, rows * columns == count, as near a square as count allows."""
    columns = max(d for d in range(1, math.isqrt(count) + 1) if count % d == 0)
    return count // columns, columns


def elements(size: int) -> dict:
    return {"x": (size,)}


def _maps(size: int, side: int) -> dict:
    """(N, C, side, side) of `size` elements, N and C as near each other as they divide."""
    plane = side * side
    if size % plane:
        raise ValueError(f"{size} elements do not make (N, C, {side}, {side}) maps (not a multiple of {plane})")
    batch, channels = near_square(size // plane)
    return {"x": (batch, channels, side, side)}


def images(size: int) -> dict:
    """(N, C, H, W) with H = W = 16: 256 x 256 channels at 16M elements."""
    return _maps(size, IMAGE_SIDE)


def feature_maps(size: int) -> dict:
    """(N, C, H, W) with H = W = 32, room for DropBlock's 7 x 7 blocks: 128 x 128 maps at 16M."""
    return _maps(size, FEATURE_MAP_SIDE)


def sequences(size: int) -> dict:
    """(T, B, H): 64 steps of a batch of 64 at 4096 features at 16M elements."""
    rows, features = near_square(size)
    steps, batch = near_square(rows)
    return {"x": (steps, batch, features)}


def hidden_states(size: int) -> dict:
    """A (tokens, hidden) activation, a bias over hidden and a residual: 4096 x 4096 at 16M."""
    tokens, hidden = near_square(size)
    return {"x": (tokens, hidden), "bias": (hidden,), "residual": (tokens, hidden)}


def biased_rows(size: int) -> dict:
    """A (tokens, hidden) activation and a bias over hidden: 4096 x 4096 at 16M."""
    tokens, hidden = near_square(size)
    return {"x": (tokens, hidden), "bias": (hidden,)}


def linear_layer(size: int) -> dict:
    """A weight of ``size`` elements (4096 x 4096 at 16M), its bias and a batch of 64 inputs."""
    out_features, in_features = near_square(size)
    return {"x": (LINEAR_BATCH, in_features), "weight": (out_features, in_features), "bias": (out_features,)}
