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
from .._bridge import draw_seed, elementwise, flat_view, kernel_dtype, to_unsigned
from .._custom_op import Backward, CustomOp


def _saved_like(x: torch.Tensor) -> torch.Tensor:
    return torch.empty(2, dtype=torch.int64, device=x.device)


def _apply(kernel: str, name: str, x: torch.Tensor, p: float, seed: int, offset: int, runs: list[int],
           inplace: bool = False) -> torch.Tensor:
    dtype, seed, offset = kernel_dtype(x, name), to_unsigned(seed), to_unsigned(offset)
    run = getattr(backend.active(), kernel + "_runs" if runs else kernel)
    shard = (tuple(runs),) if runs else ()
    return elementwise(lambda src, dst: run(dtype, flat_view(src), flat_view(dst), p, seed, offset, *shard), x,
                       inplace)


def gaussian_forward(x: torch.Tensor, p: float, seed: int, offset: int, draw: bool, runs: list[int]
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    if draw:
        seed, offset = draw_seed(x.device), 0
    y = _apply("gaussian_forward", "input", x, p, seed, offset, runs)
    saved = _saved_like(x)
    saved[0], saved[1] = seed, offset
    return y, saved


def gaussian_no_grad(x, p, seed, offset, draw, runs, inplace):
    """Forward with nothing kept for backward, in place when asked."""
    if draw:
        seed, offset = draw_seed(x.device), 0
    return _apply("gaussian_forward", "input", x, p, seed, offset, runs, inplace)


def gaussian_backward(grad: torch.Tensor, saved: torch.Tensor, p: float, runs: list[int]) -> torch.Tensor:
    """dx = grad * n, n regenerated from saved = (seed, offset)."""
    seed, offset = saved.tolist()
    return _apply("gaussian_backward", "grad", grad, p, seed, offset, runs)


def _fake(x, p, seed, offset, draw, runs):
    return torch.empty_like(x), _saved_like(x)


GAUSSIAN_DROPOUT = CustomOp("gaussian_dropout", gaussian_forward, fake=_fake, outputs=("y", "saved"),
                            backward=Backward("gaussian_dropout_backward", gaussian_backward),
                            no_grad=gaussian_no_grad)
