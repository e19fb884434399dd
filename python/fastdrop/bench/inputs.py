"""Inputs of the benchmark cases, and the optional modules they need.

Values are uniform in [0, 1): finite and normal, so no case meets a slow path for subnormals or
NaNs, and the NumPy and torch sides see the same numbers.
"""

from __future__ import annotations

import functools
import importlib

import numpy as np

ITEMSIZE = {"float32": 4, "bfloat16": 2, "float16": 2, "float64": 8}


@functools.cache
def optional_import(name: str):
    """(module, None) when ``name`` imports, else (None, why not)."""
    try:
        return importlib.import_module(name), None
    except ImportError as err:
        return None, f"{name} is not importable ({err})"


def _uniform(size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(size, dtype=np.float32)


def numpy_input(dtype: str, size: int, seed: int = 0) -> np.ndarray:
    """A 1-D NumPy array of ``dtype`` as a user would pass it (bfloat16 is ml_dtypes')."""
    values = _uniform(size, seed)
    if dtype == "bfloat16":
        ml_dtypes, reason = optional_import("ml_dtypes")
        if ml_dtypes is None:
            raise RuntimeError(reason)
        return values.astype(ml_dtypes.bfloat16)
    return values.astype(dtype, copy=False)


def kernel_view(a: np.ndarray) -> np.ndarray:
    """The array as the kernel modules take it: bfloat16 as its raw uint16 bits."""
    return a.view(np.uint16) if a.dtype.name == "bfloat16" else a


def torch_input(dtype: str, size: int, seed: int = 0, device: str = "cpu"):
    """A 1-D torch tensor of ``dtype`` on ``device`` holding the same values as ``numpy_input``."""
    import torch

    return torch.from_numpy(_uniform(size, seed)).to(device=device, dtype=getattr(torch, dtype)).contiguous()
