"""What a benchmark ran on: CPU, GPUs, fastdrop's backends, ISA and randomness contract, library versions."""

from __future__ import annotations

import os
import platform

import numpy as np

import fastdrop

from .inputs import optional_import


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(module_name: str) -> str | None:
    module, _ = optional_import(module_name)
    return getattr(module, "__version__", None) if module is not None else None


def versions() -> dict[str, str | None]:
    """Versions of fastdrop and what it is compared with or runs on; None when not installed."""
    return {
        "fastdrop": fastdrop.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": _version("numba"),
        "torch": _version("torch"),
        "ml_dtypes": _version("ml_dtypes"),
        "cuda": _torch_cuda_version(),
    }


def _torch_cuda_version() -> str | None:
    torch, _ = optional_import("torch")
    return torch.version.cuda if torch is not None else None


def gpus() -> list[str]:
    """The names of the CUDA devices torch sees (none without torch)."""
    torch, _ = optional_import("torch")
    if torch is None or not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def fastdrop_backends() -> dict:
    """fastdrop.backends(), or the reason there is no usable backend."""
    try:
        return fastdrop.backends()
    except ImportError as err:
        return {"error": str(err)}


def machine_info() -> dict:
    return {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "gpus": gpus(),
        "platform": platform.platform(),
        "versions": versions(),
        "fastdrop": fastdrop_backends(),
    }
