"""fastdrop: fused, deterministic dropout kernels.

The mask of every call is a pure function of (seed, offset, logical index): the same on every
backend, ISA, thread count and device. See DESIGN.md in the repository for the contract.
"""

from __future__ import annotations

from ._backend import backends, get_num_threads, set_cpu_isa, set_num_threads
from ._dlpack import accepts_foreign_arrays
from ._dropconnect import dropconnect, dropconnect_linear, dropconnect_linear_backward
from ._generator import Generator, default_generator, manual_seed
from ._numpy_bias_act import bias_act_dropout_backward
from ._numpy_drop_block import drop_block2d_backward
from ._numpy_frontend import dropout_backward
from ._numpy_fused import bias_dropout_add_backward
from ._numpy_gaussian import gaussian_dropout_backward
from ._numpy_variants import alpha_dropout_backward
from ._shard import Shard
from . import _numpy_bias_act, _numpy_frontend, _numpy_fused, _numpy_variants
from . import _numpy_drop_block, _numpy_gaussian

__version__ = "0.1.0"

__all__ = [
    "Generator",
    "Shard",
    "backends",
    "bias_act_dropout",
    "bias_act_dropout_backward",
    "bias_dropout_add",
    "bias_dropout_add_backward",
    "default_generator",
    "dropconnect",
    "dropconnect_linear",
    "dropconnect_linear_backward",
    "drop_block2d",
    "drop_block2d_backward",
    "alpha_dropout",
    "alpha_dropout_backward",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "dropout_backward",
    "feature_alpha_dropout",
    "gaussian_dropout",
    "gaussian_dropout_backward",
    "stochastic_depth",
    "get_num_threads",
    "manual_seed",
    "set_cpu_isa",
    "set_num_threads",
]


def _is_torch_tensor(x) -> bool:
    # Checked by module name so that NumPy users never import torch.
    return type(x).__module__.startswith("torch") and hasattr(x, "requires_grad")


def dropout(x, p=0.5, *, training=True, seed=None, offset=None, generator=None, out=None,
            return_mask=False, mask_format="bool", noise_shape=None, shard=None):
    """Inverted dropout: each element is zeroed with probability p, the rest scaled by 1/(1-p).

    x: a NumPy array (float16, ml_dtypes.bfloat16, float32, float64) of any shape and layout, or a
        torch tensor (differentiable; see fastdrop.torch.functional.dropout; generator is then a
        torch.Generator, and out, when given, receives the result through Tensor.copy_).
    training: when False, x is returned unchanged (as torch does in eval mode).
    seed, offset: make the call stateless (offset defaults to 0); otherwise (seed, offset) is drawn
        from ``generator`` or fastdrop's default generator (``fastdrop.manual_seed``).
    out: an array of x's shape and dtype to write into (may be x itself).
    return_mask: also return the mask, as a bool array of x's shape (``mask_format='bool'``) or as
        packed bits (``'bits'``: bit i & 7 of byte i >> 3 for element i in row-major order).
    noise_shape: Keras's broadcast dropout: one unit per element of noise_shape (each dimension 1
        or x's size, None meaning x's size), the mask broadcast over the rest; the mask returned is
        then that of the units.
    shard: ``fastdrop.Shard(global_shape, dim, start)`` when x is the slice starting at ``start``
        along ``dim`` of a logical tensor of ``global_shape`` (sequence or tensor parallelism): the
        result is exactly that slice of the whole tensor's result for the same (seed, offset), so
        every process must use the same seed.
    """
    if _is_torch_tensor(x):
        from .torch import functional

        if return_mask:
            raise TypeError("return_mask: supported for NumPy arrays; torch tensors keep their mask "
                            "for backward (fastdrop.torch.functional.dropout(mask_mode=...))")
        y = functional.dropout(x, p, training, seed=seed, offset=offset, generator=generator,
                               noise_shape=noise_shape, shard=shard)
        return y if out is None else out.copy_(y)
    return _numpy_frontend.dropout(x, p, training=training, seed=seed, offset=offset,
                                   generator=generator, out=out, return_mask=return_mask,
                                   mask_format=mask_format, noise_shape=noise_shape, shard=shard)


def _numpy_or_torch(name: str, numpy_fn):
    """A public variant: the NumPy implementation, or fastdrop.torch.functional's for tensors
    (same keywords; out receives the result through Tensor.copy_)."""

    def variant(x, p=0.5, *args, out=None, **kwargs):
        if _is_torch_tensor(x):
            from .torch import functional

            kwargs.setdefault("training", True)
            y = getattr(functional, name)(x, p, *args, **kwargs)
            return y if out is None else out.copy_(y)
        return numpy_fn(x, p, *args, out=out, **kwargs)

    variant.__name__ = variant.__qualname__ = name
    variant.__doc__ = numpy_fn.__doc__
    return accepts_foreign_arrays(variant, 1)


dropout1d = _numpy_or_torch("dropout1d", _numpy_variants.dropout1d)
dropout2d = _numpy_or_torch("dropout2d", _numpy_variants.dropout2d)
dropout3d = _numpy_or_torch("dropout3d", _numpy_variants.dropout3d)
alpha_dropout = _numpy_or_torch("alpha_dropout", _numpy_variants.alpha_dropout)
feature_alpha_dropout = _numpy_or_torch("feature_alpha_dropout", _numpy_variants.feature_alpha_dropout)
stochastic_depth = _numpy_or_torch("stochastic_depth", _numpy_variants.stochastic_depth)
gaussian_dropout = _numpy_or_torch("gaussian_dropout", _numpy_gaussian.gaussian_dropout)


def bias_dropout_add(x, bias, residual, p=0.5, *, training=True, seed=None, offset=None, generator=None, out=None,
                     return_mask=False, mask_format="bits", shard=None):
    """y = residual + dropout(x + bias), fused in one pass (bias may be None): NumPy arrays, or torch
    tensors (differentiable in x, bias and residual; see fastdrop.torch.functional.bias_dropout_add)."""
    if _is_torch_tensor(x):
        from .torch import functional

        if return_mask:
            raise TypeError("return_mask: supported for NumPy arrays; torch tensors keep their mask for backward")
        y = functional.bias_dropout_add(x, bias, residual, p, training, seed=seed, offset=offset,
                                        generator=generator, shard=shard)
        return y if out is None else out.copy_(y)
    return _numpy_fused.bias_dropout_add(x, bias, residual, p, training=training, seed=seed, offset=offset,
                                         generator=generator, out=out, return_mask=return_mask,
                                         mask_format=mask_format, shard=shard)


def bias_act_dropout(x, bias, p=0.5, *, activation="relu", approximate="none", training=True, seed=None, offset=None,
                     generator=None, out=None, return_mask=False, shard=None):
    """y = dropout(act(x + bias)), fused in one pass (bias may be None; activation 'relu' or 'gelu',
    approximate 'none' or 'tanh' for gelu): NumPy arrays, or torch tensors (differentiable in x and
    bias; see fastdrop.torch.functional.bias_act_dropout). shard: as bias_dropout_add's."""
    if _is_torch_tensor(x):
        from .torch import functional

        if return_mask:
            raise TypeError("return_mask: supported for NumPy arrays; torch tensors keep their mask for backward")
        y = functional.bias_act_dropout(x, bias, p, training, activation, approximate, seed=seed, offset=offset,
                                        generator=generator, shard=shard)
        return y if out is None else out.copy_(y)
    return _numpy_bias_act.bias_act_dropout(x, bias, p, activation=activation, approximate=approximate,
                                            training=training, seed=seed, offset=offset, generator=generator,
                                            out=out, return_mask=return_mask, shard=shard)


def drop_block2d(x, p=0.1, block_size=7, *, training=True, eps=1e-6, seed=None, offset=None, generator=None, out=None,
                 return_mask=False, mask_format="bool"):
    if _is_torch_tensor(x):
        from .torch import functional

        if return_mask:
            raise TypeError("return_mask: supported for NumPy arrays; torch tensors keep their mask for backward")
        y = functional.drop_block2d(x, p, block_size, eps=eps, training=training, seed=seed, offset=offset,
                                    generator=generator)
        return y if out is None else out.copy_(y)
    return _numpy_drop_block.drop_block2d(x, p, block_size, training=training, eps=eps, seed=seed, offset=offset,
                                          generator=generator, out=out, return_mask=return_mask,
                                          mask_format=mask_format)


drop_block2d.__doc__ = _numpy_drop_block.drop_block2d.__doc__


# Other frameworks' arrays (JAX, CuPy, ...) through DLPack, returned as the caller's framework's.
dropout = accepts_foreign_arrays(dropout, 1)
bias_dropout_add = accepts_foreign_arrays(bias_dropout_add, 3)
bias_act_dropout = accepts_foreign_arrays(bias_act_dropout, 2)
dropconnect = accepts_foreign_arrays(dropconnect, 1)
dropconnect_linear = accepts_foreign_arrays(dropconnect_linear, 3)
drop_block2d = accepts_foreign_arrays(drop_block2d, 1)
