"""Dropout as torch.library custom ops, with fake (meta) kernels and registered autograd, so that
torch.compile(fullgraph=True) traces through it and eager and compiled runs draw the same masks.

fastdrop::dropout returns (y, saved). `saved` is what backward needs: in mode "bits" one bit per
element (uint8, ceil(n/8) bytes); in mode "recompute" only (seed, offset) as two int64. The op draws
its seed from torch's default generator itself when asked to (draw=True), so that a compiled graph
draws a fresh mask on every call instead of baking one seed in.
"""

from __future__ import annotations

import torch

from .. import _bridge
from .._bridge import draw_seed, kernel_dtype, to_unsigned

MASK_MODES = ("bits", "recompute")


def _saved_like(x: torch.Tensor, mask_mode: str) -> torch.Tensor:
    if mask_mode == "bits":
        return torch.empty((x.numel() + 7) // 8, dtype=torch.uint8, device=x.device)
    return torch.empty(2, dtype=torch.int64, device=x.device)


def dropout_forward(x: torch.Tensor, p: float, seed: int, offset: int, draw: bool, mask_mode: str
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward kernel call behind both the custom op and the eager autograd.Function."""
    dtype = kernel_dtype(x, "input")
    if draw:
        seed, offset = draw_seed(x.device), 0
    src = x.contiguous()
    y = torch.empty_like(src)
    saved = _saved_like(x, mask_mode)
    if mask_mode == "recompute":
        saved[0], saved[1] = seed, offset
    _bridge.forward(dtype, src, y, p, to_unsigned(seed), to_unsigned(offset), saved if mask_mode == "bits" else None)
    return _like_input(y, x), saved


def dropout_no_grad(x: torch.Tensor, p: float, seed: int, offset: int, draw: bool, inplace: bool
                    ) -> torch.Tensor:
    """Forward with nothing kept for backward (no autograd to feed), in place when asked."""
    dtype = kernel_dtype(x, "input")
    if draw:
        seed, offset = draw_seed(x.device), 0
    if inplace and x.is_contiguous():
        _bridge.forward(dtype, x, x, p, to_unsigned(seed), to_unsigned(offset))
        return x
    src = x.contiguous()
    y = torch.empty_like(src)
    _bridge.forward(dtype, src, y, p, to_unsigned(seed), to_unsigned(offset))
    y = _like_input(y, x)
    return x.copy_(y) if inplace else y


def dropout_backward(grad: torch.Tensor, saved: torch.Tensor, p: float, mask_mode: str) -> torch.Tensor:
    """The backward kernel call behind both the custom op and the eager autograd.Function."""
    dtype = kernel_dtype(grad, "grad")
    src = grad.contiguous()
    dx = torch.empty_like(src)
    if mask_mode == "bits":
        _bridge.backward_bits(dtype, src, dx, p, saved)
    else:
        seed, offset = (to_unsigned(int(v)) for v in saved.tolist())
        _bridge.forward(dtype, src, dx, p, seed, offset)
    return _like_input(dx, grad)


@torch.library.custom_op("fastdrop::dropout", mutates_args=(), tags=(torch.Tag.nondeterministic_seeded,))
def dropout_op(x: torch.Tensor, p: float, seed: int, offset: int, draw: bool, mask_mode: str
               ) -> tuple[torch.Tensor, torch.Tensor]:
    return dropout_forward(x, p, seed, offset, draw, mask_mode)


@dropout_op.register_fake
def _(x, p, seed, offset, draw, mask_mode):
    return torch.empty_like(x), _saved_like(x, mask_mode)


@torch.library.custom_op("fastdrop::dropout_backward", mutates_args=())
def dropout_backward_op(grad: torch.Tensor, saved: torch.Tensor, p: float, mask_mode: str) -> torch.Tensor:
    return dropout_backward(grad, saved, p, mask_mode)


@dropout_backward_op.register_fake
def _(grad, saved, p, mask_mode):
    return torch.empty_like(grad)


def _like_input(result: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """result (contiguous, logical order) laid out in like's stride order, as torch's elementwise
    ops lay out their outputs: same strides for dense inputs (channels_last stays channels_last),
    the same dimension order for sliced ones."""
    if like.is_contiguous():
        return result
    order = sorted(range(like.dim()), key=lambda d: -like.stride(d))
    inverse = [order.index(d) for d in range(like.dim())]
    out = torch.empty([like.shape[d] for d in order], dtype=like.dtype, device=like.device).permute(inverse)
    return out.copy_(result)


def _setup_dropout(ctx, inputs, output):
    _, p, _, _, _, mask_mode = inputs
    ctx.p, ctx.mask_mode = p, mask_mode
    ctx.save_for_backward(output[1])


def _dropout_grad(ctx, grad_y, _grad_saved):
    (saved,) = ctx.saved_tensors
    return dropout_backward_op(grad_y, saved, ctx.p, ctx.mask_mode), None, None, None, None, None


torch.library.register_autograd("fastdrop::dropout", _dropout_grad, setup_context=_setup_dropout)


def _setup_backward(ctx, inputs, output):
    _, saved, p, mask_mode = inputs
    ctx.p, ctx.mask_mode = p, mask_mode
    ctx.save_for_backward(saved)


def _backward_grad(ctx, grad_dx):
    # The backward is linear in grad with the same mask: its own gradient is itself.
    (saved,) = ctx.saved_tensors
    return dropout_backward_op(grad_dx, saved, ctx.p, ctx.mask_mode), None, None, None


torch.library.register_autograd("fastdrop::dropout_backward", _backward_grad, setup_context=_setup_backward)


class DropoutFunction(torch.autograd.Function):
    """The same forward and backward for eager mode, without the custom-op dispatch overhead
    (about 100 microseconds a call, more than the kernel on small tensors)."""

    @staticmethod
    def forward(ctx, x, p, seed, offset, draw, mask_mode):
        y, saved = dropout_forward(x, p, seed, offset, draw, mask_mode)
        ctx.p, ctx.mask_mode = p, mask_mode
        ctx.save_for_backward(saved)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (saved,) = ctx.saved_tensors
        return DropoutBackwardFunction.apply(grad_y, saved, ctx.p, ctx.mask_mode), None, None, None, None, None


class DropoutBackwardFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, grad, saved, p, mask_mode):
        ctx.p, ctx.mask_mode = p, mask_mode
        ctx.save_for_backward(saved)
        return dropout_backward(grad, saved, p, mask_mode)

    @staticmethod
    def backward(ctx, grad_dx):
        (saved,) = ctx.saved_tensors
        return DropoutBackwardFunction.apply(grad_dx, saved, ctx.p, ctx.mask_mode), None, None, None
