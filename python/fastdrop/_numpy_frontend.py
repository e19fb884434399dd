"""Dropout on NumPy arrays.

Arrays of any layout are processed in the row-major order of their logical shape (the randomness
contract of DESIGN.md): a transposed or strided view gets the mask of its shape, not of its memory.
"""

from __future__ import annotations

import numpy as np

from . import _backend
from ._broadcast import check_noise_shape
from ._checks import check_mask_format, check_p
from ._generator import resolve_seed_offset
from ._shard import check_shard, element_runs

_KERNEL_DTYPES = {"float16": "float16", "float32": "float32", "float64": "float64", "bfloat16": "bfloat16"}


def kernel_dtype(dtype: np.dtype, name: str) -> str:
    """The kernel's dtype name for a NumPy dtype (bfloat16 comes from ml_dtypes)."""
    kernel = _KERNEL_DTYPES.get(dtype.name)
    if kernel is None or dtype.kind not in "fV":
        raise TypeError(
            f"{name}: expected a floating-point array (float16, bfloat16, float32 or float64), "
            f"got dtype {dtype}"
        )
    return kernel


def as_input_array(x, name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        if np.isscalar(x) or isinstance(x, (list, tuple)):
            x = np.asarray(x)
        else:
            raise TypeError(f"{name}: expected a NumPy array or a torch tensor, got {type(x).__name__}")
    return x


def _flat_raw(a: np.ndarray) -> np.ndarray:
    """A 1-D view of a C-contiguous array, with bfloat16 seen as its raw uint16 bits."""
    flat = a.reshape(-1)
    return flat.view(np.uint16) if a.dtype.name == "bfloat16" else flat


def _check_out(out, like: np.ndarray) -> np.ndarray:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out: expected a NumPy array, got {type(out).__name__}")
    if out.dtype != like.dtype:
        raise TypeError(f"out: expected dtype {like.dtype}, got {out.dtype}")
    if out.shape != like.shape:
        raise ValueError(f"out: expected shape {like.shape}, got {out.shape}")
    if not out.flags.writeable:
        raise ValueError("out: must be writable")
    return out


def _target(src: np.ndarray, out) -> np.ndarray:
    """Where the kernel writes: out itself when it is C-contiguous and either is src or does not
    overlap it; otherwise a fresh array (copied into out afterwards)."""
    if out is None:
        return np.empty(src.shape, src.dtype)
    if out.flags.c_contiguous:
        same = out.__array_interface__["data"][0] == src.__array_interface__["data"][0]
        if same or not np.may_share_memory(out, src):
            return out
    return np.empty(src.shape, src.dtype)


def _finish(result: np.ndarray, out):
    if out is not None and result is not out:
        np.copyto(out, result)
        return out
    return result


def dropout(x, p=0.5, *, training=True, seed=None, offset=None, generator=None, out=None,
            return_mask=False, mask_format="bool", noise_shape=None, shard=None):
    """Inverted dropout of a NumPy array; see fastdrop.dropout."""
    if noise_shape is not None or (shard is not None and return_mask):
        from ._numpy_variants import masked

        noise_of = tuple if noise_shape is None else lambda shape: check_noise_shape(noise_shape, shape)
        return masked(x, p, "dropout", noise_of, training=training, seed=seed, offset=offset, generator=generator,
                      out=out, return_mask=return_mask, mask_format=mask_format, shard=shard)
    x = as_input_array(x, "x")
    dtype = kernel_dtype(x.dtype, "x")
    p = check_p(p)
    mask_format = check_mask_format(mask_format)
    runs = _runs_of(shard, x.shape)
    if out is not None:
        _check_out(out, x)
    if not training:
        y = _finish(x, out) if out is not None else x
        if not return_mask:
            return y
        keep_all = np.ones(x.shape, np.bool_)
        return y, keep_all if mask_format == "bool" else np.packbits(keep_all.reshape(-1), bitorder="little")
    seed, offset = resolve_seed_offset(seed, offset, generator)
    src = np.asarray(x, order="C")
    y = _target(src, out)
    bits = bytes_ = None
    if return_mask and mask_format == "bits":
        bits = np.empty((src.size + 7) // 8, np.uint8)
    elif return_mask:
        bytes_ = np.empty(src.shape, np.bool_)
    if runs is None:
        _backend.active().forward(dtype, _flat_raw(src), _flat_raw(y), p, seed, offset,
                                  bits, None if bytes_ is None else bytes_.reshape(-1))
    else:
        _backend.active().forward_runs(dtype, _flat_raw(src), _flat_raw(y), p, seed, offset, runs)
    y = _finish(y, out)
    if not return_mask:
        return y
    return y, bits if bits is not None else bytes_


def _runs_of(shard, shape, return_mask=False):
    """The kernels' runs for a shard whose units are its logical tensor's elements (None: unsharded).
    return_mask: whether the caller asked for a mask, which the fused ops' sharded calls do not keep."""
    if shard is None:
        return None
    if return_mask:
        raise ValueError("return_mask: sharded calls keep no mask; pass seed= and shard= to the backward")
    shard = check_shard(shard, shape)
    return element_runs(shard, shape[shard.dim])


def dropout_backward(grad, p=0.5, *, seed=None, offset=None, mask=None, out=None, noise_shape=None, shard=None):
    """Gradient of dropout: from the (seed, offset) of the forward call (nothing stored), or from
    its mask (bool of grad's shape, or packed bits as dropout(..., mask_format='bits') returns).
    With noise_shape, the mask is that of the units (bool of the noise shape, or their bits).
    shard: as the forward's, for a slice of a larger tensor."""
    if noise_shape is not None:
        from ._numpy_variants import masked_backward

        return masked_backward(grad, p, "dropout", noise_shape, seed=seed, offset=offset, mask=mask, out=out,
                               shard=shard)
    grad = as_input_array(grad, "grad")
    dtype = kernel_dtype(grad.dtype, "grad")
    p = check_p(p)
    if (seed is None) == (mask is None):
        raise ValueError("dropout_backward: pass exactly one of seed= (regenerate) or mask=")
    runs = _runs_of(shard, grad.shape)
    if out is not None:
        _check_out(out, grad)
    bits = None
    if mask is not None:
        bits = _mask_bits(mask, grad)
    else:
        seed, offset = resolve_seed_offset(seed, offset, None)
    src = np.asarray(grad, order="C")
    dx = _target(src, out)
    kernels = _backend.active()
    if bits is None and runs is not None:
        kernels.forward_runs(dtype, _flat_raw(src), _flat_raw(dx), p, seed, offset, runs)
    elif bits is None:
        kernels.forward(dtype, _flat_raw(src), _flat_raw(dx), p, seed, offset)
    else:
        kernels.backward_bits(dtype, _flat_raw(src), _flat_raw(dx), p, bits)
    return _finish(dx, out)


def _mask_bits(mask, grad: np.ndarray) -> np.ndarray:
    return _mask_bits_for_units(mask, grad.shape, grad.size, "grad's shape")


def _mask_bits_for_units(mask, shape, units: int, what: str = "the noise shape") -> np.ndarray:
    """Packed keep bits from a bool mask of `shape` or from packed bits of `units` units."""
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"mask: expected a NumPy array, got {type(mask).__name__}")
    if mask.dtype == np.bool_:
        if mask.shape != tuple(shape):
            raise ValueError(f"mask: a bool mask must have {what} {tuple(shape)}, got {mask.shape}")
        return np.packbits(np.asarray(mask, order="C").reshape(-1), bitorder="little")
    if mask.dtype == np.uint8:
        want = (units + 7) // 8
        if mask.ndim != 1 or mask.size != want:
            raise ValueError(f"mask: packed bits for {units} elements must be 1-D of {want} bytes, "
                             f"got shape {mask.shape}")
        return np.asarray(mask, order="C")
    raise TypeError(f"mask: expected a bool mask or uint8 packed bits, got dtype {mask.dtype}")
