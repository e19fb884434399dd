"""fastdrop's dropout with torch.nn.functional's signatures, plus seed/offset/generator/mask_mode."""

from __future__ import annotations

import torch

from .._common.broadcast import check_noise_shape
from .._common.checks import check_activation, check_p
from .._common.shard import check_shard, runs_of
from .._rules.apply_mask_bits import feature_noise_shape, spatial_noise_shape, stochastic_depth_noise_shape
from ._bridge import check_device, kernel_dtype, op_seed
from ._ops.apply_mask_bits import UnitsFunction, dropout_units_op, units_forward
from ._ops.bias_act_dropout import (
    BiasActDropoutFunction,
    ShardedBiasActDropoutFunction,
    bias_act_dropout_op,
    bias_act_forward,
)
from ._ops.bias_dropout_add import (
    BiasDropoutAddFunction,
    ShardedBiasDropoutAddFunction,
    bias_dropout_add_forward,
    bias_dropout_add_op,
)
from ._ops.drop_block2d import drop_block2d  # noqa: F401 (public name)
from ._ops.dropconnect import dropconnect, dropconnect_linear  # noqa: F401 (public names)
from ._ops.dropout import MASK_MODES, DropoutFunction, dropout_no_grad, dropout_op
from ._ops.gaussian_dropout import gaussian_dropout  # noqa: F401 (public name)

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
    if torch.compiler.is_compiling():
        y, _ = dropout_units_op(input, p, seed_i, offset_i, draw, noise_shape, kind, shard_arg)
    elif input.requires_grad and torch.is_grad_enabled():
        y = UnitsFunction.apply(input, p, seed_i, offset_i, draw, noise_shape, kind, shard_arg)
    else:
        y, _ = units_forward(input, p, seed_i, offset_i, draw, noise_shape, kind, shard_arg)
    return input.copy_(y) if inplace else y


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
    if torch.compiler.is_compiling():
        return bias_dropout_add_op(input, bias, residual, p, seed_i, offset_i, draw)[0]
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (input, bias, residual)):
        return BiasDropoutAddFunction.apply(input, bias, residual, p, seed_i, offset_i, draw)
    return bias_dropout_add_forward(input, bias, residual, p, seed_i, offset_i, draw)[0]


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
    if torch.compiler.is_compiling():
        return bias_act_dropout_op(input, bias, p, seed_i, offset_i, draw, kernel)[0]
    if torch.is_grad_enabled() and (input.requires_grad or (bias is not None and bias.requires_grad)):
        return BiasActDropoutFunction.apply(input, bias, p, seed_i, offset_i, draw, kernel)
    return bias_act_forward(input, bias, p, seed_i, offset_i, draw, kernel)[0]
