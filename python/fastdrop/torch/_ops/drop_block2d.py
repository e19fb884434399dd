"""DropBlock (torchvision.ops.drop_block2d) as custom ops (see .._custom_op).

fastdrop::drop_block2d returns (y, bits, scale): the keep bit of each element and the scale
numel / (eps + kept) as a float64 scalar. Backward keeps those two, n / 8 bytes and 8, and
applies dx = keep ? dy * scale : 0.
"""

from __future__ import annotations

import torch

from ..._common import backend
from ..._rules.drop_block2d import batched_shape
from .._bridge import bits_like, draw_seed, elementwise, flat_view, kernel_dtype, like_input, to_unsigned
from .._custom_op import Backward, CustomOp


def _scale_like(x: torch.Tensor) -> torch.Tensor:
    return torch.empty((), dtype=torch.float64, device=x.device)


def _kernel(src: torch.Tensor, dst: torch.Tensor, bits: torch.Tensor, p: float, block_size: int, eps: float, seed: int,
            offset: int) -> float:
    """DropBlock of the contiguous src into dst (may be src); returns the scale."""
    return backend.active().drop_block2d_forward(
        kernel_dtype(src, "input"), flat_view(src), flat_view(dst), list(batched_shape(src.shape, "input")), block_size,
        p, eps, to_unsigned(seed), to_unsigned(offset), bits.numpy())


def drop_block_forward(x: torch.Tensor, p: float, block_size: int, eps: float, seed: int, offset: int, draw: bool
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if draw:
        seed, offset = draw_seed(x.device), 0
    src = x.contiguous()
    y = torch.empty_like(src)
    bits = bits_like(x)
    scale = _scale_like(x).fill_(_kernel(src, y, bits, p, block_size, eps, seed, offset))
    return like_input(y, x), bits, scale


def drop_block_no_grad(x, p, block_size, eps, seed, offset, draw, inplace):
    """Forward with nothing kept for backward, in place when asked."""
    if draw:
        seed, offset = draw_seed(x.device), 0
    bits = bits_like(x)
    return elementwise(lambda src, dst: _kernel(src, dst, bits, p, block_size, eps, seed, offset), x, inplace)


def drop_block_backward(grad: torch.Tensor, bits: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """dx = keep ? grad * scale : 0, the forward's map on the gradient."""
    dtype, value = kernel_dtype(grad, "grad"), scale.item()
    return elementwise(lambda src, dx: backend.active().apply_mask_bits_scale(
        dtype, flat_view(src), flat_view(dx), value, bits.numpy()), grad)


def _fake(x, p, block_size, eps, seed, offset, draw):
    return torch.empty_like(x), bits_like(x), _scale_like(x)


DROP_BLOCK2D = CustomOp("drop_block2d", drop_block_forward, fake=_fake, outputs=("y", "bits", "scale"),
                        backward=Backward("drop_block2d_backward", drop_block_backward), no_grad=drop_block_no_grad)
