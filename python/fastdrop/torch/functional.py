"""fastdrop's dropout with torch.nn.functional's signatures, plus seed/offset/generator/mask_mode."""

from __future__ import annotations

import torch

from .._checks import check_p
from ._bridge import check_device, kernel_dtype, resolve_seed, to_signed
from ._ops import MASK_MODES, DropoutFunction, dropout_no_grad, dropout_op

# Which saved state each device's backward is fastest with (see bench/): on the CPU the Philox
# stream costs more than reading one bit per element back.
DEFAULT_MASK_MODE = {"cpu": "bits", "cuda": "recompute"}


def check_mask_mode(mask_mode):
    if mask_mode is not None and mask_mode not in MASK_MODES:
        raise ValueError(f"mask_mode: expected None or one of {', '.join(MASK_MODES)}, got {mask_mode!r}")
    return mask_mode


def _mask_mode(mask_mode, device: torch.device) -> str:
    check_mask_mode(mask_mode)
    return DEFAULT_MASK_MODE.get(device.type, "bits") if mask_mode is None else mask_mode


def dropout(input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
            seed=None, offset=None, generator=None, mask_mode=None) -> torch.Tensor:
    """torch.nn.functional.dropout, fused and deterministic: the mask depends only on (seed, offset)
    and the logical index. Without seed=, the seed is drawn from `generator` or torch's default
    generator, so torch.manual_seed makes a run reproducible."""
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input: expected a torch.Tensor, got {type(input).__name__}")
    p = check_p(p)
    kernel_dtype(input, "input")
    check_device(input, "input")
    if not training:
        return input
    mask_mode = _mask_mode(mask_mode, input.device)
    resolved = resolve_seed(seed, offset, generator, input.device)
    seed_i, offset_i = (0, 0) if resolved is None else (to_signed(resolved[0]), to_signed(resolved[1]))
    draw = resolved is None
    if torch.compiler.is_compiling():
        y, _ = dropout_op(input, p, seed_i, offset_i, draw, mask_mode)
    elif input.requires_grad and torch.is_grad_enabled():
        y = DropoutFunction.apply(input, p, seed_i, offset_i, draw, mask_mode)
    else:
        return dropout_no_grad(input, p, seed_i, offset_i, draw, inplace)
    if inplace:
        # As torch: the input is overwritten and returned; autograd raises for leaves that
        # require grad and tracks the version of the rest.
        return input.copy_(y)
    return y
