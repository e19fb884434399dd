"""DropBlock on NumPy arrays, with torchvision's drop_block2d semantics (see _rules.drop_block2d for the
differences): block seeds drawn on the grid of block positions by dropout's Bernoulli draw, their
blocks dropped, the rest scaled by numel / (eps + kept). The kernel writes one keep bit per
element; backward applies them again with the same scale.
"""

from __future__ import annotations

import numpy as np

from .._common import backend
from .._common.arrays import (
    as_input_array,
    check_out,
    finish,
    flat_raw,
    kernel_dtype,
    mask_bits_of,
    mask_from_bits,
    target,
)
from .._common.checks import check_mask_format, check_p
from .._common.generator import resolve_seed_offset
from .._rules.drop_block2d import batched_shape, check_block_fits, check_block_size, check_eps, drop_block_scale

# Set bits of each byte value.
_POPCOUNT = np.array([bin(byte).count("1") for byte in range(256)], np.uint8)


def _count_kept(bits: np.ndarray, n: int) -> int:
    """Set bits among the first n of packed bits (a caller's bits past n may be anything)."""
    whole = int(_POPCOUNT[bits[:n // 8]].sum(dtype=np.int64))
    return whole + (int(_POPCOUNT[bits[n // 8] & ((1 << n % 8) - 1)]) if n % 8 else 0)


def drop_block2d(x, p=0.1, block_size=7, *, training=True, eps=1e-6, seed=None, offset=None, generator=None, out=None,
                 return_mask=False, mask_format="bool"):
    """DropBlock (torchvision.ops.drop_block2d): blocks of block_size x block_size elements of each
    (H, W) map are zeroed, the rest scaled by numel / (eps + kept).

    x: a NumPy array (N, C, H, W), or unbatched (C, H, W), of float16, ml_dtypes.bfloat16, float32 or
        float64, any layout; or a torch tensor (see fastdrop.torch.functional.drop_block2d).
    p: the drop probability of torchvision, in [0, 1]; block seeds are dropped with probability
        gamma = p H W / (block_size^2 (H - block_size + 1)(W - block_size + 1)).
    block_size: odd, at most H and W (torchvision would shrink a larger block to the map).
    training: when False, or when p = 0, x is returned unchanged (as torchvision does).
    seed, offset, generator, out: as fastdrop.dropout.
    return_mask: also return the keep mask of the elements, bool of x's shape (mask_format='bool')
        or packed bits ('bits': bit i & 7 of byte i >> 3 for element i in row-major order).
    """
    x = as_input_array(x, "x")
    dtype = kernel_dtype(x.dtype, "x")
    p = check_p(p)
    block_size = check_block_size(block_size)
    eps = check_eps(eps)
    mask_format = check_mask_format(mask_format)
    shape = batched_shape(x.shape, "x")
    if out is not None:
        check_out(out, x)
    if not training or p == 0.0:
        y = finish(x, out) if out is not None else x
        keep_all = np.packbits(np.ones(x.size, np.bool_), bitorder="little")
        return (y, mask_from_bits(keep_all, x.shape, mask_format)) if return_mask else y
    check_block_fits(block_size, shape)
    seed, offset = resolve_seed_offset(seed, offset, generator)
    src = np.asarray(x, order="C")
    y = target(src, out)
    bits = np.empty((src.size + 7) // 8, np.uint8)
    backend.active().drop_block2d_forward(dtype, flat_raw(src), flat_raw(y), list(shape), block_size, p, eps, seed,
                                           offset, bits)
    y = finish(y, out)
    return (y, mask_from_bits(bits, x.shape, mask_format)) if return_mask else y


def drop_block2d_backward(grad, p=0.1, block_size=7, *, eps=1e-6, seed=None, offset=None, mask=None, out=None):
    """Gradient of drop_block2d: grad * keep * scale, with the forward's keep mask regenerated from
    its (seed, offset) (p and block_size as in the forward), or given as mask= (bool of grad's
    shape, or packed bits); the scale numel / (eps + kept) follows from the mask."""
    grad = as_input_array(grad, "grad")
    dtype = kernel_dtype(grad.dtype, "grad")
    p = check_p(p)
    block_size = check_block_size(block_size)
    eps = check_eps(eps)
    batched_shape(grad.shape, "grad")
    if (seed is None) == (mask is None):
        raise ValueError("drop_block2d_backward: pass exactly one of seed= (regenerate) or mask=")
    if out is not None:
        check_out(out, grad)
    if p == 0.0:
        return finish(grad, out) if out is not None else grad  # the forward was the identity
    if seed is not None:
        # The forward's map, applied to the gradient with the same mask and scale.
        seed, offset = resolve_seed_offset(seed, offset, None)
        return drop_block2d(grad, p, block_size, eps=eps, seed=seed, offset=offset, out=out)
    bits = mask_bits_of(mask, grad)
    scale = drop_block_scale(grad.size, _count_kept(bits, grad.size), eps)
    src = np.asarray(grad, order="C")
    dx = target(src, out)
    backend.active().apply_mask_bits_scale(dtype, flat_raw(src), flat_raw(dx), scale, bits)
    return finish(dx, out)
