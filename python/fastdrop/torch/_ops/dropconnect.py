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

from ..._common.checks import check_p
from .._bridge import check_device, draw_seed, kernel_dtype, op_seed
from .dropout import DropoutBackwardFunction, DropoutFunction, dropout_backward_op, dropout_no_grad, dropout_op


def _check_tensor(t, name: str) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    kernel_dtype(t, name)
    check_device(t, name)


def _check_linear_operands(input, weight, bias) -> None:
    _check_tensor(input, "input")
    _check_tensor(weight, "weight")
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
        _check_tensor(bias, "bias")
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
    masked = dropout_no_grad(weight, p, seed, offset, False, False)
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
        buffer = dropout_no_grad(weight, p, seed, offset, False, False)
        dx = grad_y @ buffer
    if need_w:
        reuse = buffer is not None and buffer.is_contiguous()
        dw = torch.mm(grad_2d.T, x.reshape(-1, in_features), out=buffer if reuse else None)
        dw = dropout_no_grad(dw, p, seed, offset, False, True)
    db = grad_2d.sum(0) if need_b else None
    return dx, dw, db


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
                         lambda t: dropout_backward_op(t, saved, ctx.p, "recompute"))
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
                                 lambda t: DropoutBackwardFunction.apply(t, saved, ctx.p, "recompute"))
        else:
            seed, offset = saved.tolist()
            grads = linear_grads_no_graph(grad_y, x, weight, needs, ctx.p, seed, offset)
        return (*grads, None, None, None, None)


def dropconnect(weight: torch.Tensor, p: float = 0.5, training: bool = True, *, seed=None, offset=None,
                generator=None, shard=None) -> torch.Tensor:
    """The DropConnect weight W * mask / (1 - p), differentiable; bit-identical to
    fastdrop.torch.functional.dropout(weight, ...). Backward regenerates the mask from the seed.
    shard: fastdrop.Shard when weight is a slice of a larger one (tensor parallelism); one bit per
    weight is then kept for backward, as fastdrop.torch.functional.dropout keeps for a shard."""
    _check_tensor(weight, "weight")
    p = check_p(p)
    if not training:
        return weight
    if shard is not None:
        from ..functional import dropout

        return dropout(weight, p, seed=seed, offset=offset, generator=generator, shard=shard)
    seed, offset, draw = op_seed(seed, offset, generator, weight.device)
    if torch.compiler.is_compiling():
        return dropout_op(weight, p, seed, offset, draw, "recompute")[0]
    if weight.requires_grad and torch.is_grad_enabled():
        return DropoutFunction.apply(weight, p, seed, offset, draw, "recompute")
    return dropout_no_grad(weight, p, seed, offset, draw, False)


def dropconnect_linear(input: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                       p: float = 0.5, training: bool = True, *, seed=None, offset=None, generator=None,
                       shard=None) -> torch.Tensor:
    """linear(input, dropconnect(weight), bias) in one op, one weight mask for the whole batch.
    Its backward gives the gradients of input, weight and bias, regenerating the masked weight
    from (seed, offset): nothing of weight's size is kept for it but weight itself. Without
    seed=, the seed is drawn from `generator` or torch's default generator. shard: fastdrop.Shard
    of weight when it is a slice of a larger one (split along dim 0 for a column-parallel layer,
    dim 1 for a row-parallel one); the masked weight is then dropconnect(weight, shard=shard)
    (one bit per weight kept for backward)."""
    _check_linear_operands(input, weight, bias)
    p = check_p(p)
    if not training:
        return torch.nn.functional.linear(input, weight, bias)
    if shard is not None:
        masked = dropconnect(weight, p, seed=seed, offset=offset, generator=generator, shard=shard)
        return torch.nn.functional.linear(input, masked, bias)
    seed, offset, draw = op_seed(seed, offset, generator, weight.device)
    if torch.compiler.is_compiling():
        return dropconnect_linear_op(input, weight, bias, p, seed, offset, draw)[0]
    tensors = (input, weight) if bias is None else (input, weight, bias)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return DropConnectLinearFunction.apply(input, weight, bias, p, seed, offset, draw)
    return linear_forward(input, weight, bias, p, seed, offset, draw)[0]
