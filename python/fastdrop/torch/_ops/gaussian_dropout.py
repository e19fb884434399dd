"""Gaussian dropout for torch: a custom op (fake kernel, registered autograd) that
torch.compile(fullgraph=True) traces, the eager autograd.Function that runs the same code without
the custom-op dispatch cost, and the functional form.

fastdrop::gaussian_dropout returns (y, saved) with saved = (seed, offset) as two int64: backward
regenerates the noise from them, so no tensor of the input's size is kept. `runs` is [] or, for a
shard of a larger tensor, the kernels' [first, run_length, run_stride]. The op draws its seed
from torch's default generator itself when asked to (draw=True), so that a compiled graph draws
fresh noise on every call.
"""

from __future__ import annotations

import torch

from ..._common import backend
from ..._rules.gaussian_dropout import check_gaussian_p, gaussian_runs
from .._bridge import check_device, draw_seed, flat_view, kernel_dtype, op_seed, to_unsigned
from .dropout import _like_input


def _saved_like(x: torch.Tensor) -> torch.Tensor:
    return torch.empty(2, dtype=torch.int64, device=x.device)


def _apply(kernel: str, name: str, src: torch.Tensor, dst: torch.Tensor, p: float, seed: int, offset: int,
           runs: list[int]) -> None:
    args = (kernel_dtype(src, name), flat_view(src), flat_view(dst), p, to_unsigned(seed), to_unsigned(offset))
    if runs:
        getattr(backend.active(), kernel + "_runs")(*args, tuple(runs))
    else:
        getattr(backend.active(), kernel)(*args)


def gaussian_forward(x: torch.Tensor, p: float, seed: int, offset: int, draw: bool, runs: list[int]
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward kernel call behind both the custom op and the eager autograd.Function."""
    if draw:
        seed, offset = draw_seed(x.device), 0
    src = x.contiguous()
    y = torch.empty_like(src)
    _apply("gaussian_forward", "input", src, y, p, seed, offset, runs)
    saved = _saved_like(x)
    saved[0], saved[1] = seed, offset
    return _like_input(y, x), saved


def gaussian_no_grad(x: torch.Tensor, p: float, seed: int, offset: int, draw: bool, inplace: bool,
                     runs: list[int]) -> torch.Tensor:
    """Forward with nothing kept for backward, in place when asked."""
    if draw:
        seed, offset = draw_seed(x.device), 0
    if inplace and x.is_contiguous():
        _apply("gaussian_forward", "input", x, x, p, seed, offset, runs)
        return x
    src = x.contiguous()
    y = torch.empty_like(src)
    _apply("gaussian_forward", "input", src, y, p, seed, offset, runs)
    y = _like_input(y, x)
    return x.copy_(y) if inplace else y


def gaussian_backward(grad: torch.Tensor, saved: torch.Tensor, p: float, runs: list[int]) -> torch.Tensor:
    """dx = grad * n, n regenerated from saved = (seed, offset)."""
    seed, offset = saved.tolist()
    src = grad.contiguous()
    dx = torch.empty_like(src)
    _apply("gaussian_backward", "grad", src, dx, p, seed, offset, runs)
    return _like_input(dx, grad)


@torch.library.custom_op("fastdrop::gaussian_dropout", mutates_args=(), tags=(torch.Tag.nondeterministic_seeded,))
def gaussian_dropout_op(x: torch.Tensor, p: float, seed: int, offset: int, draw: bool, runs: list[int]
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    return gaussian_forward(x, p, seed, offset, draw, runs)


@gaussian_dropout_op.register_fake
def _(x, p, seed, offset, draw, runs):
    return torch.empty_like(x), _saved_like(x)


@torch.library.custom_op("fastdrop::gaussian_dropout_backward", mutates_args=())
def gaussian_dropout_backward_op(grad: torch.Tensor, saved: torch.Tensor, p: float, runs: list[int]) -> torch.Tensor:
    return gaussian_backward(grad, saved, p, runs)


@gaussian_dropout_backward_op.register_fake
def _(grad, saved, p, runs):
    return torch.empty_like(grad)


def _setup_gaussian(ctx, inputs, output):
    ctx.p, ctx.runs = inputs[1], inputs[5]
    ctx.save_for_backward(output[1])


def _gaussian_grad(ctx, grad_y, _grad_saved):
    (saved,) = ctx.saved_tensors
    return gaussian_dropout_backward_op(grad_y, saved, ctx.p, ctx.runs), None, None, None, None, None


torch.library.register_autograd("fastdrop::gaussian_dropout", _gaussian_grad, setup_context=_setup_gaussian)


def _setup_gaussian_backward(ctx, inputs, output):
    _, saved, ctx.p, ctx.runs = inputs
    ctx.save_for_backward(saved)


def _gaussian_backward_grad(ctx, grad_dx):
    # The backward is linear in grad with the same noise: its own gradient is itself.
    (saved,) = ctx.saved_tensors
    return gaussian_dropout_backward_op(grad_dx, saved, ctx.p, ctx.runs), None, None, None


torch.library.register_autograd("fastdrop::gaussian_dropout_backward", _gaussian_backward_grad,
                                setup_context=_setup_gaussian_backward)


class GaussianFunction(torch.autograd.Function):
    """The same forward and backward for eager mode, without the custom-op dispatch overhead."""

    @staticmethod
    def forward(ctx, x, p, seed, offset, draw, runs):
        y, saved = gaussian_forward(x, p, seed, offset, draw, runs)
        ctx.p, ctx.runs = p, runs
        ctx.save_for_backward(saved)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (saved,) = ctx.saved_tensors
        return GaussianBackwardFunction.apply(grad_y, saved, ctx.p, ctx.runs), None, None, None, None, None


class GaussianBackwardFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, grad, saved, p, runs):
        ctx.p, ctx.runs = p, runs
        ctx.save_for_backward(saved)
        return gaussian_backward(grad, saved, p, runs)

    @staticmethod
    def backward(ctx, grad_dx):
        (saved,) = ctx.saved_tensors
        return GaussianBackwardFunction.apply(grad_dx, saved, ctx.p, ctx.runs), None, None, None


def gaussian_dropout(input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
                     seed=None, offset=None, generator=None, shard=None) -> torch.Tensor:
    """Gaussian dropout (Keras's GaussianDropout(rate=p)): input * n with n ~ N(1, p / (1 - p)) per
    element, p in [0, 1). The noise depends only on (seed, offset) and the logical index; without
    seed=, the seed is drawn from `generator` or torch's default generator, so torch.manual_seed
    makes a run reproducible. Backward keeps only (seed, offset) and regenerates the noise. CPU
    tensors only for now. shard: fastdrop.Shard for a slice of a larger tensor (see fastdrop.dropout)."""
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input: expected a torch.Tensor, got {type(input).__name__}")
    p = check_gaussian_p(p)
    kernel_dtype(input, "input")
    check_device(input, "input", cuda=False)
    runs = gaussian_runs(shard, tuple(input.shape))
    runs = [] if runs is None else list(runs)
    if not training or p == 0.0:
        return input
    seed_i, offset_i, draw = op_seed(seed, offset, generator, input.device)
    if torch.compiler.is_compiling():
        y, _ = gaussian_dropout_op(input, p, seed_i, offset_i, draw, runs)
    elif input.requires_grad and torch.is_grad_enabled():
        y = GaussianFunction.apply(input, p, seed_i, offset_i, draw, runs)
    else:
        return gaussian_no_grad(input, p, seed_i, offset_i, draw, inplace, runs)
    # As torch's dropout: the input is overwritten and returned; autograd raises for leaves that
    # require grad and tracks the version of the rest.
    return input.copy_(y) if inplace else y
