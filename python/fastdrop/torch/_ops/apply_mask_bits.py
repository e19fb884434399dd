"""Broadcast and alpha variants as custom ops (see .._custom_op).

fastdrop::dropout_units draws keep bits for the units of a noise shape and applies them in one
pass over x; it returns (y, unit_bits), and backward keeps only unit_bits: one bit per unit (per
(sample, channel) for spatial dropout, per sample for stochastic depth). A shard (the ops' `shard`
argument: [] or [dim, start, *global_shape]) draws the bits of its own units of the logical
tensor's noise shape (see fastdrop._common.shard).
"""

from __future__ import annotations

import torch

from ..._common import backend
from ..._common.broadcast import memory_order, plan
from ..._common.shard import Shard, UnitLayout, draw_unit_bits, unit_layout
from .._bridge import draw_seed, flat_view, kernel_dtype, to_unsigned
from .._custom_op import Backward, CustomOp

# The kernel applied in backward for each forward kind.
GRAD_KIND = {"dropout": "dropout", "alpha": "alpha_grad"}


def layout_of(x_shape, noise_shape, shard: list[int]) -> UnitLayout:
    """The layout of the units of a call (see fastdrop._common.shard) from the ops' shard argument."""
    if not shard:
        return unit_layout(noise_shape)
    dim, start, *global_shape = shard
    return unit_layout(noise_shape, Shard(tuple(global_shape), dim, start), x_shape[dim])


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


def units_forward(x: torch.Tensor, p: float, seed: int, offset: int, draw: bool, noise_shape: list[int], kind: str,
                  shard: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
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


def units_backward(grad: torch.Tensor, bits: torch.Tensor, p: float, noise_shape: list[int], kind: str,
                   shard: list[int]) -> torch.Tensor:
    return apply_units(GRAD_KIND[kind], grad, p, layout_of(tuple(grad.shape), noise_shape, shard), bits)


def _fake(x, p, seed, offset, draw, noise_shape, kind, shard):
    bits_size = layout_of(tuple(x.shape), noise_shape, shard).bits_size
    return torch.empty_like(x), torch.empty(bits_size, dtype=torch.uint8, device=x.device)


DROPOUT_UNITS = CustomOp("dropout_units", units_forward, fake=_fake, outputs=("y", "bits"),
                         backward=Backward("dropout_units_backward", units_backward))
