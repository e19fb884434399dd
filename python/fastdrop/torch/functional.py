"""fastdrop's dropout with torch.nn.functional's signatures, plus seed/offset/generator/mask_mode."""

from __future__ import annotations

from typing import Optional

import torch

from .._common.broadcast import check_noise_shape
from .._common.checks import check_activation, check_p
from .._common.shard import check_shard, runs_of
from .._rules.apply_mask_bits import feature_noise_shape, spatial_noise_shape, stochastic_depth_noise_shape
from .._rules.drop_block2d import batched_shape, check_block_fits, check_block_size, check_eps
from .._rules.gaussian_dropout import check_gaussian_p, gaussian_runs
from ._bridge import check_device, kernel_dtype, op_seed
from ._ops.apply_mask_bits import DROPOUT_UNITS
from ._ops.bias_act_dropout import BIAS_ACT_DROPOUT, ShardedBiasActDropoutFunction
from ._ops.bias_dropout_add import BIAS_DROPOUT_ADD, ShardedBiasDropoutAddFunction
from ._ops.drop_block2d import DROP_BLOCK2D
from ._ops.dropconnect import (
    DropConnectLinearFunction,
    check_linear_operands,
    check_tensor,
    dropconnect_linear_op,
    linear_forward,
)
from ._ops.dropout import DROPOUT, MASK_MODES
from ._ops.gaussian_dropout import GAUSSIAN_DROPOUT

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
            seed=None, offset=None, generator=None, mask_mode=None, noise_shape=None, shard=None) -> torch.Tensor:
    """torch.nn.functional.dropout, fused and deterministic: the mask depends only on (seed, offset)
    and the logical index. Without seed=, the seed is drawn from `generator` or torch's default
    generator, so torch.manual_seed makes a run reproducible. noise_shape: see broadcast_dropout
    (then one bit per unit is kept for backward, whatever mask_mode). shard: fastdrop.Shard when
    input is a slice of a larger tensor (see fastdrop.dropout; every process must draw the same
    seed); one bit per element is then kept for backward."""
    if noise_shape is not None or shard is not None:
        # A shard's units are its logical tensor's elements: a noise shape of that tensor's sizes.
        noise = (None,) * input.dim() if noise_shape is None else noise_shape
        return broadcast_dropout(input, p, noise, training, inplace, seed=seed, offset=offset, generator=generator,
                                 shard=shard)
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input: expected a torch.Tensor, got {type(input).__name__}")
    p = check_p(p)
    kernel_dtype(input, "input")
    check_device(input, "input")
    if not training:
        return input
    mask_mode = _mask_mode(mask_mode, input.device)
    seed_i, offset_i, draw = op_seed(seed, offset, generator, input.device)
    return DROPOUT.call(input, p, seed_i, offset_i, draw, mask_mode, inplace=inplace)


def _shard_argument(shard, shape) -> tuple[list[int], tuple]:
    """The ops' shard argument ([] or [dim, start, *global_shape]) and the logical tensor's shape."""
    if shard is None:
        return [], tuple(shape)
    shard = check_shard(shard, tuple(shape))
    return [shard.dim, shard.start, *shard.global_shape], shard.global_shape


def _units(input, p, training, inplace, noise_of, kind, seed, offset, generator, shard=None):
    """Dropout variants whose units are the elements of a noise shape (see _ops.apply_mask_bits)."""
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input: expected a torch.Tensor, got {type(input).__name__}")
    p = check_p(p)
    kernel_dtype(input, "input")
    check_device(input, "input", cuda=False)
    shard_arg, logical_shape = _shard_argument(shard, input.shape)
    if not training or p == 0.0:
        return input
    noise_shape = list(noise_of(logical_shape))
    seed_i, offset_i, draw = op_seed(seed, offset, generator, input.device)
    return DROPOUT_UNITS.call(input, p, seed_i, offset_i, draw, noise_shape, kind, shard_arg, inplace=inplace)


def dropout1d(input, p=0.5, training=True, inplace=False, *, seed=None, offset=None, generator=None, shard=None):
    """torch.nn.functional.dropout1d: one unit per (sample, channel) of (N, C, L) or (C, L)."""
    return _units(input, p, training, inplace, lambda s: spatial_noise_shape(s, "dropout1d"), "dropout",
                  seed, offset, generator, shard)


def dropout2d(input, p=0.5, training=True, inplace=False, *, seed=None, offset=None, generator=None, shard=None):
    """torch.nn.functional.dropout2d: one unit per (sample, channel) of (N, C, H, W) or (C, H, W).
    A 3-D input is unbatched (C, H, W) as torch's documentation says (torch itself currently
    treats it as (N, C, L) with a warning)."""
    return _units(input, p, training, inplace, lambda s: spatial_noise_shape(s, "dropout2d"), "dropout",
                  seed, offset, generator, shard)


def dropout3d(input, p=0.5, training=True, inplace=False, *, seed=None, offset=None, generator=None, shard=None):
    """torch.nn.functional.dropout3d: one unit per (sample, channel) of (N, C, D, H, W) or (C, D, H, W)."""
    return _units(input, p, training, inplace, lambda s: spatial_noise_shape(s, "dropout3d"), "dropout",
                  seed, offset, generator, shard)


def alpha_dropout(input, p=0.5, training=False, inplace=False, *, seed=None, offset=None, generator=None, shard=None):
    """torch.nn.functional.alpha_dropout (note torch's default training=False)."""
    return _units(input, p, training, inplace, tuple, "alpha", seed, offset, generator, shard)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False, *, seed=None, offset=None, generator=None,
                          shard=None):
    """torch.nn.functional.feature_alpha_dropout: alpha dropout with one unit per (sample, channel)."""
    return _units(input, p, training, inplace, lambda s: feature_noise_shape(s, "feature_alpha_dropout"),
                  "alpha", seed, offset, generator, shard)


def stochastic_depth(input, p, mode="row", training=True, *, seed=None, offset=None, generator=None, shard=None):
    """torchvision.ops.stochastic_depth: drop whole samples ('row') or the whole batch ('batch')
    with probability p, scaling survivors by 1 / (1 - p)."""
    stochastic_depth_noise_shape((), mode)
    return _units(input, p, training, False, lambda s: stochastic_depth_noise_shape(s, mode), "dropout",
                  seed, offset, generator, shard)


def broadcast_dropout(input, p=0.5, noise_shape=None, training=True, inplace=False, *, seed=None, offset=None,
                      generator=None, shard=None):
    """Dropout with a Keras noise_shape: one unit per element of noise_shape (each dimension 1 or
    the input's size; None entries take the input's size), broadcast over the rest."""
    return _units(input, p, training, inplace, lambda s: check_noise_shape(noise_shape, s), "dropout",
                  seed, offset, generator, shard)


def bias_dropout_add(input, bias, residual, p=0.5, training=True, *, seed=None, offset=None, generator=None,
                     shard=None):
    """residual + dropout(input + bias) in one pass (bias over the last dimension, or None);
    differentiable in input, bias and residual, keeping one bit per element for backward.
    shard: fastdrop.Shard when input is a slice of a larger tensor (bias is then the slice's own);
    backward then regenerates the mask, keeping only (seed, offset), and is not twice
    differentiable."""
    for name, t in (("input", input), ("residual", residual)) + ((("bias", bias),) if bias is not None else ()):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
        kernel_dtype(t, name)
        check_device(t, name, cuda=False)
    p = check_p(p)
    if input.dim() < 1:
        raise ValueError("input: expected at least 1 dimension (the bias is added along the last)")
    if residual.shape != input.shape or residual.dtype != input.dtype:
        raise ValueError(f"residual: expected input's shape {tuple(input.shape)} and dtype {input.dtype}, got "
                         f"{tuple(residual.shape)} and {residual.dtype}")
    if bias is not None and (bias.shape != input.shape[-1:] or bias.dtype != input.dtype):
        raise ValueError(f"bias: expected shape {tuple(input.shape[-1:])} and dtype {input.dtype}, got "
                         f"{tuple(bias.shape)} and {bias.dtype}")
    runs = None if shard is None else runs_of(shard, tuple(input.shape))
    if not training:
        return residual + (input if bias is None else input + bias)
    seed_i, offset_i, draw = op_seed(seed, offset, generator, input.device)
    if runs is not None:
        return ShardedBiasDropoutAddFunction.apply(input, bias, residual, p, seed_i, offset_i, draw, list(runs))
    return BIAS_DROPOUT_ADD.call(input, bias, residual, p, seed_i, offset_i, draw)


def bias_act_dropout(input, bias, p=0.5, training=True, activation="relu", approximate="none", *, seed=None,
                     offset=None, generator=None, shard=None):
    """dropout(act(input + bias)) in one pass: bias over the last dimension (or None), act relu or
    gelu (approximate 'none' or 'tanh', as torch.nn.functional.gelu), act(input + bias) in eval
    mode. Differentiable in input and bias (twice); backward keeps input, bias and one bit per
    element and recomputes input + bias. The output has input's memory format. shard:
    fastdrop.Shard when input is a slice of a larger tensor (bias is then the slice's own);
    backward then regenerates the mask, keeping only (seed, offset) besides input and bias, and
    is not twice differentiable."""
    for name, t in (("input", input),) + ((("bias", bias),) if bias is not None else ()):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
        kernel_dtype(t, name)
        check_device(t, name, cuda=False)
    p = check_p(p)
    kernel = check_activation(activation, approximate)
    if input.dim() < 1:
        raise ValueError("input: expected at least 1 dimension (the bias is added along the last)")
    if bias is not None and (bias.shape != input.shape[-1:] or bias.dtype != input.dtype):
        raise ValueError(f"bias: expected shape {tuple(input.shape[-1:])} and dtype {input.dtype}, got "
                         f"{tuple(bias.shape)} and {bias.dtype}")
    runs = None if shard is None else runs_of(shard, tuple(input.shape))
    # Eval mode runs the same kernel with p = 0, drawing no seed (a shard's mask then plays no part).
    seed_i, offset_i, draw = op_seed(seed, offset, generator, input.device) if training else (0, 0, False)
    p = p if training else 0.0
    if runs is not None and training:
        return ShardedBiasActDropoutFunction.apply(input, bias, p, seed_i, offset_i, draw, kernel, list(runs))
    return BIAS_ACT_DROPOUT.call(input, bias, p, seed_i, offset_i, draw, kernel)


def gaussian_dropout(input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
                     seed=None, offset=None, generator=None, shard=None) -> torch.Tensor:
    """Gaussian dropout (Keras's GaussianDropout(rate=p)): input * n with n ~ N(1, p / (1 - p)) per
    element, p in [0, 1). The noise depends only on (seed, offset) and the logical index; without
    seed=, the seed is drawn from `generator` or torch's default generator, so torch.manual_seed
    makes a run reproducible. Backward keeps only (seed, offset) and regenerates the noise. CPU
    tensors only for now. shard: fastdrop.Shard for a slice of a larger tensor (see fastdrop.dropout)."""
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input: expected a torch.Tensor, got {type(input).__name__}")
    p = check_gaussian_p(p)
    kernel_dtype(input, "input")
    check_device(input, "input", cuda=False)
    runs = gaussian_runs(shard, tuple(input.shape))
    runs = [] if runs is None else list(runs)
    if not training or p == 0.0:
        return input
    seed_i, offset_i, draw = op_seed(seed, offset, generator, input.device)
    return GAUSSIAN_DROPOUT.call(input, p, seed_i, offset_i, draw, runs, inplace=inplace)


def drop_block2d(input: torch.Tensor, p: float, block_size: int, inplace: bool = False, eps: float = 1e-06,
                 training: bool = True, *, seed=None, offset=None, generator=None) -> torch.Tensor:
    """torchvision.ops.drop_block2d, fused: block seeds drawn on the grid of block positions, their
    block_size x block_size blocks zeroed, the rest scaled by numel / (eps + kept). input is
    (N, C, H, W) or unbatched (C, H, W); block_size is odd and at most H and W (torchvision would
    shrink a larger one). The mask depends only on (seed, offset) and the logical index; without
    seed=, the seed is drawn from `generator` or torch's default generator. Backward keeps one bit
    per element and the scale. CPU tensors only for now."""
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input: expected a torch.Tensor, got {type(input).__name__}")
    p = check_p(p)
    block_size = check_block_size(block_size)
    eps = check_eps(eps)
    kernel_dtype(input, "input")
    shape = batched_shape(input.shape, "input")
    check_device(input, "input", cuda=False)
    if not training or p == 0.0:
        return input
    check_block_fits(block_size, shape)
    seed_i, offset_i, draw = op_seed(seed, offset, generator, input.device)
    return DROP_BLOCK2D.call(input, p, block_size, eps, seed_i, offset_i, draw, inplace=inplace)


def dropconnect(weight: torch.Tensor, p: float = 0.5, training: bool = True, *, seed=None, offset=None,
                generator=None, shard=None) -> torch.Tensor:
    """The DropConnect weight W * mask / (1 - p), differentiable; bit-identical to
    fastdrop.torch.functional.dropout(weight, ...). Backward regenerates the mask from the seed.
    shard: fastdrop.Shard when weight is a slice of a larger one (tensor parallelism); one bit per
    weight is then kept for backward, as fastdrop.torch.functional.dropout keeps for a shard."""
    check_tensor(weight, "weight")
    p = check_p(p)
    if not training:
        return weight
    if shard is not None:
        return dropout(weight, p, seed=seed, offset=offset, generator=generator, shard=shard)
    seed, offset, draw = op_seed(seed, offset, generator, weight.device)
    return DROPOUT.call(weight, p, seed, offset, draw, "recompute")


def dropconnect_linear(input: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                       p: float = 0.5, training: bool = True, *, seed=None, offset=None, generator=None,
                       shard=None) -> torch.Tensor:
    """linear(input, dropconnect(weight), bias) in one op, one weight mask for the whole batch.
    Its backward gives the gradients of input, weight and bias, regenerating the masked weight
    from (seed, offset): nothing of weight's size is kept for it but weight itself. Without
    seed=, the seed is drawn from `generator` or torch's default generator. shard: fastdrop.Shard
    of weight when it is a slice of a larger one (split along dim 0 for a column-parallel layer,
    dim 1 for a row-parallel one); the masked weight is then dropconnect(weight, shard=shard)
    (one bit per weight kept for backward)."""
    check_linear_operands(input, weight, bias)
    p = check_p(p)
    if not training:
        return torch.nn.functional.linear(input, weight, bias)
    if shard is not None:
        masked = dropconnect(weight, p, seed=seed, offset=offset, generator=generator, shard=shard)
        return torch.nn.functional.linear(input, masked, bias)
    seed, offset, draw = op_seed(seed, offset, generator, weight.device)
    # Written out: fastdrop::dropconnect_linear opts out of the factory (see _ops.dropconnect).
    if torch.compiler.is_compiling():
        return dropconnect_linear_op(input, weight, bias, p, seed, offset, draw)[0]
    tensors = (input, weight) if bias is None else (input, weight, bias)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return DropConnectLinearFunction.apply(input, weight, bias, p, seed, offset, draw)
    return linear_forward(input, weight, bias, p, seed, offset, draw)[0]
