"""NumPy array helpers shared by the NumPy front-ends: dtype names for the kernels, inputs, outputs
and masks. Arrays of any layout are processed in the row-major order of their logical shape
(docs/design.md, Randomness).
"""

from __future__ import annotations

import numpy as np

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


def flat_raw(a: np.ndarray) -> np.ndarray:
    """A 1-D view of a C-contiguous array, with bfloat16 seen as its raw uint16 bits."""
    flat = a.reshape(-1)
    return flat.view(np.uint16) if a.dtype.name == "bfloat16" else flat


def check_out(out, like: np.ndarray) -> np.ndarray:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out: expected a NumPy array, got {type(out).__name__}")
    if out.dtype != like.dtype:
        raise TypeError(f"out: expected dtype {like.dtype}, got {out.dtype}")
    if out.shape != like.shape:
        raise ValueError(f"out: expected shape {like.shape}, got {out.shape}")
    if not out.flags.writeable:
        raise ValueError("out: must be writable")
    return out


def target(src: np.ndarray, out) -> np.ndarray:
    """Where the kernel writes: out itself when it is C-contiguous and either is src or does not
    overlap it; otherwise a fresh array (copied into out afterwards)."""
    if out is None:
        return np.empty(src.shape, src.dtype)
    if out.flags.c_contiguous:
        same = out.__array_interface__["data"][0] == src.__array_interface__["data"][0]
        if same or not np.may_share_memory(out, src):
            return out
    return np.empty(src.shape, src.dtype)


def finish(result: np.ndarray, out):
    if out is not None and result is not out:
        np.copyto(out, result)
        return out
    return result


def mask_bits_of(mask, grad: np.ndarray) -> np.ndarray:
    return mask_bits_for_units(mask, grad.shape, grad.size, "grad's shape")


def mask_bits_for_units(mask, shape, units: int, what: str = "the noise shape") -> np.ndarray:
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


def mask_from_bits(bits: np.ndarray, shape, mask_format: str) -> np.ndarray:
    """A mask as mask_format asks for it, from its packed bits: the bits themselves ('bits') or a
    bool array of shape ('bool')."""
    if mask_format == "bits":
        return bits
    count = int(np.prod(shape, dtype=np.int64))
    return np.unpackbits(bits, count=count, bitorder="little").astype(np.bool_).reshape(shape)


def is_torch_tensor(x) -> bool:
    # Checked by module name so that NumPy users never import torch.
    return type(x).__module__.startswith("torch") and hasattr(x, "requires_grad")
