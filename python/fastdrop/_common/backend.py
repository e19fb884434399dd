"""Which kernels run: the compiled core (``native``) or its Numba mirror (``numba``).

``FASTDROP_BACKEND=native|numba`` forces one; otherwise native is used when the compiled module
loads and Numba is the fallback. ``FASTDROP_CPU_ISA=scalar|avx2|avx512`` forces the native core's
ISA. The choice is made at the first call, so that ``import fastdrop`` stays cheap.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading

_ISAS = ("scalar", "avx2", "avx512")
# The randomness contract that every backend's kernels follow (docs/design.md, Randomness): v2
# decides a Bernoulli unit by a 16-bit lane. Benchmark results carry it, so that runs made under
# different contracts are told apart (bench compare).
CONTRACT = 2
_lock = threading.Lock()
_active = None


def _import_native():
    try:
        return importlib.import_module("fastdrop._native"), None
    except ImportError as err:
        return None, err


def _numba_installed() -> bool:
    return importlib.util.find_spec("numba") is not None


def _check_forced_isa(native) -> None:
    forced = os.environ.get("FASTDROP_CPU_ISA", "").strip()
    if not forced:
        return
    if forced not in _ISAS:
        raise ValueError(f"FASTDROP_CPU_ISA: expected one of {', '.join(_ISAS)}, got {forced!r}")
    if not native.cpu_isa_supported(forced):
        supported = [isa for isa in _ISAS if native.cpu_isa_supported(isa)]
        raise RuntimeError(
            f"FASTDROP_CPU_ISA={forced}: this CPU does not support it "
            f"(supported: {', '.join(supported)})"
        )


def _choose():
    requested = os.environ.get("FASTDROP_BACKEND", "").strip().lower()
    if requested not in ("", "native", "numba"):
        raise ValueError(f"FASTDROP_BACKEND: expected 'native' or 'numba', got {requested!r}")
    if requested != "numba":
        native, err = _import_native()
        if native is not None:
            _check_forced_isa(native)
            return "native", native
        if requested == "native":
            raise ImportError(f"FASTDROP_BACKEND=native but the compiled module failed to load: {err}")
    if not _numba_installed():
        raise ImportError(
            "fastdrop has no usable backend: the compiled module did not load and numba is not "
            "installed (pip install numba)"
        )
    return "numba", importlib.import_module("fastdrop._numba")


def active():
    """The kernel module in use (chosen at the first call)."""
    global _active
    if _active is None:
        with _lock:
            if _active is None:
                _active = _choose()
    return _active[1]


def active_name() -> str:
    active()
    return _active[0]


def backends() -> dict:
    """What is available and what is in use: backends, CPU ISAs, threads, CUDA, and the randomness
    contract the kernels follow."""
    native, err = _import_native()
    available = []
    if native is not None:
        available.append("native")
    if _numba_installed():
        available.append("numba")
    info = {
        "active": active_name(),
        "available": available,
        "threads": get_num_threads(),
        "cpu_isa": native.cpu_isa() if native is not None else None,
        "cpu_isas_supported": [i for i in _ISAS if native.cpu_isa_supported(i)] if native else [],
        "cuda_built": bool(native.cuda_built()) if native is not None else False,
        "cuda_devices": native.cuda_device_count() if native is not None else 0,
        "contract": CONTRACT,
    }
    if native is None:
        info["native_error"] = str(err)
    return info


def set_num_threads(threads: int) -> None:
    """Threads for the CPU kernels (0: the default, all cores). Results do not depend on it."""
    threads = int(threads)
    if threads < 0:
        raise ValueError(f"threads: expected a count >= 0, got {threads}")
    active().set_num_threads(threads)


def get_num_threads() -> int:
    return int(active().get_num_threads())


def set_cpu_isa(isa: str) -> None:
    """Force the native core's ISA (scalar, avx2, avx512); raises if the CPU lacks it."""
    if active_name() != "native":
        raise RuntimeError("set_cpu_isa: the native backend is not in use")
    active().set_cpu_isa(isa)


def cpu_isa_supported(isa: str) -> bool:
    native, _ = _import_native()
    return native is not None and bool(native.cpu_isa_supported(isa))
