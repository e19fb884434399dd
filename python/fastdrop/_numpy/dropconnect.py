"""DropConnect on NumPy arrays: dropout of a weight instead of an activation.

The units are the weight's elements (row-major index in its logical shape), one mask per call
shared by the whole batch, so the masked weight is exactly ``fastdrop.dropout(W, p, seed, offset)``.
The backward pass regenerates that mask from (seed, offset): nothing is stored between the calls.
"""

from __future__ import annotations

import numpy as np

from .._common.arrays import as_input_array, is_torch_tensor, kernel_dtype
from .._common.checks import check_p
from .._common.generator import as_u64, resolve_seed_offset
from . import dropout


def _float_array(a, name: str) -> np.ndarray:
    a = as_input_array(a, name)
    kernel_dtype(a.dtype, name)
    return a


def _linear_operands(x, W, b):
    """x (..., in), W (out, in) and b (out,) or None, checked to fit each other."""
    x, W = _float_array(x, "x"), _float_array(W, "W")
    if W.ndim != 2:
        raise ValueError(f"W: expected a 2-D weight of shape (out_features, in_features), got shape {W.shape}")
    if W.dtype != x.dtype:
        raise TypeError(f"W: expected the dtype of x ({x.dtype}), got {W.dtype}")
    if x.ndim < 1 or x.shape[-1] != W.shape[1]:
        raise ValueError(f"x: expected shape (..., {W.shape[1]}) (last dimension = W.shape[1]), got shape {x.shape}")
    if b is not None:
        b = _float_array(b, "b")
        if b.shape != (W.shape[0],):
            raise ValueError(f"b: expected shape ({W.shape[0]},) (W.shape[0]), got shape {b.shape}")
        if b.dtype != x.dtype:
            raise TypeError(f"b: expected the dtype of x ({x.dtype}), got {b.dtype}")
    return x, W, b


def dropconnect(W, p=0.5, *, training=True, seed=None, offset=None, generator=None, out=None, shard=None):
    """The DropConnect weight W * mask / (1 - p): each weight is zeroed with probability p.

    W: a weight of any shape (NumPy array, or a torch tensor: see
        fastdrop.torch.functional.dropconnect). Bit-identical to fastdrop.dropout(W, ...).
    training: when False, W is returned unchanged.
    seed, offset, generator, out, shard: as for fastdrop.dropout (shard: W is a slice of a larger
        weight, as tensor parallelism splits it).
    """
    W = _float_array(W, "W")
    return dropout.dropout(W, p, training=training, seed=seed, offset=offset, generator=generator, out=out,
                           shard=shard)


def dropconnect_linear(x, W, b=None, p=0.5, *, training=True, seed=None, offset=None, generator=None, shard=None):
    """y = x @ dropconnect(W).T + b, one weight mask for the whole batch.

    x: (..., in_features); W: (out_features, in_features); b: (out_features,) or None; all of one
        floating dtype. NumPy arrays, or torch tensors (differentiable; see
        fastdrop.torch.functional.dropconnect_linear).
    For dropconnect_linear_backward, pass seed= and offset= explicitly (or read them from the
    generator's get_state() before the call): the mask is regenerated from them.
    shard: fastdrop.Shard of W when it is a slice of a larger weight (tensor parallelism: split
        along dim 0 for a column-parallel layer, dim 1 for a row-parallel one); x and b are then
        the local operands.
    """
    x, W, b = _linear_operands(x, W, b)
    p = check_p(p)
    if training:
        seed, offset = resolve_seed_offset(seed, offset, generator)
        W = dropout.dropout(W, p, seed=seed, offset=offset, shard=shard)
    y = x @ W.T
    if b is not None:
        y += b
    return y


def dropconnect_linear_backward(grad_y, x, W, p, *, seed, offset, has_bias=True, shard=None):
    """Gradients (dx, dW, db) of dropconnect_linear(x, W, b, p, seed=seed, offset=offset).

    The masked weight is regenerated from (seed, offset), the same call's: dx = grad_y @ Wm,
    dW = dropout_backward(grad_y^T @ x), db = grad_y summed over the leading dimensions (None when
    has_bias is False). offset has no default: a forgotten one would give another mask silently.
    """
    if is_torch_tensor(grad_y):
        raise TypeError("grad_y: expected a NumPy array; torch tensors get their gradients from autograd "
                        "(fastdrop.torch.functional.dropconnect_linear)")
    x, W, _ = _linear_operands(x, W, None)
    grad_y = _float_array(grad_y, "grad_y")
    want = x.shape[:-1] + (W.shape[0],)
    if grad_y.shape != want:
        raise ValueError(f"grad_y: expected shape {want} (x.shape[:-1] + (W.shape[0],)), got shape {grad_y.shape}")
    if grad_y.dtype != x.dtype:
        raise TypeError(f"grad_y: expected the dtype of x ({x.dtype}), got {grad_y.dtype}")
    p = check_p(p)
    seed, offset = as_u64(seed, "seed"), as_u64(offset, "offset")
    Wm = dropout.dropout(W, p, seed=seed, offset=offset, shard=shard)
    dx = grad_y @ Wm
    g2 = grad_y.reshape(-1, W.shape[0])
    gW = g2.T @ x.reshape(-1, W.shape[1])
    # The mask and scale of the forward call, applied in place: gW is a fresh array.
    dW = dropout.dropout_backward(gW, p, seed=seed, offset=offset, out=gW, shard=shard)
    db = g2.sum(axis=0) if has_bias else None
    return dx, dW, db
