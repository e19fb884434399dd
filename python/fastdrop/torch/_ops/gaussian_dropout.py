"""Gaussian dropout as custom ops (see .._custom_op).

fastdrop::gaussian_dropout returns (y, saved) with saved = (seed, offset) as two int64: backward
regenerates the noise from them, so no tensor of the input's size is kept. `runs` is [] or, for a
shard of a larger tensor, the kernels' [first, run_length, run_stride]. The op draws its seed
from torch's default generator itself when asked to (draw=True), so that a compiled graph draws
fresh noise on every call.
"""

from __future__ import annotations

import torch

from ..._common import backend
from .._bridge import draw_seed, elementwise, flat_view, kernel_dtype, like_input, to_unsigned
from .._custom_op import Backward, CustomOp


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
    if draw:
        seed, offset = draw_seed(x.device), 0
    # Written out, not through elementwise: on small tensors the call is mostly Python.
    src = x.contiguous()
    y = torch.empty_like(src)
    _apply("gaussian_forward", "input", src, y, p, seed, offset, runs)
    saved = _saved_like(x)
    saved[0], saved[1] = seed, offset
    return like_input(y, x), saved


def gaussian_no_grad(x, p, seed, offset, draw, runs, inplace):
    """Forward with nothing kept for backward, in place when asked."""
    if draw:
        seed, offset = draw_seed(x.device), 0
    return elementwise(lambda src, dst: _apply("gaussian_forward", "input", src, dst, p, seed, offset, runs), x,
                       inplace)


def gaussian_backward(grad: torch.Tensor, saved: torch.Tensor, p: float, runs: list[int]) -> torch.Tensor:
    """dx = grad * n, n regenerated from saved = (seed, offset)."""
    seed, offset = saved.tolist()
    src = grad.contiguous()
    dx = torch.empty_like(src)
    _apply("gaussian_backward", "grad", src, dx, p, seed, offset, runs)
    return like_input(dx, grad)


def _fake(x, p, seed, offset, draw, runs):
    return torch.empty_like(x), _saved_like(x)


GAUSSIAN_DROPOUT = CustomOp("gaussian_dropout", gaussian_forward, fake=_fake, outputs=("y", "saved"),
                            backward=Backward("gaussian_dropout_backward", gaussian_backward),
                            no_grad=gaussian_no_grad)
