from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import fastdrop

try:
    import ml_dtypes

    BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:
    BFLOAT16 = None

ISAS = ("scalar", "avx2", "avx512")
# CI lists what must run there (e.g. "native,numba,bfloat16"): a missing one fails instead of skipping.
REQUIRED = set(filter(None, os.environ.get("FASTDROP_TEST_REQUIRE", "").split(",")))


def skip_unless_required(name: str, reason: str) -> list:
    return [] if name in REQUIRED else [pytest.mark.skip(reason=reason)]


def kernel_modules() -> list:
    """(name, module) for every kernel backend importable here; the others are skipped."""
    params = []
    for name, module in (("native", "fastdrop._native"), ("numba", "fastdrop._numba")):
        reason = None
        if name == "numba" and importlib.util.find_spec("numba") is None:
            reason = "numba is not installed"
        else:
            try:
                importlib.import_module(module)
            except ImportError as err:
                reason = f"{module} does not load: {err}"
        marks = skip_unless_required(name, reason) if reason else []
        params.append(pytest.param(name, id=name, marks=marks))
    return params


@pytest.fixture(params=kernel_modules(), scope="session")
def kernels(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module({"native": "fastdrop._native", "numba": "fastdrop._numba"}[request.param])


def float_dtypes() -> list:
    params = [pytest.param(np.dtype(d), id=d) for d in ("float16", "float32", "float64")]
    marks = [] if BFLOAT16 is not None else skip_unless_required("bfloat16", "ml_dtypes is not installed")
    params.append(pytest.param(BFLOAT16, id="bfloat16", marks=marks))
    return params


@pytest.fixture(params=float_dtypes(), scope="session")
def dtype(request: pytest.FixtureRequest) -> np.dtype:
    return request.param


def random_array(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Finite values of mixed sign and magnitude, including subnormals of 16-bit types."""
    values = np.asarray(rng.standard_normal(shape) * rng.choice([1e-6, 1e-2, 1.0, 1e3], size=shape))
    return values.astype(np.float32).astype(dtype) if dtype != np.float64 else values


def assert_same_bits(actual: np.ndarray, expected: np.ndarray) -> None:
    """NumPy arrays of one dtype and shape, equal bit for bit."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    raw = np.dtype(f"u{actual.dtype.itemsize}")
    np.testing.assert_array_equal(np.asarray(actual, order="C").view(raw), np.asarray(expected, order="C").view(raw))


def keep_tensor(shape: tuple[int, ...], noise: tuple[int, ...], p: float, seed: int, offset: int = 0) -> Any:
    """The reference keep mask of every element (the units' mask of noise, broadcast) as a tensor."""
    import torch

    import reference

    return torch.from_numpy(np.array(reference.broadcast_keep(shape, noise, p, seed, offset)))


@pytest.fixture
def native_isa() -> Iterator[ModuleType]:
    """Restores the native ISA after a test that forces one."""
    native = pytest.importorskip("fastdrop._native")
    before = native.cpu_isa()
    yield native
    native.set_cpu_isa(before)


def isas_and_thread_counts(native: ModuleType) -> Iterator[tuple[str, int]]:
    """Sets each ISA this CPU has with 1, 2 and 8 threads in turn, yielding (isa, threads): results
    must be the same on each (use with the native_isa and threads_restored fixtures)."""
    for isa in ISAS:
        if not native.cpu_isa_supported(isa):
            continue
        native.set_cpu_isa(isa)
        for threads in (1, 2, 8):
            fastdrop.set_num_threads(threads)
            yield isa, threads


@pytest.fixture
def threads_restored() -> Iterator[None]:
    before = fastdrop.get_num_threads()
    yield
    fastdrop.set_num_threads(0)
    assert fastdrop.get_num_threads() >= 1 and before >= 1


def import_or_skip(module: str, requirement: str) -> ModuleType:
    """Import module, or skip the test module; fail instead where CI requires it."""
    if requirement in REQUIRED:
        return importlib.import_module(module)
    return pytest.importorskip(module)


def saved_tensors(fn: Callable, *inputs: Any) -> list[tuple[tuple[int, ...], int]]:
    """(shape, bytes) of every tensor autograd saves for fn(*inputs)'s backward, apart from inputs."""
    import torch

    saved = []
    input_ptrs = {t.data_ptr() for t in inputs}

    def pack(t):
        if t.data_ptr() not in input_ptrs:
            saved.append((tuple(t.shape), t.numel() * t.element_size()))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*inputs)
    return saved


def assert_compiled_matches_eager(fn: Callable, x: Any) -> None:
    """torch.compile(fn, fullgraph=True) gives eager's result and gradient for x, fn drawing with
    an explicit seed."""
    import torch

    eager = fn(x)
    compiled = torch.compile(fn, fullgraph=True)(x)
    assert torch.equal(compiled, eager)
    (g_eager,) = torch.autograd.grad(eager.sum(), x)
    (g_compiled,) = torch.autograd.grad(compiled.sum(), x)
    assert torch.equal(g_compiled, g_eager)


def import_if_installed(module: str) -> ModuleType | None:
    """module, or None where it is not installed: for test modules that test several layers, whose
    tests needing it carry needs(requirement, module)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def needs(requirement: str, module: ModuleType | None) -> pytest.MarkDecorator:
    """Skips a test when its optional module is missing, or fails it where CI requires that module."""
    return pytest.mark.skipif(module is None and requirement not in REQUIRED, reason=f"{requirement} is not installed")
