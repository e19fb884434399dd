"""Calls to PyTorch's dropout for the benchmark cases: the reference fastdrop is compared with.

PyTorch's CPU dropout draws a noise tensor of x's dtype (bernoulli, then divided by 1 - p) and
multiplies; autograd keeps that noise for backward, which is grad * noise.
"""

from __future__ import annotations

import math

from .inputs import optional_import, torch_input


def unavailable(case) -> str | None:
    _, reason = optional_import("torch")
    return reason


def dropout_forward(case, p: float):
    import torch.nn.functional as F

    x = torch_input(case.dtype, case.size)
    if case.mode == "out":
        # F.dropout has no out=; in place is its only form that allocates no output tensor.
        return lambda: F.dropout(x, p, training=True, inplace=True)
    return lambda: F.dropout(x, p, training=True)


def dropout_backward(case, p: float):
    """Only the backward is timed: the forward runs once here, with autograd recording it."""
    import torch
    import torch.nn.functional as F

    x = torch_input(case.dtype, case.size).requires_grad_()
    y = F.dropout(x, p, training=True)
    grad = torch_input(case.dtype, case.size, seed=1)
    if case.mode == "out":
        # Autograd's backward allocates its result; into a preallocated tensor the same product is
        # torch.mul(grad, noise, out=), with the noise tensor autograd saved.
        noise = y.grad_fn._saved_other
        dx = torch.empty_like(grad)
        return lambda: torch.mul(grad, noise, out=dx)
    return lambda: torch.autograd.grad(y, x, grad, retain_graph=True)


# The PyTorch a user writes for the ops torch has no function for (see cases.AUTOGRAD_OPS).

def stochastic_depth(x, p: float):
    """torchvision.ops.stochastic_depth(x, p, "row"), written in torch ops as torchvision does."""
    import torch

    survival_rate = 1.0 - p
    noise = torch.empty([x.shape[0]] + [1] * (x.ndim - 1), dtype=x.dtype, device=x.device)
    noise.bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return x * noise


def drop_block2d(x, p: float, block_size: int, eps: float = 1e-6):
    """torchvision.ops.drop_block2d(x, p, block_size), written in torch ops as torchvision does."""
    import torch
    import torch.nn.functional as F

    n, c, h, w = x.size()
    gamma = (p * h * w) / ((block_size ** 2) * ((h - block_size + 1) * (w - block_size + 1)))
    noise = torch.empty((n, c, h - block_size + 1, w - block_size + 1), dtype=x.dtype, device=x.device)
    noise.bernoulli_(gamma)
    noise = F.pad(noise, [block_size // 2] * 4, value=0)
    noise = F.max_pool2d(noise, stride=(1, 1), kernel_size=(block_size, block_size), padding=block_size // 2)
    noise = 1 - noise
    normalize_scale = noise.numel() / (eps + noise.sum())
    return x * noise * normalize_scale


def gaussian_dropout(x, p: float):
    """Gaussian dropout (Keras's GaussianDropout(p)): x * n with n ~ N(1, p / (1 - p))."""
    import torch

    return x * torch.randn_like(x).mul_(math.sqrt(p / (1 - p))).add_(1)


def locked_dropout(x, p: float):
    """AWD-LSTM's LockedDropout on (T, B, H): one mask per sequence, shared over the time steps."""
    mask = x.new_empty(1, x.shape[1], x.shape[2]).bernoulli_(1 - p).div_(1 - p)
    return x * mask
