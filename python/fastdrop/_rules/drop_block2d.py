"""DropBlock's arguments and scale, shared by the NumPy and torch front-ends and the Numba mirror:
torchvision's drop_block2d semantics (docs/design.md, Variants), with these differences. A block larger
than the map is an error (torchvision shrinks it to the map's size); an unbatched (C, H, W) input
is accepted, getting the mask of its batched form (N = 1); dropped elements are +0.0 as in
dropout (torchvision's input * noise * scale gives -0.0 for negative ones, NaN for infinite ones).

The scale numel / (eps + kept) is computed in double and held in the compute type, as dropout's
scale: float32 for float16, bfloat16 and float32 inputs. torchvision computes it, and multiplies
by it, in the input's dtype, so for 16-bit inputs its kept count and scale are rounded to 16 bits
(float16 counts exactly only up to 2048) and the results can differ from fastdrop's by more than
a rounding.
"""

from __future__ import annotations

import numbers
import operator


def check_block_size(block_size) -> int:
    """An odd integer >= 1 (fastdrop raises for an even size as torchvision does)."""
    try:
        size = operator.index(block_size)
    except TypeError:
        raise TypeError(f"block_size: expected an odd integer >= 1, got {type(block_size).__name__}") from None
    if isinstance(block_size, bool) or size < 1 or size % 2 == 0:
        raise ValueError(f"block_size: expected an odd integer >= 1 (block size should be odd), got {block_size}")
    return size


def check_eps(eps) -> float:
    """A finite number >= 0: torchvision adds it to the kept count before dividing."""
    # As _checks.check_p: torch.compile may pass a SymFloat, and comparisons trace where
    # math.isfinite does not (NaN fails both).
    symbolic = type(eps).__name__ == "SymFloat"
    if not symbolic and (isinstance(eps, bool) or not isinstance(eps, numbers.Real)):
        raise TypeError(f"eps: expected a finite number >= 0, got {type(eps).__name__}")
    if not 0.0 <= eps < float("inf"):
        raise ValueError(f"eps: expected a finite number >= 0, got {eps}")
    return eps if symbolic else float(eps)


def batched_shape(shape, name: str) -> tuple[int, int, int, int]:
    """(N, C, H, W) of a batched input, or (1, C, H, W) of an unbatched (C, H, W) one."""
    shape = tuple(shape)
    if len(shape) == 4:
        return shape
    if len(shape) == 3:
        return (1,) + shape
    raise ValueError(f"{name}: expected a 4-D (N, C, H, W) or 3-D (C, H, W) input, got shape {shape}")


def check_block_fits(block_size: int, shape) -> None:
    """The block must fit in the (H, W) maps of a batched shape."""
    height, width = shape[2], shape[3]
    if block_size > height or block_size > width:
        raise ValueError(f"block_size: {block_size} is larger than the input's {height}x{width} maps (torchvision "
                         f"would shrink it to {min(block_size, height, width)}); pass a block_size <= "
                         f"{min(height, width)}")


def drop_block_scale(numel: int, kept: int, eps: float) -> float:
    """numel / (eps + kept) in double, 0 when nothing is kept (drop_block_scale in math/drop_block2d.h)."""
    return 0.0 if kept == 0 else numel / (eps + kept)

