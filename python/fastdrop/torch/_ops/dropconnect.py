"""DropConnect for torch: dropout of a weight, one mask per call shared by the whole batch.

dropconnect(W) is fastdrop's dropout of W with mask_mode "recompute". dropconnect_linear fuses it
into linear(x, W * mask * s, b) as the custom op fastdrop::dropconnect_linear, which returns
(y, saved) with saved = (seed, offset) as two int64: backward regenerates the masked weight from
them, so autograd keeps x, W (references to the inputs) and 16 bytes, never a mask or a masked
copy of W. As for fastdrop::dropout, the op draws its seed from torch's default generator itself
when asked to (draw=True), so a compiled graph draws a fresh mask on every call.
"""

from __future__ import annotations

from typing import Optional

import torch

from .._bridge import check_device, draw_seed, kernel_dtype
from .dropout import DROPOUT_BACKWARD, dropout_no_grad


def check_tensor(t, name: str) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    kernel_dtype(t, name)
    check_device(t, name)


def check_linear_operands(input, weight, bias) -> None:
    check_tensor(input, "input")
    check_tensor(weight, "weight")
    if weight.dim() != 2:
        raise ValueError(f"weight: expected a 2-D tensor of shape (out_features, in_features), "
                         f"got shape {tuple(weight.shape)}")
    if weight.dtype != input.dtype:
        raise TypeError(f"weight: expected the dtype of input ({input.dtype}), got {weight.dtype}")
    if weight.device != input.device:
        raise ValueError(f"weight: expected the device of input ({input.device}), got {weight.device}")
    if input.dim() < 1 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"input: expected shape (..., {weight.shape[1]}) (last dimension = weight.shape[1]), "
                         f"got shape {tuple(input.shape)}")
    if bias is not None:
        check_tensor(bias, "bias")
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f"bias: expected shape ({weight.shape[0]},) (weight.shape[0]), "
                             f"got shape {tuple(bias.shape)}")
        if bias.dtype != input.dtype:
            raise TypeError(f"bias: expected the dtype of input ({input.dtype}), got {bias.dtype}")
        if bias.device != input.device:
            raise ValueError(f"bias: expected the device of input ({input.device}), got {bias.device}")


def linear_forward(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], p: float, seed: int,
                   offset: int, draw: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward behind both the custom op and the eager autograd.Function: the masked weight
    lives only for the matrix product."""
    if draw:
        seed, offset = draw_seed(weight.device), 0
    masked = dropout_no_grad(weight, p, seed, offset, False, "recompute", False)
    saved = torch.tensor([seed, offset], dtype=torch.int64, device=weight.device)
    return torch.nn.functional.linear(x, masked, bias), saved


def linear_grads(grad_y, x, weight, needs, apply_mask):
    """(dx, dW, db) of linear(x, W * mask * s, b); apply_mask(t) is t * mask * s with the forward's
    mask, as a differentiable op, so that double backward works too. None where needs says so."""
    need_x, need_w, need_b = needs
    out_features, in_features = weight.shape
    grad_2d = grad_y.reshape(-1, out_features)
    dx = grad_y @ apply_mask(weight) if need_x else None
    dw = apply_mask(grad_2d.T @ x.reshape(-1, in_features)) if need_w else None
    db = grad_2d.sum(0) if need_b else None
    return dx, dw, db


def linear_grads_no_graph(grad_y, x, weight, needs, p, seed, offset):
    """linear_grads when no graph is recorded, with one buffer of weight's size (first touch of a
    fresh one costs more than the mask kernel): the regenerated masked weight for dx, then dW
    computed into it and masked in place."""
    need_x, need_w, need_b = needs
    out_features, in_features = weight.shape
    grad_2d = grad_y.reshape(-1, out_features)
    buffer = dx = dw = None
    if need_x:
        buffer = dropout_no_grad(weight, p, seed, offset, False, "recompute", False)
        dx = grad_y @ buffer
    if need_w:
        reuse = buffer is not None and buffer.is_contiguous()
        dw = torch.mm(grad_2d.T, x.reshape(-1, in_features), out=buffer if reuse else None)
        dw = dropout_no_grad(dw, p, seed, offset, False, "recompute", True)
    db = grad_2d.sum(0) if need_b else None
    return dx, dw, db


# Opts out of the factory: its backward is matrix products around the dropout backward, and the
# eager one reuses a buffer of weight's size when no graph is recorded.
@torch.library.custom_op("fastdrop::dropconnect_linear", mutates_args=(),
                         tags=(torch.Tag.nondeterministic_seeded,))
def dropconnect_linear_op(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], p: float,
                          seed: int, offset: int, draw: bool) -> tuple[torch.Tensor, torch.Tensor]:
    return linear_forward(x, weight, bias, p, seed, offset, draw)


@dropconnect_linear_op.register_fake
def _(x, weight, bias, p, seed, offset, draw):
    return torch.nn.functional.linear(x, weight, bias), torch.empty(2, dtype=torch.int64, device=weight.device)


def _setup_linear(ctx, inputs, output):
    x, weight, _, p, _, _, _ = inputs
    ctx.p = p
    ctx.save_for_backward(x, weight, output[1])


def _linear_grad(ctx, grad_y, _grad_saved):
    x, weight, saved = ctx.saved_tensors
    grads = linear_grads(grad_y, x, weight, ctx.needs_input_grad[:3],
                         lambda t: DROPOUT_BACKWARD.op(t, saved, ctx.p, "recompute"))
    return (*grads, None, None, None, None)


torch.library.register_autograd("fastdrop::dropconnect_linear", _linear_grad, setup_context=_setup_linear)


class DropConnectLinearFunction(torch.autograd.Function):
    """The same forward and backward for eager mode, without the custom-op dispatch overhead."""

    @staticmethod
    def forward(ctx, x, weight, bias, p, seed, offset, draw):
        y, saved = linear_forward(x, weight, bias, p, seed, offset, draw)
        ctx.p = p
        ctx.save_for_backward(x, weight, saved)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, weight, saved = ctx.saved_tensors
        needs = ctx.needs_input_grad[:3]
        if torch.is_grad_enabled():
            # create_graph=True: differentiable ops, so that double backward works.
            grads = linear_grads(grad_y, x, weight, needs,
                                 lambda t: DROPOUT_BACKWARD.function.apply(t, saved, ctx.p, "recompute"))
        else:
            seed, offset = saved.tolist()
            grads = linear_grads_no_graph(grad_y, x, weight, needs, ctx.p, seed, offset)
        return (*grads, None, None, None, None)
