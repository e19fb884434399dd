"""Dropout as torch.library custom ops (see .._custom_op).

fastdrop::dropout returns (y, saved). `saved` is what backward needs: in mode "bits" one bit per
element (uint8, ceil(n/8) bytes); in mode "recompute" only (seed, offset) as two int64. The op draws
its seed from torch's default generator itself when asked to (draw=True), so that a compiled graph
draws a fresh mask on every call instead of baking one seed in.
"""

from __future__ import annotations

import torch

from .. import _bridge
from .._bridge import bits_like, draw_seed, kernel_dtype, like_input, to_unsigned
from .._custom_op import Backward, CustomOp

MASK_MODES = ("bits", "recompute")


def _saved_like(x: torch.Tensor, mask_mode: str) -> torch.Tensor:
    if mask_mode == "bits":
        return bits_like(x)
    return torch.empty(2, dtype=torch.int64, device=x.device)


def dropout_forward(x: torch.Tensor, p: float, seed: int, offset: int, draw: bool, mask_mode: str
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    dtype = kernel_dtype(x, "input")
    if draw:
        seed, offset = draw_seed(x.device), 0
    saved = _saved_like(x, mask_mode)
    if mask_mode == "recompute":
        saved[0], saved[1] = seed, offset
    # Written out, not through _bridge.elementwise: on small tensors the call is mostly Python.
    src = x.contiguous()
    y = torch.empty_like(src)
    _bridge.forward(dtype, src, y, p, to_unsigned(seed), to_unsigned(offset), saved if mask_mode == "bits" else None)
    return like_input(y, x), saved


def dropout_no_grad(x, p, seed, offset, draw, mask_mode, inplace):
    """Forward with nothing kept for backward (so mask_mode plays no part), in place when asked."""
    dtype = kernel_dtype(x, "input")
    if draw:
        seed, offset = draw_seed(x.device), 0
    seed, offset = to_unsigned(seed), to_unsigned(offset)
    if inplace and x.is_contiguous():
        _bridge.forward(dtype, x, x, p, seed, offset)
        return x
    src = x.contiguous()
    y = torch.empty_like(src)
    _bridge.forward(dtype, src, y, p, seed, offset)
    y = like_input(y, x)
    return x.copy_(y) if inplace else y


def dropout_backward(grad: torch.Tensor, saved: torch.Tensor, p: float, mask_mode: str) -> torch.Tensor:
    dtype = kernel_dtype(grad, "grad")
    src = grad.contiguous()
    dx = torch.empty_like(src)
    if mask_mode == "bits":
        _bridge.backward_bits(dtype, src, dx, p, saved)
    else:
        seed, offset = (to_unsigned(int(v)) for v in saved.tolist())
        _bridge.forward(dtype, src, dx, p, seed, offset)
    return like_input(dx, grad)


def _fake(x, p, seed, offset, draw, mask_mode):
    return torch.empty_like(x), _saved_like(x, mask_mode)


DROPOUT_BACKWARD = Backward("dropout_backward", dropout_backward)
DROPOUT = CustomOp("dropout", dropout_forward, fake=_fake, outputs=("y", "saved"), backward=DROPOUT_BACKWARD,
                   no_grad=dropout_no_grad)
