"""The one list of benchmark cases, shared by ``fastdrop bench`` and the pytest-benchmark suite.

A case is (op, backend, device, dtype, size, direction, mode, mask). ``ENTRIES`` says what to run
for each (op, backend, device, direction, mask), in which modes, and at which dtypes and sizes by
default; crossing the entries with dtypes, sizes and modes gives the cases.

Standard dropout is timed at the kernel (forward, backward; into a new or a preallocated output).
Every other op is one ``AutogradOp`` in ``AUTOGRAD_OPS``: fastdrop's torch call against the PyTorch
a user writes for it today, timed through autograd as a forward and as a training step. Adding an
op is adding one there: its input shapes (``shapes.py``), the two calls, and the masks they keep.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from . import autograd_calls, copy_calls, fastdrop_calls, shapes, torch_calls
from .inputs import ITEMSIZE
from .workload import Workload

BACKENDS = ("native", "numba", "torch", "copy")
DTYPES = ("float32", "bfloat16", "float16", "float64")
# forward and backward time one kernel pass; train a training step: forward and backward.
DIRECTIONS = ("forward", "backward", "train")
MODES = ("alloc", "out")
DROPOUT_P = 0.1
# The copy roofline belongs to no op and no direction.
NONE = "-"

_K, _M = 1 << 10, 1 << 20
_SIZE_SUFFIXES = {"K": _K, "M": _M, "G": 1 << 30}


class Defaults(NamedTuple):
    """The dtypes and sizes an entry runs at when none are asked for."""
    sizes: tuple[int, ...]
    quick_sizes: tuple[int, ...]
    dtypes: tuple[str, ...]


# Standard dropout sweeps sizes and dtypes; the other ops run at one size that dwarfs the caches,
# in float32: all of them at every size would take most of an hour on two cores.
SWEEP = Defaults((64 * _K, _M, 16 * _M), (64 * _K, _M), DTYPES)
ONE_SIZE = Defaults((16 * _M,), (_M,), ("float32",))
# The mask alone (no data): what generating the random bits costs, in units per second. Its
# dtype names no array and is float32 by convention.
MASK_ONLY = Defaults(SWEEP.sizes, SWEEP.quick_sizes, ("float32",))
# A GPU's bandwidth needs larger arrays before launch costs stop showing.
CUDA_SWEEP = Defaults((_M, 16 * _M, 128 * _M), (_M, 16 * _M), ("float32", "bfloat16"))


def parse_size(text: str) -> int:
    """'64K' -> 65536, '16M' -> 16777216, '1000' -> 1000 (binary K, M, G)."""
    text = text.strip().upper()
    scale = _SIZE_SUFFIXES.get(text[-1:], 1)
    digits = text[:-1] if scale != 1 else text
    if not digits.isdigit() or int(digits) == 0:
        raise ValueError(f"size: expected a positive count like 4096, 64K or 16M, got {text!r}")
    return int(digits) * scale


def size_label(size: int) -> str:
    for suffix, scale in reversed(_SIZE_SUFFIXES.items()):
        if size % scale == 0:
            return f"{size // scale}{suffix}"
    return str(size)


def kept_for_mask(mask: str, size: int, itemsize: int) -> int | None:
    """Bytes a kernel-level case keeps for backward, by its mask: one bit per element (bits), one
    element of the dtype per element (torch's noise), nothing (recompute: the caller keeps the seed
    and offset). None for the copy, which has no backward."""
    return {"bits": (size + 7) // 8, "noise": size * itemsize, "recompute": 0}.get(mask)


class Entry(NamedTuple):
    op: str
    backend: str
    direction: str
    # What backward uses: 'recompute' (the mask regenerated from seed and offset), 'bits' (one bit
    # per unit), 'noise' (torch: the scaled mask as a tensor of x's dtype), 'bool' (torch on CUDA).
    mask: str
    build: Callable[["Case"], Workload]
    unavailable: Callable[["Case"], "str | None"]  # why the case cannot run here, or None
    device: str = "cpu"
    modes: tuple[str, ...] = MODES
    defaults: Defaults = SWEEP


def _counted(call, arrays: int, bit_masks: int = 0):
    """A build for a kernel-level call: one pass over ``arrays`` arrays of the case's dtype (x, y,
    torch's noise tensor, ...) and ``bit_masks`` masks of one bit per element."""
    def build(case) -> Workload:
        itemsize = ITEMSIZE[case.dtype]
        moved = arrays * case.size * itemsize + bit_masks * ((case.size + 7) // 8)
        return Workload(call(case), moved, kept_for_mask(case.mask, case.size, itemsize))
    return build


class AutogradOp(NamedTuple):
    """An op timed through torch autograd: fastdrop's call against torch's, forward and training
    step. The calls take the inputs by the names ``shapes`` gives them and return the output."""
    op: str
    shapes: Callable[[int], dict]  # size -> the shape of each input, by name (see shapes.py)
    fastdrop: Callable
    torch: Callable | None  # None: another entry of the op times torch's side
    fastdrop_mask: str = "bits"
    torch_mask: str = "noise"
    directions: tuple[str, ...] = ("forward", "train")
    device: str = "cpu"
    defaults: Defaults = ONE_SIZE


def _fd():
    """fastdrop.torch.functional, imported when a case runs: fastdrop bench works without torch."""
    import fastdrop.torch.functional

    return fastdrop.torch.functional


def _F():
    import torch.nn.functional

    return torch.nn.functional


P = DROPOUT_P
# DropBlock's block side: torchvision's and the DropBlock paper's usual choice.
DROP_BLOCK_SIZE = 7
AUTOGRAD_OPS = (
    # The forward of standard dropout is timed at the kernel; this is its training step.
    AutogradOp("dropout", shapes.elements, lambda x: _fd().dropout(x, P, mask_mode="bits"),
               lambda x: _F().dropout(x, P), directions=("train",)),
    AutogradOp("alpha_dropout", shapes.elements, lambda x: _fd().alpha_dropout(x, P, training=True),
               lambda x: _F().alpha_dropout(x, P, training=True)),
    AutogradOp("feature_alpha_dropout", shapes.images,
               lambda x: _fd().feature_alpha_dropout(x, P, training=True),
               lambda x: _F().feature_alpha_dropout(x, P, training=True)),
    AutogradOp("dropout2d", shapes.images, lambda x: _fd().dropout2d(x, P), lambda x: _F().dropout2d(x, P)),
    AutogradOp("stochastic_depth", shapes.images, lambda x: _fd().stochastic_depth(x, P, "row"),
               lambda x: torch_calls.stochastic_depth(x, P)),
    AutogradOp("drop_block2d", shapes.feature_maps, lambda x: _fd().drop_block2d(x, P, DROP_BLOCK_SIZE),
               lambda x: torch_calls.drop_block2d(x, P, DROP_BLOCK_SIZE)),
    AutogradOp("gaussian_dropout", shapes.elements, lambda x: _fd().gaussian_dropout(x, P),
               lambda x: torch_calls.gaussian_dropout(x, P), fastdrop_mask="recompute"),
    AutogradOp("locked_dropout", shapes.sequences, lambda x: _fd().broadcast_dropout(x, P, (1, *x.shape[1:])),
               lambda x: torch_calls.locked_dropout(x, P)),
    AutogradOp("bias_dropout_add", shapes.hidden_states,
               lambda x, bias, residual: _fd().bias_dropout_add(x, bias, residual, P),
               lambda x, bias, residual: residual + _F().dropout(x + bias, P)),
    AutogradOp("bias_gelu_dropout", shapes.biased_rows,
               lambda x, bias: _fd().bias_act_dropout(x, bias, P, activation="gelu"),
               lambda x, bias: _F().dropout(_F().gelu(x + bias), P)),
    AutogradOp("bias_relu_dropout", shapes.biased_rows,
               lambda x, bias: _fd().bias_act_dropout(x, bias, P, activation="relu"),
               lambda x, bias: _F().dropout(_F().relu(x + bias), P)),
    AutogradOp("dropconnect_linear", shapes.linear_layer,
               lambda x, weight, bias: _fd().dropconnect_linear(x, weight, bias, P),
               lambda x, weight, bias: _F().linear(x, _F().dropout(weight, P), bias), fastdrop_mask="recompute"),
    # On CUDA, fastdrop's dropout (with each mask mode: the benchmark shows why recompute is the
    # default there) against torch's fused CUDA dropout, which keeps a bool mask.
    AutogradOp("dropout", shapes.elements, lambda x: _fd().dropout(x, P, mask_mode="recompute"),
               lambda x: _F().dropout(x, P), fastdrop_mask="recompute", torch_mask="bool", device="cuda",
               defaults=CUDA_SWEEP),
    AutogradOp("dropout", shapes.elements, lambda x: _fd().dropout(x, P, mask_mode="bits"), None,
               device="cuda", defaults=CUDA_SWEEP),
)


def _autograd_entries(op: AutogradOp) -> list[Entry]:
    sides = (("torch", op.torch_mask, op.torch, False), ("native", op.fastdrop_mask, op.fastdrop, True))
    return [
        Entry(op.op, backend, direction, mask, functools.partial(autograd_calls.build, call=call, shapes=op.shapes),
              functools.partial(autograd_calls.unavailable, shapes=op.shapes, fastdrop_side=fastdrop_side),
              op.device, ("alloc",), op.defaults)
        for direction in op.directions
        for backend, mask, call, fastdrop_side in sides
        if call is not None
    ]


def _kernel_entries(direction, torch_call, fastdrop_call) -> list[Entry]:
    """Standard dropout at the kernel, one direction: torch's, then fastdrop's with each mask."""
    torch_call = functools.partial(torch_call, p=DROPOUT_P)
    fastdrop_call = functools.partial(fastdrop_call, p=DROPOUT_P)
    masks = ("recompute", "bits") if direction == "forward" else ("bits", "recompute")
    entries = [Entry("dropout", "torch", direction, "noise", _counted(torch_call, 3), torch_calls.unavailable)]
    for backend in ("native", "numba"):
        for mask in masks:
            entries.append(Entry("dropout", backend, direction, mask,
                                 _counted(fastdrop_call, 2, 1 if mask == "bits" else 0), fastdrop_calls.unavailable))
    return entries


# The roofline of each device: a copy of the same bytes, in each mode.
COPIES = {device: Entry(NONE, "copy", NONE, NONE, _counted(copy_calls.copy, 2), copy_calls.unavailable, device)
          for device in ("cpu", "cuda")}

ENTRIES = (
    # forward: x read, y written, plus the mask kept for backward
    *_kernel_entries("forward", torch_calls.dropout_forward, fastdrop_calls.dropout_forward),
    # backward: grad read, dx written, plus the stored mask read
    *_kernel_entries("backward", torch_calls.dropout_backward, fastdrop_calls.dropout_backward),
    # the mask bits alone: only the bits written
    *(Entry("mask_bits", backend, "forward", "bits", _counted(functools.partial(fastdrop_calls.mask_bits, p=DROPOUT_P), 0, 1),
            fastdrop_calls.unavailable, modes=("out",), defaults=MASK_ONLY) for backend in ("native", "numba")),
    *(entry for op in AUTOGRAD_OPS for entry in _autograd_entries(op)),
)
OPS = tuple(dict.fromkeys(entry.op for entry in ENTRIES))
# Ops that only fastdrop has: no torch case does their work.
NO_TORCH_COUNTERPART = ("mask_bits",)


@dataclass(frozen=True)
class Case:
    op: str
    backend: str
    device: str
    dtype: str
    size: int
    direction: str
    mode: str
    mask: str
    entry: Entry = field(compare=False, repr=False)

    @property
    def id(self) -> str:
        # The device is named only when it is not the CPU, so that CPU ids stay those of older runs.
        parts = (self.op, self.backend, self.device if self.device != "cpu" else NONE, self.dtype,
                 size_label(self.size), self.direction, self.mode, self.mask)
        return "-".join(part for part in parts if part != NONE)

    @property
    def comparison_key(self) -> tuple:
        """Cases with the same key do the same work: torch's is the one the others are compared to."""
        return self.op, self.device, self.dtype, self.size, self.direction, self.mode

    @property
    def bandwidth_key(self) -> tuple:
        """Cases moving the same arrays: the fastest copy among them is their roofline."""
        return self.device, self.dtype, self.size

    def skip_reason(self) -> str | None:
        return self.entry.unavailable(self)

    def setup(self) -> Workload:
        """Build the inputs; return the call to time and the bytes it moves."""
        return self.entry.build(self)


def _case(entry: Entry, dtype: str, size: int, mode: str) -> Case:
    return Case(entry.op, entry.backend, entry.device, dtype, size, entry.direction, mode, entry.mask, entry)


def cases(*, ops=OPS, backends=BACKENDS, device="cpu", dtypes=None, sizes=None, directions=DIRECTIONS,
          modes=MODES, quick=False) -> list[Case]:
    """The cases for these choices; dtypes or sizes None: each entry's defaults (its quick sizes
    with quick). They come grouped by (dtype, size, mode), each group led by a copy case, the
    roofline of the others, whatever the backend filter says of them."""
    groups: dict[tuple, list[Case]] = {}
    for entry in ENTRIES:
        if entry.device != device or entry.op not in ops or entry.direction not in directions:
            continue
        entry_sizes = sizes or (entry.defaults.quick_sizes if quick else entry.defaults.sizes)
        for dtype in dtypes or entry.defaults.dtypes:
            for size in entry_sizes:
                for mode in (mode for mode in entry.modes if mode in modes):
                    group = groups.setdefault((dtype, size, mode), [])
                    if entry.backend in backends:
                        group.append(_case(entry, dtype, size, mode))
    selected = []
    for key in sorted(groups, key=lambda k: (DTYPES.index(k[0]), k[1], MODES.index(k[2]))):
        if "copy" in backends:
            selected.append(_case(COPIES[device], *key))
        selected += groups[key]
    return selected


CASES = cases()
