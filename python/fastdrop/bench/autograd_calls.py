"""Cases timed through torch autograd, as a training loop runs an op: its forward on inputs that
require grad (so it keeps what backward needs), or a training step, forward then backward.

The bytes are measured, not written down per op: one call runs under saved_tensors_hooks, which
see every tensor autograd keeps for backward. A forward reads its inputs and writes its output and
what it keeps; a backward reads the gradient and what was kept (inputs kept by reference included)
and writes the gradients. Intermediates a composition of several torch ops writes and reads back
(x + bias before the dropout, the noise before it is scaled) are not counted: both sides of a
comparison are charged the same bytes for the same op, apart from what each keeps.
"""

from __future__ import annotations

import math

from . import devices
from .inputs import optional_import, torch_input
from .workload import Workload


def unavailable(case, shapes, fastdrop_side: bool) -> str | None:
    """Why this case cannot run here, or None. ``shapes``: size -> the inputs' shapes."""
    _, reason = optional_import("torch")
    if reason is None:
        reason = devices.unavailable(case.device)
    if reason is not None:
        return reason
    try:
        shapes(case.size)
    except ValueError as err:
        return str(err)
    if fastdrop_side:
        _, reason = optional_import("fastdrop._native")
        if reason is not None:
            return reason
        import fastdrop

        active = fastdrop.backends()["active"]
        if active != "native":
            return f"fastdrop.torch runs the active backend, {active}, not native (FASTDROP_BACKEND)"
        return devices.fastdrop_unavailable(case.device)
    return None


def _storage_bytes(tensors, excluded=()) -> int:
    """Bytes of the distinct storages behind ``tensors``, those behind ``excluded`` left out."""
    seen = {t.untyped_storage().data_ptr() for t in excluded}
    total = 0
    for t in tensors:
        storage = t.untyped_storage()
        if storage.data_ptr() not in seen:
            seen.add(storage.data_ptr())
            total += storage.nbytes()
    return total


def _forward_keeping(call, inputs: dict):
    """call(**inputs), and the tensors autograd kept for its backward."""
    import torch

    kept = []

    def pack(t):
        kept.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        output = call(**inputs)
    return output, kept


def build(case, call, shapes) -> Workload:
    """The workload of ``call`` (the inputs by name -> the output) on inputs of ``shapes(size)``."""
    import torch

    inputs = {
        name: torch_input(case.dtype, math.prod(shape), seed, case.device).reshape(shape).requires_grad_()
        for seed, (name, shape) in enumerate(shapes(case.size).items())
    }
    leaves = list(inputs.values())
    output, kept = _forward_keeping(call, inputs)
    forward_bytes = _storage_bytes(leaves) + _storage_bytes([output, *kept], excluded=leaves)
    kept_bytes = _storage_bytes(kept, excluded=leaves)
    if case.direction == "forward":
        return Workload(lambda: call(**inputs), forward_bytes, kept_bytes)

    grad = torch_input(case.dtype, output.numel(), len(inputs), case.device).reshape(output.shape)
    grads = torch.autograd.grad(output, leaves, grad)
    backward_bytes = _storage_bytes([grad, *kept]) + _storage_bytes(grads, excluded=[grad])
    del output, kept, grads

    def training_step():
        # autograd.grad, not backward(): accumulating into .grad would add a pass per input.
        return torch.autograd.grad(call(**inputs), leaves, grad)

    return Workload(training_step, forward_bytes + backward_bytes, kept_bytes)
