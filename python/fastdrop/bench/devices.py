"""The devices cases run on: the CPU, or a CUDA GPU through torch.

CUDA work is queued: a timer must wait for it (``synchronizer``) before it reads the clock.
"""

from __future__ import annotations

import fastdrop

from .inputs import optional_import

DEVICES = ("cpu", "cuda")


def unavailable(device: str) -> str | None:
    """Why no case can run on ``device`` here, or None."""
    if device == "cpu":
        return None
    torch, reason = optional_import("torch")
    if torch is None:
        return f"CUDA cases run through torch: {reason}"
    if not torch.cuda.is_available():
        return f"torch {torch.__version__} finds no CUDA device (torch.cuda.is_available() is False)"
    return None


def fastdrop_unavailable(device: str) -> str | None:
    """Why fastdrop's own kernels cannot run on ``device`` here, or None."""
    if device == "cpu":
        return None
    found = fastdrop.backends()
    if found["active"] != "native":
        return f"fastdrop's CUDA kernels are in the native backend, not {found['active']}"
    if not found["cuda_built"]:
        return "this fastdrop build has no CUDA kernels (built without nvcc)"
    if found["cuda_devices"] == 0:
        return "fastdrop's CUDA runtime finds no device (driver older than the runtime it was built with?)"
    return None


def _nothing() -> None:
    return None


def synchronizer(device: str):
    """A callable that returns once the device has finished the work queued on it."""
    if device == "cuda":
        import torch

        return torch.cuda.synchronize
    return _nothing


def waited_for(fn, device: str):
    """fn, or on a device that queues work, a callable that calls fn and waits for its end."""
    if device == "cpu":
        return fn
    sync = synchronizer(device)

    def call_and_wait():
        fn()
        sync()

    return call_and_wait
