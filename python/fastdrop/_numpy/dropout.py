"""Dropout on NumPy arrays.

Arrays of any layout are processed in the row-major order of their logical shape (the randomness
contract of docs/design.md): a transposed or strided view gets the mask of its shape, not of its memory.
"""

from __future__ import annotations

import numpy as np

from .._common import backend
from .._common.arrays import as_input_array, check_out, finish, flat_raw, kernel_dtype, mask_bits_of, target
from .._common.broadcast import check_noise_shape
from .._common.checks import check_mask_format, check_p
from .._common.generator import resolve_seed_offset
from .._common.shard import runs_of
from .apply_mask_bits import masked, masked_backward


def dropout(x, p=0.5, *, training=True, seed=None, offset=None, generator=None, out=None,
            return_mask=False, mask_format="bool", noise_shape=None, shard=None):
    """Inverted dropout of a NumPy array; see fastdrop.dropout."""
    if noise_shape is not None or (shard is not None and return_mask):
        noise_of = tuple if noise_shape is None else lambda shape: check_noise_shape(noise_shape, shape)
        return masked(x, p, "dropout", noise_of, training=training, seed=seed, offset=offset, generator=generator,
                      out=out, return_mask=return_mask, mask_format=mask_format, shard=shard)
    x = as_input_array(x, "x")
    dtype = kernel_dtype(x.dtype, "x")
    p = check_p(p)
    mask_format = check_mask_format(mask_format)
    runs = runs_of(shard, x.shape)
    if out is not None:
        check_out(out, x)
    if not training:
        y = finish(x, out) if out is not None else x
        if not return_mask:
            return y
        keep_all = np.ones(x.shape, np.bool_)
        return y, keep_all if mask_format == "bool" else np.packbits(keep_all.reshape(-1), bitorder="little")
    seed, offset = resolve_seed_offset(seed, offset, generator)
    src = np.asarray(x, order="C")
    y = target(src, out)
    bits = bytes_ = None
    if return_mask and mask_format == "bits":
        bits = np.empty((src.size + 7) // 8, np.uint8)
    elif return_mask:
        bytes_ = np.empty(src.shape, np.bool_)
    if runs is None:
        backend.active().forward(dtype, flat_raw(src), flat_raw(y), p, seed, offset,
                                  bits, None if bytes_ is None else bytes_.reshape(-1))
    else:
        backend.active().forward_runs(dtype, flat_raw(src), flat_raw(y), p, seed, offset, runs)
    y = finish(y, out)
    if not return_mask:
        return y
    return y, bits if bits is not None else bytes_


def dropout_backward(grad, p=0.5, *, seed=None, offset=None, mask=None, out=None, noise_shape=None, shard=None):
    """Gradient of dropout: from the (seed, offset) of the forward call (nothing stored), or from
    its mask (bool of grad's shape, or packed bits as dropout(..., mask_format='bits') returns).
    With noise_shape, the mask is that of the units (bool of the noise shape, or their bits).
    shard: as the forward's, for a slice of a larger tensor."""
    if noise_shape is not None:
        return masked_backward(grad, p, "dropout", noise_shape, seed=seed, offset=offset, mask=mask, out=out,
                               shard=shard)
    grad = as_input_array(grad, "grad")
    dtype = kernel_dtype(grad.dtype, "grad")
    p = check_p(p)
    if (seed is None) == (mask is None):
        raise ValueError("dropout_backward: pass exactly one of seed= (regenerate) or mask=")
    runs = runs_of(shard, grad.shape)
    if out is not None:
        check_out(out, grad)
    bits = None
    if mask is not None:
        bits = mask_bits_of(mask, grad)
    else:
        seed, offset = resolve_seed_offset(seed, offset, None)
    src = np.asarray(grad, order="C")
    dx = target(src, out)
    kernels = backend.active()
    if bits is None and runs is not None:
        kernels.forward_runs(dtype, flat_raw(src), flat_raw(dx), p, seed, offset, runs)
    elif bits is None:
        kernels.forward(dtype, flat_raw(src), flat_raw(dx), p, seed, offset)
    else:
        kernels.backward_bits(dtype, flat_raw(src), flat_raw(dx), p, bits)
    return finish(dx, out)


