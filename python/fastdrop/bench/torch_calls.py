"""Calls to PyTorch's dropout for the benchmark cases: the reference fastdrop is compared with.

PyTorch's CPU dropout draws a noise tensor of x's dtype (bernoulli, then divided by 1 - p) and
multiplies; autograd keeps that noise for backward, which is grad * noise.
"""

from __future__ import annotations

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
