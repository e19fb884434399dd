"""Alpha dropout on NumPy arrays (for SELU networks), with PyTorch's constants: one unit per
element, so its forward draws the keep bits and applies them in one fused pass; sharded calls,
and feature alpha dropout's units, go through the units family's two passes (apply_mask_bits)."""

from __future__ import annotations

import numpy as np

from .._common.arrays import finish, flat_raw
from .apply_mask_bits import keyword_doc, masked, masked_backward


def _fused_forward(kernels, dtype, x, p, seed, offset, bits, out) -> np.ndarray:
    """y = alpha_dropout(x) and the keep bits of its elements, drawn and applied in one pass."""
    src = np.asarray(x, order="C")
    y = out if out is not None and out.flags.c_contiguous and not np.may_share_memory(out, src) else None
    y = np.empty_like(src) if y is None else y
    kernels.alpha_forward(dtype, flat_raw(src), flat_raw(y), p, seed, offset, bits)
    return finish(y, out)


def alpha_dropout(x, p=0.5, **kwargs):
    return masked(x, p, "alpha", tuple, fused=_fused_forward, **kwargs)


def alpha_dropout_backward(grad, p=0.5, *, seed=None, offset=None, mask=None, out=None, noise_shape=None, shard=None):
    return masked_backward(grad, p, "alpha", noise_shape, seed=seed, offset=offset, mask=mask, out=out, shard=shard)


alpha_dropout.__doc__ = keyword_doc("Alpha dropout (for SELU networks) with PyTorch's constants.")
alpha_dropout_backward.__doc__ = "Gradient of alpha_dropout / feature_alpha_dropout (noise_shape for the latter)."
