"""Fused bias + activation + dropout as custom ops (see .._custom_op), as _ops.bias_dropout_add
does for bias + dropout + residual. The forward keeps its
input x, the bias and one bit per element (not the activation): the backward kernel recomputes
x + bias. grad_bias is grad_x's column sums. The backward is differentiable too: in grad through
the same kernel, in x and bias through the activation's second derivative in torch ops (double
backward is rare; it need not be fused)."""

from __future__ import annotations

import math
from typing import Optional

import torch

from ..._common import backend
from .._bridge import bits_like, draw_seed, flat_view, kernel_dtype, like_input, to_unsigned
from .._custom_op import Backward, CustomOp
from .bias_dropout_add import bias_gradient

INV_SQRT_2PI = 0.39894228040143267794
GELU_TANH_BETA = 0.79788456080286535588
GELU_TANH_KAPPA = 0.044715


def _flat_bias(bias):
    return None if bias is None else flat_view(bias.contiguous())


def bias_act_forward(x: torch.Tensor, bias: Optional[torch.Tensor], p: float, seed: int, offset: int, draw: bool,
                     activation: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(y, keep bits)."""
    if draw:
        seed, offset = draw_seed(x.device), 0
    src = x.contiguous()
    y = torch.empty_like(src)
    bits = bits_like(x)
    backend.active().bias_act_dropout_forward(
        activation, kernel_dtype(x, "input"), flat_view(src), _flat_bias(bias), flat_view(y), x.shape[-1], p,
        to_unsigned(seed), to_unsigned(offset), bits.numpy())
    return like_input(y, x), bits


def bias_act_backward(grad: torch.Tensor, x: torch.Tensor, bias: Optional[torch.Tensor], bits: torch.Tensor, p: float,
                      activation: str) -> torch.Tensor:
    """grad_x = keep ? act'(x + bias) grad / (1 - p) : 0, keep read from the forward's bits."""
    src = grad.contiguous()
    grad_x = torch.empty_like(src)
    backend.active().bias_act_dropout_backward(
        activation, kernel_dtype(grad, "grad"), flat_view(src), flat_view(x.contiguous()), _flat_bias(bias),
        flat_view(grad_x), x.shape[-1], p, mask_bits=bits.numpy())
    return like_input(grad_x, grad)


def _second_derivative(v: torch.Tensor, activation: str) -> torch.Tensor:
    """act''(v): 0 for relu, phi(v) (2 - v^2) for gelu, and for the tanh form v sigmoid(w) with
    w = 2 sqrt(2 / pi) (v + 0.044715 v^3): sigmoid' (2 w' + v (1 - 2 sigmoid) w'^2 + v w'')."""
    if activation == "relu":
        return torch.zeros_like(v)
    if activation == "gelu":
        return torch.exp(-0.5 * v * v) * INV_SQRT_2PI * (2 - v * v)
    s = torch.sigmoid(2 * GELU_TANH_BETA * (v + GELU_TANH_KAPPA * v * v * v))
    dw = 2 * GELU_TANH_BETA * (1 + 3 * GELU_TANH_KAPPA * v * v)
    d2w = 12 * GELU_TANH_BETA * GELU_TANH_KAPPA * v
    return s * (1 - s) * (2 * dw + v * (1 - 2 * s) * dw * dw + v * d2w)


def _keep(bits: torch.Tensor, shape) -> torch.Tensor:
    """The bool keep mask of `shape` from its packed bits (bit i & 7 of byte i >> 3)."""
    shifts = torch.arange(8, dtype=torch.uint8, device=bits.device)
    flat = (bits.unsqueeze(-1) >> shifts) & 1
    return flat.reshape(-1)[: math.prod(shape)].reshape(shape).bool()


def first_order(backward, needs, grad_y, x, bias, bits, p, activation):
    """(grad_x, grad_bias) of the forward; backward: the backward op or its Function's apply."""
    grad_x = backward(grad_y, x, bias, bits, p, activation)
    return grad_x, None if bias is None else bias_gradient(grad_x)


def second_order(backward, needs, grad_grad_x, grad, x, bias, bits, p, activation):
    """The gradients of grad_x = keep ? act'(x + b) grad s : 0 in grad, x and the bias for an
    incoming grad_grad_x: keep ? act'(v) g s : 0 (the backward again) and keep ? act''(v) grad g s : 0."""
    grad_grad = backward(grad_grad_x, x, bias, bits, p, activation)
    compute = torch.float64 if x.dtype == torch.float64 else torch.float32
    v = x.to(compute) if bias is None else x.to(compute) + bias.to(compute)
    scale = 0.0 if p >= 1.0 else 1.0 / (1.0 - p)
    curvature = grad_grad_x.to(compute) * grad.to(compute) * (scale * _second_derivative(v, activation))
    grad_x = torch.where(_keep(bits, x.shape), curvature, 0).to(x.dtype)
    return grad_grad, grad_x, None if bias is None else bias_gradient(grad_x)


def _fake(x, bias, p, seed, offset, draw, activation):
    return torch.empty_like(x), bits_like(x)


# The backward's own gradient is not itself: the activation's second derivative enters it.
BIAS_ACT_DROPOUT = CustomOp("bias_act_dropout", bias_act_forward, fake=_fake, outputs=("y", "bits"),
                            backward=Backward("bias_act_dropout_backward", bias_act_backward, gradient=second_order),
                            differentiable=("x", "bias"), gradient=first_order)


# Opts out of the factory: a shard's kernels keep no mask, and its backward is not differentiable.
class ShardedBiasActDropoutFunction(torch.autograd.Function):
    """bias_act_dropout of a shard (runs: the kernels' [first, run_length, run_stride]): it keeps
    x, the bias and (seed, offset), no mask (sharded calls write none), and backward regenerates
    the mask over the same runs. Not twice differentiable: the second order needs the mask."""

    @staticmethod
    def forward(ctx, x, bias, p, seed, offset, draw, activation, runs):
        if draw:
            seed, offset = draw_seed(x.device), 0
        src = x.contiguous()
        y = torch.empty_like(src)
        backend.active().bias_act_dropout_forward_runs(
            activation, kernel_dtype(x, "input"), flat_view(src), _flat_bias(bias), flat_view(y), x.shape[-1], p,
            to_unsigned(seed), to_unsigned(offset), tuple(runs))
        ctx.p, ctx.seed, ctx.offset, ctx.activation, ctx.runs = p, seed, offset, activation, tuple(runs)
        ctx.save_for_backward(x, bias)
        return like_input(y, x)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_y):
        x, bias = ctx.saved_tensors
        grad = grad_y.contiguous()
        grad_x = torch.empty_like(grad)
        backend.active().bias_act_dropout_backward_runs(
            ctx.activation, kernel_dtype(grad, "grad"), flat_view(grad), flat_view(x.contiguous()), _flat_bias(bias),
            flat_view(grad_x), x.shape[-1], ctx.p, to_unsigned(ctx.seed), to_unsigned(ctx.offset), ctx.runs)
        grad_x = like_input(grad_x, grad_y)
        return grad_x, None if bias is None else bias_gradient(grad_x), None, None, None, None, None, None
