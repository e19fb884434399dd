"""Dropout as torch.library custom ops (see .._custom_op).

fastdrop::dropout returns (y, saved). `saved` is what backward needs: in mode "bits" one bit per
element (uint8, ceil(n/8) bytes); in mode "recompute" only (seed, offset) as two int64. The op draws
its seed from torch's default generator itself when asked to (draw=True), so that a compiled graph
draws a fresh mask on every call instead of baking one seed in.
"""

from __future__ import annotations

import torch

from .. import _bridge
from .._bridge import bits_like, draw_seed, elementwise, kernel_dtype, to_unsigned
from .._custom_op import Backward, CustomOp

MASK_MODES = ("bits", "recompute")


def _saved_like(x: torch.Tensor, mask_mode: str) -> torch.Tensor:
    if mask_mode == "bits":
        return bits_like(x)
    return torch.empty(2, dtype=torch.int64, device=x.device)


def apply_dropout(x: torch.Tensor, p: float, seed: int, offset: int, inplace: bool = False) -> torch.Tensor:
    """dropout(x) with the mask of the int64 (seed, offset), nothing kept for backward."""
    dtype = kernel_dtype(x, "input")
    seed, offset = to_unsigned(seed), to_unsigned(offset)
    return elementwise(lambda src, dst: _bridge.forward(dtype, src, dst, p, seed, offset), x, inplace)


def dropout_forward(x: torch.Tensor, p: float, seed: int, offset: int, draw: bool, mask_mode: str
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    dtype = kernel_dtype(x, "input")
    if draw:
        seed, offset = draw_seed(x.device), 0
    saved = _saved_like(x, mask_mode)
    if mask_mode == "recompute":
        saved[0], saved[1] = seed, offset
    bits = saved if mask_mode == "bits" else None
    seed, offset = to_unsigned(seed), to_unsigned(offset)
    return elementwise(lambda src, dst: _bridge.forward(dtype, src, dst, p, seed, offset, bits), x), saved


def dropout_no_grad(x, p, seed, offset, draw, mask_mode, inplace):
    """Forward with nothing kept for backward (so mask_mode plays no part), in place when asked."""
    if draw:
        seed, offset = draw_seed(x.device), 0
    return apply_dropout(x, p, seed, offset, inplace)


def dropout_backward(grad: torch.Tensor, saved: torch.Tensor, p: float, mask_mode: str) -> torch.Tensor:
    dtype = kernel_dtype(grad, "grad")
    if mask_mode == "bits":
        return elementwise(lambda src, dx: _bridge.backward_bits(dtype, src, dx, p, saved), grad)
    seed, offset = (to_unsigned(int(v)) for v in saved.tolist())
    return elementwise(lambda src, dx: _bridge.forward(dtype, src, dx, p, seed, offset), grad)


def _fake(x, p, seed, offset, draw, mask_mode):
    return torch.empty_like(x), _saved_like(x, mask_mode)


DROPOUT_BACKWARD = Backward("dropout_backward", dropout_backward)
DROPOUT = CustomOp("dropout", dropout_forward, fake=_fake, outputs=("y", "saved"), backward=DROPOUT_BACKWARD,
                   no_grad=dropout_no_grad)
