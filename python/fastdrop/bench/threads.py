"""Thread counts of the benchmarked backends, set together so that comparisons are like for like."""

from __future__ import annotations

from .fastdrop_calls import KERNEL_MODULES
from .inputs import optional_import

_MODULES = {**KERNEL_MODULES, "torch": "torch"}


def _importable(backends):
    """(backend, module) for each backend with a thread setting whose module imports."""
    for backend in backends:
        if backend in _MODULES:
            module, _ = optional_import(_MODULES[backend])
            if module is not None:
                yield backend, module


def set_threads(threads: int, backends) -> None:
    """Use ``threads`` threads in every backend of ``backends`` that is installed."""
    for _, module in _importable(backends):
        module.set_num_threads(threads)


def threads_in_use(backends) -> dict[str, int]:
    return {backend: int(module.get_num_threads()) for backend, module in _importable(backends)}
