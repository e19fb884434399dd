"""A plain copy of the same bytes: the memory-bandwidth roofline every case is measured against.

torch's copy_ is used when torch is installed (multi-threaded, like the kernels; on a CUDA case, a
device-to-device copy), else NumPy's copyto (one thread).
"""

from __future__ import annotations

import numpy as np

from . import devices
from .inputs import kernel_view, numpy_input, optional_import, torch_input


def implementation() -> str:
    torch, _ = optional_import("torch")
    return "torch.Tensor.copy_" if torch is not None else "numpy.copyto"


def unavailable(case) -> str | None:
    if case.device != "cpu":
        return devices.unavailable(case.device)
    torch, _ = optional_import("torch")
    if torch is None and case.dtype == "bfloat16":
        _, reason = optional_import("ml_dtypes")
        return reason
    return None


def copy(case):
    torch, _ = optional_import("torch")
    if torch is not None:
        x = torch_input(case.dtype, case.size, device=case.device)
        if case.mode == "out":
            y = torch.empty_like(x)
            return lambda: y.copy_(x)
        return x.clone
    x = kernel_view(numpy_input(case.dtype, case.size))
    if case.mode == "out":
        y = np.empty_like(x)
        return lambda: np.copyto(y, x)
    return x.copy
