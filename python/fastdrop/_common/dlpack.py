"""Arrays of other frameworks (JAX, CuPy, ...) through DLPack: fastdrop's NumPy and torch
front-ends take them without a copy where the framework allows one, and results go back to the
caller's framework the same way."""

from __future__ import annotations

import functools
import importlib

import numpy as np

# DLPack device types (dlpack.h, DLDeviceType).
_DLPACK_CPU = 1
_DLPACK_CUDA = 2


def is_foreign_array(x) -> bool:
    """Whether x is another framework's array: it speaks DLPack but is no NumPy array or torch tensor."""
    if isinstance(x, np.ndarray) or not hasattr(x, "__dlpack__"):
        return False
    return not type(x).__module__.startswith("torch")


def _framework(x) -> str:
    root = type(x).__module__.split(".")[0]
    return "jax" if root == "jaxlib" else root


def to_native(x, name: str):
    """x as a NumPy array (CPU arrays) or a torch tensor (device arrays), sharing its memory where
    DLPack can; bfloat16, which NumPy's DLPack import lacks, goes through the array protocol."""
    device_type = x.__dlpack_device__()[0]
    if device_type == _DLPACK_CPU:
        try:
            return np.from_dlpack(x)
        except (RuntimeError, BufferError, TypeError):
            return np.asarray(x)
    if device_type == _DLPACK_CUDA:
        try:
            import torch
        except ImportError:
            raise TypeError(f"{name}: a CUDA {_framework(x)} array needs torch installed (fastdrop's CUDA path)") from None
        return torch.from_dlpack(x)
    raise TypeError(f"{name}: DLPack device type {device_type} of this {_framework(x)} array is not supported "
                    "(CPU or CUDA)")


def to_framework(result, like):
    """result (a NumPy array or torch tensor) as an array of like's framework."""
    framework = _framework(like)
    module = importlib.import_module("jax.numpy" if framework == "jax" else framework)
    if isinstance(result, np.ndarray) and result.dtype.name == "bfloat16":
        return module.asarray(result)
    return module.from_dlpack(result)


def accepts_foreign_arrays(fn, array_args: int):
    """fn taking NumPy arrays or torch tensors as its first array_args arguments, extended to
    other frameworks' arrays: they are handed to fn natively and the results converted back."""

    def wrapper(*args, **kwargs):
        like = next((a for a in args[:array_args] if is_foreign_array(a)), None)
        if like is None:
            return fn(*args, **kwargs)
        if kwargs.get("out") is not None:
            raise TypeError(f"out: not supported for {_framework(like)} arrays (they may be immutable); use the result")
        converted = [to_native(a, f"argument {i}") if is_foreign_array(a) else a for i, a in enumerate(args)]
        result = fn(*converted, **kwargs)
        if isinstance(result, tuple):
            return tuple(to_framework(r, like) if r is not None else None for r in result)
        return to_framework(result, like)

    return functools.update_wrapper(wrapper, fn)
