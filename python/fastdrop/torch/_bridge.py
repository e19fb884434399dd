"""Tensors to kernel calls: zero-copy NumPy views of CPU tensors for the kernel modules, device
addresses and the current stream of CUDA tensors for the native core's CUDA kernels, logical
(row-major) order for any layout, and seeds drawn from torch's generators."""

from __future__ import annotations

import threading

import numpy as np
import torch

from .._common import backend
from .._common.generator import explicit_seed_offset

KERNEL_DTYPES = {
    torch.float16: "float16",
    torch.bfloat16: "bfloat16",
    torch.float32: "float32",
    torch.float64: "float64",
}
_U64 = 1 << 64


def kernel_dtype(t: torch.Tensor, name: str) -> str:
    dtype = KERNEL_DTYPES.get(t.dtype)
    if dtype is None:
        raise TypeError(
            f"{name}: expected a floating-point tensor (float16, bfloat16, float32 or float64), got {t.dtype}"
        )
    return dtype


def check_device(t: torch.Tensor, name: str, *, cuda: bool = True) -> None:
    """Raise unless fastdrop has kernels for t's device: the CPU always, CUDA when the native core
    was built with CUDA and finds a device (cuda=False: an operation with no CUDA kernel yet)."""
    if t.is_cpu:
        return
    device = t.device
    if device.type == "cuda":
        problem = _cuda_problem() if cuda else "this operation has no CUDA kernel yet"
        if problem is None:
            return
        raise RuntimeError(f"{name}: fastdrop has no kernels for device {device}: {problem}; "
                           f"move the tensor to the CPU")
    raise RuntimeError(
        f"{name}: fastdrop has no kernels for device {device} in this build "
        f"(CUDA built: {backend.backends()['cuda_built']}); move the tensor to the CPU"
    )


_cuda_problem_found: list[str | None] = []


@torch.compiler.assume_constant_result
def _cuda_problem() -> str | None:
    """Why CUDA tensors cannot run here, or None when they can. Fixed for the life of the process
    (the backend is chosen once, and the CUDA runtime counts devices once): worked out at the first
    call, and a constant to torch.compile, which cannot trace the native calls."""
    if not _cuda_problem_found:
        _cuda_problem_found.append(_find_cuda_problem())
    return _cuda_problem_found[0]


def _find_cuda_problem() -> str | None:
    if backend.active_name() != "native":
        return f"the CUDA kernels are in the native backend, not {backend.active_name()} (FASTDROP_BACKEND)"
    native = backend.active()
    if not native.cuda_built():
        return "this build has no CUDA kernels (CUDA built: False; build with nvcc on the PATH)"
    if native.cuda_device_count() == 0:
        return ("built with CUDA (CUDA built: True) but no CUDA device found "
                "(no GPU, or a driver older than the CUDA runtime fastdrop was built with)")
    return None


def flat_view(t: torch.Tensor) -> np.ndarray:
    """A 1-D NumPy view of a contiguous CPU tensor; 16-bit floats as raw uint16 where NumPy lacks them."""
    flat = t.detach().reshape(-1)
    if t.dtype == torch.bfloat16:
        return flat.view(torch.int16).numpy().view(np.uint16)
    return flat.numpy()


def forward(dtype: str, x: torch.Tensor, y: torch.Tensor, p: float, seed: int, offset: int,
            bits: torch.Tensor | None = None) -> None:
    """y = dropout(x) for contiguous tensors of one device (bits written when given). The native
    core takes the tensors' addresses directly: array conversions cost more than the kernel on
    small tensors. CUDA kernels run on the device's current torch stream."""
    if x.is_cuda:
        check_device(x, "input")
        with torch.cuda.device(x.device):
            backend.active().cuda_forward_raw(dtype, x.data_ptr(), y.data_ptr(), x.numel(), p, seed, offset,
                                               0 if bits is None else bits.data_ptr(),
                                               torch.cuda.current_stream().cuda_stream)
        return
    kernels = backend.active()
    if backend.active_name() == "native":
        kernels.forward_raw(dtype, x.data_ptr(), y.data_ptr(), x.numel(), p, seed, offset,
                            0 if bits is None else bits.data_ptr())
    else:
        kernels.forward(dtype, flat_view(x), flat_view(y), p, seed, offset, None if bits is None else bits.numpy())


def backward_bits(dtype: str, grad: torch.Tensor, dx: torch.Tensor, p: float, bits: torch.Tensor) -> None:
    if grad.is_cuda:
        check_device(grad, "grad")
        with torch.cuda.device(grad.device):
            backend.active().cuda_backward_bits_raw(dtype, grad.data_ptr(), dx.data_ptr(), grad.numel(), p,
                                                     bits.data_ptr(), torch.cuda.current_stream().cuda_stream)
        return
    kernels = backend.active()
    if backend.active_name() == "native":
        kernels.backward_bits_raw(dtype, grad.data_ptr(), dx.data_ptr(), grad.numel(), p, bits.data_ptr())
    else:
        kernels.backward_bits(dtype, flat_view(grad), flat_view(dx), p, bits.numpy())


def to_signed(value: int) -> int:
    """A u64 seed or offset as the int64 that torch op schemas carry."""
    return value - _U64 if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    return value % _U64


_draw_buffers = threading.local()


def draw_seed(device: torch.device, generator: torch.Generator | None = None) -> int:
    """A fresh 63-bit seed from torch's generator for the device: torch.manual_seed makes runs
    reproducible, and torch.utils.checkpoint's RNG stashing replays it."""
    # One reusable scalar per thread and device: allocating it costs as much as the draw.
    buffers = _draw_buffers.__dict__
    buffer = buffers.get(device)
    if buffer is None:
        buffer = buffers[device] = torch.empty((), dtype=torch.int64, device=device)
    return int(buffer.random_(generator=generator))


def resolve_seed(seed, offset, generator, device) -> tuple[int, int] | None:
    """Explicit (seed, offset) as u64, a draw from an explicit generator, or None: draw from
    torch's default generator when the kernel runs (inside the op, so compiled graphs draw anew)."""
    explicit = explicit_seed_offset(seed, offset, generator)
    if explicit is not None:
        return explicit
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
        return draw_seed(device, generator), 0
    return None


def op_seed(seed, offset, generator, device) -> tuple[int, int, bool]:
    """(seed, offset) as the int64 the op schemas carry, and whether the op draws its own."""
    resolved = resolve_seed(seed, offset, generator, device)
    if resolved is None:
        return 0, 0, True
    return to_signed(resolved[0]), to_signed(resolved[1]), False


def bits_like(x: torch.Tensor) -> torch.Tensor:
    """Room for one bit per element of x (the keep bits kernels write for backward)."""
    return torch.empty((x.numel() + 7) // 8, dtype=torch.uint8, device=x.device)


def like_input(result: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """result (contiguous, logical order) laid out in like's stride order, as torch's elementwise
    ops lay out their outputs: same strides for dense inputs (channels_last stays channels_last),
    the same dimension order for sliced ones."""
    if like.is_contiguous():
        return result
    order = sorted(range(like.dim()), key=lambda d: -like.stride(d))
    inverse = [order.index(d) for d in range(like.dim())]
    out = torch.empty([like.shape[d] for d in order], dtype=like.dtype, device=like.device).permute(inverse)
    return out.copy_(result)


def elementwise(kernel, x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """kernel(src, dst) over x's elements in logical order, the result laid out as x; in place
    when asked (then x, written directly when contiguous)."""
    if inplace and x.is_contiguous():
        kernel(x, x)
        return x
    src = x.contiguous()
    y = torch.empty_like(src)
    kernel(src, y)
    y = like_input(y, x)
    return x.copy_(y) if inplace else y
