"""Broadcast and alpha variants as custom ops (fake kernels, registered autograd) plus the eager
autograd.Function that runs the same code without the custom-op dispatch cost.

fastdrop::dropout_units draws keep bits for the units of a noise shape and applies them in one
pass over x; it returns (y, unit_bits), and backward keeps only unit_bits: one bit per unit (per
(sample, channel) for spatial dropout, per sample for stochastic depth). A shard (the ops' `shard`
argument: [] or [dim, start, *global_shape]) draws the bits of its own units of the logical
tensor's noise shape (see fastdrop._shard).
"""

from __future__ import annotations

import torch

from ..._common import backend
from ..._common.broadcast import memory_order, plan
from ..._common.shard import Shard, UnitLayout, draw_unit_bits, unit_layout
from .._bridge import draw_seed, flat_view, kernel_dtype, to_unsigned

# The kernel applied in backward for each forward kind.
GRAD_KIND = {"dropout": "dropout", "alpha": "alpha_grad"}


def layout_of(x_shape, noise_shape, shard: list[int]) -> UnitLayout:
    """The layout of the units of a call (see fastdrop._shard) from the ops' shard argument."""
    if not shard:
        return unit_layout(noise_shape)
    dim, start, *global_shape = shard
    return unit_layout(noise_shape, Shard(tuple(global_shape), dim, start), x_shape[dim])


def _unit_bits_like(x: torch.Tensor, noise_shape, shard: list[int]) -> torch.Tensor:
    return torch.empty(layout_of(tuple(x.shape), noise_shape, shard).bits_size, dtype=torch.uint8, device=x.device)


def apply_units(kind: str, x: torch.Tensor, p: float, layout: UnitLayout, bits: torch.Tensor) -> torch.Tensor:
    """kind(x, keep bit of each element's unit), read in memory order: dense tensors of any layout
    (channels_last included) are processed where they lie and y gets their strides."""
    order = memory_order(x.shape, x.stride())
    if order is None:
        x = x.contiguous()
        order = tuple(range(x.dim()))
    the_plan = plan(tuple(x.shape), layout.noise, order, layout.strides)
    y = torch.empty_like(x)
    backend.active().apply_mask_bits(
        kind, kernel_dtype(x, "input"), flat_view(x.permute(the_plan.order)), flat_view(y.permute(the_plan.order)),
        list(the_plan.shape), list(the_plan.unit_strides), p, bits.numpy())
    return y


def units_forward(x, p, seed, offset, draw, noise_shape, kind, shard):
    if draw:
        seed, offset = draw_seed(x.device), 0
    layout = layout_of(tuple(x.shape), noise_shape, shard)
    bits = torch.empty(layout.bits_size, dtype=torch.uint8, device=x.device)
    if kind == "alpha" and layout.runs is None and layout.noise == tuple(x.shape) and x.is_contiguous():
        # One unit per element: the fused kernel draws and applies in one pass, its bits in the
        # units' order.
        y = torch.empty_like(x)
        backend.active().alpha_forward(kernel_dtype(x, "input"), flat_view(x), flat_view(y), p, to_unsigned(seed),
                                        to_unsigned(offset), bits.numpy())
        return y, bits
    draw_unit_bits(backend.active(), layout, p, to_unsigned(seed), to_unsigned(offset), bits.numpy())
    return apply_units(kind, x, p, layout, bits), bits


def units_backward(grad, bits, p, noise_shape, kind, shard):
    return apply_units(GRAD_KIND[kind], grad, p, layout_of(tuple(grad.shape), noise_shape, shard), bits)


@torch.library.custom_op("fastdrop::dropout_units", mutates_args=(), tags=(torch.Tag.nondeterministic_seeded,))
def dropout_units_op(x: torch.Tensor, p: float, seed: int, offset: int, draw: bool, noise_shape: list[int],
                     kind: str, shard: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    return units_forward(x, p, seed, offset, draw, noise_shape, kind, shard)


@dropout_units_op.register_fake
def _(x, p, seed, offset, draw, noise_shape, kind, shard):
    return torch.empty_like(x), _unit_bits_like(x, noise_shape, shard)


@torch.library.custom_op("fastdrop::dropout_units_backward", mutates_args=())
def dropout_units_backward_op(grad: torch.Tensor, bits: torch.Tensor, p: float, noise_shape: list[int],
                              kind: str, shard: list[int]) -> torch.Tensor:
    return units_backward(grad, bits, p, noise_shape, kind, shard)


@dropout_units_backward_op.register_fake
def _(grad, bits, p, noise_shape, kind, shard):
    return torch.empty_like(grad)


def _setup_units(ctx, inputs, output):
    _, p, _, _, _, noise_shape, kind, shard = inputs
    ctx.p, ctx.noise_shape, ctx.kind, ctx.shard = p, noise_shape, kind, shard
    ctx.save_for_backward(output[1])


def _units_grad(ctx, grad_y, _grad_bits):
    (bits,) = ctx.saved_tensors
    grad = dropout_units_backward_op(grad_y, bits, ctx.p, ctx.noise_shape, ctx.kind, ctx.shard)
    return grad, None, None, None, None, None, None, None


torch.library.register_autograd("fastdrop::dropout_units", _units_grad, setup_context=_setup_units)


def _setup_units_backward(ctx, inputs, output):
    _, bits, p, noise_shape, kind, shard = inputs
    ctx.p, ctx.noise_shape, ctx.kind, ctx.shard = p, noise_shape, kind, shard
    ctx.save_for_backward(bits)


def _units_backward_grad(ctx, grad_dx):
    # The backward is linear in grad with the same mask: its own gradient is itself.
    (bits,) = ctx.saved_tensors
    grad = dropout_units_backward_op(grad_dx, bits, ctx.p, ctx.noise_shape, ctx.kind, ctx.shard)
    return grad, None, None, None, None, None


torch.library.register_autograd("fastdrop::dropout_units_backward", _units_backward_grad,
                                setup_context=_setup_units_backward)


class UnitsFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p, seed, offset, draw, noise_shape, kind, shard):
        y, bits = units_forward(x, p, seed, offset, draw, noise_shape, kind, shard)
        ctx.p, ctx.noise_shape, ctx.kind, ctx.shard = p, noise_shape, kind, shard
        ctx.save_for_backward(bits)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (bits,) = ctx.saved_tensors
        grad = UnitsBackwardFunction.apply(grad_y, bits, ctx.p, ctx.noise_shape, ctx.kind, ctx.shard)
        return grad, None, None, None, None, None, None, None


class UnitsBackwardFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, grad, bits, p, noise_shape, kind, shard):
        ctx.p, ctx.noise_shape, ctx.kind, ctx.shard = p, noise_shape, kind, shard
        ctx.save_for_backward(bits)
        return units_backward(grad, bits, p, noise_shape, kind, shard)

    @staticmethod
    def backward(ctx, grad_dx):
        (bits,) = ctx.saved_tensors
        grad = UnitsBackwardFunction.apply(grad_dx, bits, ctx.p, ctx.noise_shape, ctx.kind, ctx.shard)
        return grad, None, None, None, None, None
