"""DropBlock for torch (torchvision.ops.drop_block2d): a custom op (fake kernel, registered
autograd) that torch.compile(fullgraph=True) traces, the eager autograd.Function that runs the same
code without the custom-op dispatch cost, and the functional form.

fastdrop::drop_block2d returns (y, bits, scale): the keep bit of each element and the scale
numel / (eps + kept) as a float64 scalar. Backward keeps those two, n / 8 bytes and 8, and
applies dx = keep ? dy * scale : 0.
"""

from __future__ import annotations

import torch

from ..._common import backend
from ..._common.checks import check_p
from ..._rules.drop_block2d import batched_shape, check_block_fits, check_block_size, check_eps
from .._bridge import check_device, draw_seed, flat_view, kernel_dtype, op_seed, to_unsigned
from .dropout import _like_input


def _bits_like(x: torch.Tensor) -> torch.Tensor:
    return torch.empty((x.numel() + 7) // 8, dtype=torch.uint8, device=x.device)


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
    """The forward kernel call behind both the custom op and the eager autograd.Function."""
    if draw:
        seed, offset = draw_seed(x.device), 0
    src = x.contiguous()
    y = torch.empty_like(src)
    bits = _bits_like(x)
    scale = _scale_like(x).fill_(_kernel(src, y, bits, p, block_size, eps, seed, offset))
    return _like_input(y, x), bits, scale


def drop_block_no_grad(x: torch.Tensor, p: float, block_size: int, eps: float, seed: int, offset: int, draw: bool,
                       inplace: bool) -> torch.Tensor:
    """Forward with nothing kept for backward, in place when asked."""
    if draw:
        seed, offset = draw_seed(x.device), 0
    bits = _bits_like(x)
    if inplace and x.is_contiguous():
        _kernel(x, x, bits, p, block_size, eps, seed, offset)
        return x
    src = x.contiguous()
    y = torch.empty_like(src)
    _kernel(src, y, bits, p, block_size, eps, seed, offset)
    y = _like_input(y, x)
    return x.copy_(y) if inplace else y


def drop_block_backward(grad: torch.Tensor, bits: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """dx = keep ? grad * scale : 0, the forward's map on the gradient."""
    src = grad.contiguous()
    dx = torch.empty_like(src)
    backend.active().apply_mask_bits_scale(kernel_dtype(grad, "grad"), flat_view(src), flat_view(dx), scale.item(),
                                            bits.numpy())
    return _like_input(dx, grad)


@torch.library.custom_op("fastdrop::drop_block2d", mutates_args=(), tags=(torch.Tag.nondeterministic_seeded,))
def drop_block2d_op(x: torch.Tensor, p: float, block_size: int, eps: float, seed: int, offset: int, draw: bool
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return drop_block_forward(x, p, block_size, eps, seed, offset, draw)


@drop_block2d_op.register_fake
def _(x, p, block_size, eps, seed, offset, draw):
    return torch.empty_like(x), _bits_like(x), _scale_like(x)


@torch.library.custom_op("fastdrop::drop_block2d_backward", mutates_args=())
def drop_block2d_backward_op(grad: torch.Tensor, bits: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return drop_block_backward(grad, bits, scale)


@drop_block2d_backward_op.register_fake
def _(grad, bits, scale):
    return torch.empty_like(grad)


def _setup(ctx, inputs, output):
    ctx.save_for_backward(output[1], output[2])


def _grad(ctx, grad_y, _grad_bits, _grad_scale):
    bits, scale = ctx.saved_tensors
    return drop_block2d_backward_op(grad_y, bits, scale), None, None, None, None, None, None


torch.library.register_autograd("fastdrop::drop_block2d", _grad, setup_context=_setup)


def _setup_backward(ctx, inputs, output):
    _, bits, scale = inputs
    ctx.save_for_backward(bits, scale)


def _backward_grad(ctx, grad_dx):
    # The backward is linear in grad with the same mask and scale: its own gradient is itself.
    bits, scale = ctx.saved_tensors
    return drop_block2d_backward_op(grad_dx, bits, scale), None, None


torch.library.register_autograd("fastdrop::drop_block2d_backward", _backward_grad, setup_context=_setup_backward)


class DropBlockFunction(torch.autograd.Function):
    """The same forward and backward for eager mode, without the custom-op dispatch overhead."""

    @staticmethod
    def forward(ctx, x, p, block_size, eps, seed, offset, draw):
        y, bits, scale = drop_block_forward(x, p, block_size, eps, seed, offset, draw)
        ctx.save_for_backward(bits, scale)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        bits, scale = ctx.saved_tensors
        return DropBlockBackwardFunction.apply(grad_y, bits, scale), None, None, None, None, None, None


class DropBlockBackwardFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, grad, bits, scale):
        ctx.save_for_backward(bits, scale)
        return drop_block_backward(grad, bits, scale)

    @staticmethod
    def backward(ctx, grad_dx):
        bits, scale = ctx.saved_tensors
        return DropBlockBackwardFunction.apply(grad_dx, bits, scale), None, None


def drop_block2d(input: torch.Tensor, p: float, block_size: int, inplace: bool = False, eps: float = 1e-06,
                 training: bool = True, *, seed=None, offset=None, generator=None) -> torch.Tensor:
    """torchvision.ops.drop_block2d, fused: block seeds drawn on the grid of block positions, their
    block_size x block_size blocks zeroed, the rest scaled by numel / (eps + kept). input is
    (N, C, H, W) or unbatched (C, H, W); block_size is odd and at most H and W (torchvision would
    shrink a larger one). The mask depends only on (seed, offset) and the logical index; without
    seed=, the seed is drawn from `generator` or torch's default generator. Backward keeps one bit
    per element and the scale. CPU tensors only for now."""
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input: expected a torch.Tensor, got {type(input).__name__}")
    p = check_p(p)
    block_size = check_block_size(block_size)
    eps = check_eps(eps)
    kernel_dtype(input, "input")
    shape = batched_shape(input.shape, "input")
    check_device(input, "input", cuda=False)
    if not training or p == 0.0:
        return input
    check_block_fits(block_size, shape)
    seed_i, offset_i, draw = op_seed(seed, offset, generator, input.device)
    if torch.compiler.is_compiling():
        y, _, _ = drop_block2d_op(input, p, block_size, eps, seed_i, offset_i, draw)
    elif input.requires_grad and torch.is_grad_enabled():
        y = DropBlockFunction.apply(input, p, block_size, eps, seed_i, offset_i, draw)
    else:
        return drop_block_no_grad(input, p, block_size, eps, seed_i, offset_i, draw, inplace)
    # As torch's dropout: the input is overwritten and returned; autograd raises for leaves that
    # require grad and tracks the version of the rest.
    return input.copy_(y) if inplace else y
