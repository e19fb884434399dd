"""The units family on NumPy arrays (dropout with a noise shape, dropout1d/2d/3d, feature alpha
dropout, stochastic depth) over the shared entry point apply_mask_bits: keep bits drawn for the
units of a noise shape, then one pass over the data that applies them (docs/design.md, Variants)."""

from __future__ import annotations

import numpy as np

from .._common import backend
from .._common.arrays import as_input_array, check_out, finish, flat_raw, kernel_dtype, mask_bits_for_units
from .._common.broadcast import check_noise_shape, memory_order, plan
from .._common.checks import check_mask_format, check_p
from .._common.generator import resolve_seed_offset
from .._common.shard import check_shard, draw_unit_bits, layout_bits, unit_keep, unit_layout
from .._rules.apply_mask_bits import feature_noise_shape, spatial_noise_shape, stochastic_depth_noise_shape

# The kernel applied in backward for each forward kind.
GRAD_KIND = {"dropout": "dropout", "alpha": "alpha_grad"}


def _element_strides(a: np.ndarray):
    if any(s % a.itemsize for s in a.strides):
        return None
    return [s // a.itemsize for s in a.strides]


def apply_units(kind: str, x: np.ndarray, p: float, noise, bits: np.ndarray, out, noise_strides=None) -> np.ndarray:
    """y = kind(x, keep bit of each element's unit), where x lies: a dense array of any layout is
    read in memory order and y gets the same layout; other arrays are copied to C order first.
    noise_strides: the bit index step along each noise dimension when not row-major (a shard's)."""
    strides = _element_strides(x)
    order = memory_order(x.shape, strides) if strides is not None else None
    src = x if order is not None else np.asarray(x, order="C")
    the_plan = plan(x.shape, noise, order if order is not None else tuple(range(x.ndim)), noise_strides)
    y = np.empty_like(src)
    if out is not None and out.strides == src.strides and (out is src or not np.may_share_memory(out, src)):
        y = out
    backend.active().apply_mask_bits(kind, kernel_dtype(x.dtype, "x"), flat_raw(src.transpose(the_plan.order)),
                                      flat_raw(y.transpose(the_plan.order)), list(the_plan.shape),
                                      list(the_plan.unit_strides), p, bits)
    return finish(y, out)


def _unit_mask(bits: np.ndarray, layout, mask_format: str):
    """The mask of the units, as a bool array of the noise shape or its bits in row-major order."""
    keep = unit_keep(bits, layout)
    return np.packbits(keep.reshape(-1), bitorder="little") if mask_format == "bits" else keep


def units_layout(x: np.ndarray, noise_of, shard):
    """The layout of x's units: noise_of(shape) of x, or of the logical tensor x is a shard of."""
    if shard is None:
        return unit_layout(noise_of(x.shape))
    shard = check_shard(shard, x.shape)
    return unit_layout(noise_of(shard.global_shape), shard, x.shape[shard.dim])


def masked(x, p, kind: str, noise_of, *, training=True, seed=None, offset=None, generator=None, out=None,
           return_mask=False, mask_format="bool", shard=None, fused=None):
    """Forward of a broadcast variant: noise_of(shape) gives the noise shape of x (of the logical
    tensor when x is a shard of one). fused(kernels, dtype, x, p, seed, offset, bits, out), when
    given, is the op's own kernel for a call whose every element is its own unit: it draws the
    bits and applies them in one pass."""
    x = as_input_array(x, "x")
    dtype = kernel_dtype(x.dtype, "x")
    p = check_p(p)
    mask_format = check_mask_format(mask_format)
    layout = units_layout(x, noise_of, shard)
    noise = layout.noise
    if out is not None:
        check_out(out, x)
    if not training:
        y = finish(x, out) if out is not None else x
        return (y, _unit_mask(np.full(layout.bits_size, 255, np.uint8), layout, mask_format)) if return_mask else y
    seed, offset = resolve_seed_offset(seed, offset, generator)
    kernels = backend.active()
    bits = np.empty(layout.bits_size, np.uint8)
    if fused is not None and tuple(noise) == x.shape and layout.runs is None:
        y = fused(kernels, dtype, x, p, seed, offset, bits, out)
    else:
        draw_unit_bits(kernels, layout, p, seed, offset, bits)
        y = apply_units(kind, x, p, noise, bits, out, layout.strides)
    return (y, _unit_mask(bits, layout, mask_format)) if return_mask else y


def masked_backward(grad, p, kind: str, noise_shape, *, seed=None, offset=None, mask=None, out=None, shard=None):
    """Backward of a broadcast variant from (seed, offset) or the units' mask (bool of the noise
    shape, or packed bits, as the forward returned it)."""
    grad = as_input_array(grad, "grad")
    kernel_dtype(grad.dtype, "grad")
    p = check_p(p)
    if (seed is None) == (mask is None):
        raise ValueError("backward: pass exactly one of seed= (regenerate) or mask=")
    layout = units_layout(grad, lambda shape: check_noise_shape(shape if noise_shape is None else noise_shape, shape),
                          shard)
    if out is not None:
        check_out(out, grad)
    units = int(np.prod(layout.noise, dtype=np.int64))
    if mask is not None:
        bits = mask_bits_for_units(mask, layout.noise, units)
        if layout.runs is not None:
            bits = layout_bits(unit_keep(bits, unit_layout(layout.noise)), layout)
    else:
        seed, offset = resolve_seed_offset(seed, offset, None)
        bits = np.empty(layout.bits_size, np.uint8)
        draw_unit_bits(backend.active(), layout, p, seed, offset, bits)
    return apply_units(GRAD_KIND[kind], grad, p, layout.noise, bits, out, layout.strides)


def keyword_doc(what: str) -> str:
    return (f"{what}\n\n    Keywords as fastdrop.dropout; return_mask gives the mask of the units (one per "
            "noise-shape element); shard=fastdrop.Shard(global_shape, dim, start) for a slice of a larger tensor.")


def dropout1d(x, p=0.5, **kwargs):
    return masked(x, p, "dropout", lambda s: spatial_noise_shape(s, "dropout1d"), **kwargs)


def dropout2d(x, p=0.5, **kwargs):
    return masked(x, p, "dropout", lambda s: spatial_noise_shape(s, "dropout2d"), **kwargs)


def dropout3d(x, p=0.5, **kwargs):
    return masked(x, p, "dropout", lambda s: spatial_noise_shape(s, "dropout3d"), **kwargs)


def feature_alpha_dropout(x, p=0.5, **kwargs):
    return masked(x, p, "alpha", lambda s: feature_noise_shape(s, "feature_alpha_dropout"), **kwargs)


def stochastic_depth(x, p, mode="row", **kwargs):
    stochastic_depth_noise_shape((), mode)
    return masked(x, p, "dropout", lambda s: stochastic_depth_noise_shape(s, mode), **kwargs)


dropout1d.__doc__ = keyword_doc("Channel-wise dropout of (N, C, L) or unbatched (C, L) arrays.")
dropout2d.__doc__ = keyword_doc("Channel-wise dropout of (N, C, H, W) or unbatched (C, H, W) arrays.")
dropout3d.__doc__ = keyword_doc("Channel-wise dropout of (N, C, D, H, W) or unbatched (C, D, H, W) arrays.")
feature_alpha_dropout.__doc__ = keyword_doc("Alpha dropout with one unit per (sample, channel).")
stochastic_depth.__doc__ = keyword_doc(
    "torchvision's stochastic depth: drop whole samples (mode='row') or the whole batch ('batch').")
