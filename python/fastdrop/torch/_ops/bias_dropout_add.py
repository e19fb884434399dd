"""Fused bias + dropout + residual add as a custom op (see .._custom_op). Backward keeps one bit
per element and goes through dropout's: grad_x is dropout's backward of the gradient, grad_bias
its column sums, grad_residual the gradient itself."""

from __future__ import annotations

from typing import Optional

import torch

from ..._common import backend
from ..._common.bias import column_sums
from .._bridge import bits_like, draw_seed, flat_view, kernel_dtype, like_input, to_unsigned
from .._custom_op import CustomOp
from .dropout import DROPOUT_BACKWARD


def bias_dropout_add_forward(x: torch.Tensor, bias: Optional[torch.Tensor], residual: torch.Tensor, p: float,
                             seed: int, offset: int, draw: bool) -> tuple[torch.Tensor, torch.Tensor]:
    if draw:
        seed, offset = draw_seed(x.device), 0
    src, res = x.contiguous(), residual.contiguous()
    y = torch.empty_like(src)
    bits = bits_like(x)
    backend.active().bias_dropout_add_forward(
        kernel_dtype(x, "x"), flat_view(src), None if bias is None else flat_view(bias.contiguous()), flat_view(res),
        flat_view(y), max(x.shape[-1], 1), p, to_unsigned(seed), to_unsigned(offset), bits.numpy())
    return y, bits


@torch.library.custom_op("fastdrop::bias_gradient", mutates_args=())
def bias_gradient(grad_x: torch.Tensor) -> torch.Tensor:
    """grad_x summed over all but its last dimension as the NumPy front-end sums it (column_sums:
    float64, one thread), so that the bits do not depend on the thread count as torch's sum's do."""
    values = grad_x.detach().contiguous()
    array = values.float().numpy() if values.dtype == torch.bfloat16 else values.numpy()
    return torch.from_numpy(column_sums(array)).to(grad_x.dtype)


@bias_gradient.register_fake
def _(grad_x):
    return grad_x.new_empty(grad_x.shape[-1:])


def _setup_bias_gradient(ctx, inputs, output):
    ctx.shape = inputs[0].shape


def _bias_gradient_grad(ctx, grad):
    # The sum is linear: its gradient spreads grad over the summed dimensions.
    return grad.expand(ctx.shape)


torch.library.register_autograd("fastdrop::bias_gradient", _bias_gradient_grad, setup_context=_setup_bias_gradient)


def _gradient(backward, needs, grad_y, bits, p):
    grad_x = backward(grad_y, bits, p, "bits")
    return grad_x, bias_gradient(grad_x) if needs[1] else None, grad_y


def _fake(x, bias, residual, p, seed, offset, draw):
    return torch.empty_like(x, memory_format=torch.contiguous_format), bits_like(x)


BIAS_DROPOUT_ADD = CustomOp("bias_dropout_add", bias_dropout_add_forward, fake=_fake, outputs=("y", "bits"),
                            backward=DROPOUT_BACKWARD, differentiable=("x", "bias", "residual"), gradient=_gradient)


# Opts out of the factory: a shard's kernels keep no mask, and its backward is not differentiable.
class ShardedBiasDropoutAddFunction(torch.autograd.Function):
    """bias_dropout_add of a shard (runs: the kernels' [first, run_length, run_stride]): it keeps
    only (seed, offset), and backward regenerates the mask over the same runs."""

    @staticmethod
    def forward(ctx, x, bias, residual, p, seed, offset, draw, runs):
        if draw:
            seed, offset = draw_seed(x.device), 0
        src, res = x.contiguous(), residual.contiguous()
        y = torch.empty_like(src)
        backend.active().bias_dropout_add_forward_runs(
            kernel_dtype(x, "x"), flat_view(src), None if bias is None else flat_view(bias.contiguous()),
            flat_view(res), flat_view(y), max(x.shape[-1], 1), p, to_unsigned(seed), to_unsigned(offset), tuple(runs))
        ctx.p, ctx.seed, ctx.offset, ctx.runs, ctx.has_bias = p, seed, offset, tuple(runs), bias is not None
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_y):
        grad = grad_y.contiguous()
        grad_x = torch.empty_like(grad)
        backend.active().forward_runs(kernel_dtype(grad, "grad"), flat_view(grad), flat_view(grad_x), ctx.p,
                                       to_unsigned(ctx.seed), to_unsigned(ctx.offset), ctx.runs)
        grad_x = like_input(grad_x, grad_y)
        return grad_x, bias_gradient(grad_x) if ctx.has_bias else None, grad_y, None, None, None, None, None
