"""fastdrop: fused, deterministic dropout kernels.

The mask of every call is a pure function of (seed, offset, logical index): the same on every
backend, ISA, thread count and device. See DESIGN.md in the repository for the contract.
"""

from __future__ import annotations

from ._backend import backends, get_num_threads, set_cpu_isa, set_num_threads
from ._generator import Generator, default_generator, manual_seed
from ._numpy_frontend import dropout_backward
from . import _numpy_frontend

__version__ = "0.1.0"

__all__ = [
    "Generator",
    "backends",
    "default_generator",
    "dropout",
    "dropout_backward",
    "get_num_threads",
    "manual_seed",
    "set_cpu_isa",
    "set_num_threads",
]


def _is_torch_tensor(x) -> bool:
    # Checked by module name so that NumPy users never import torch.
    return type(x).__module__.startswith("torch") and hasattr(x, "requires_grad")


def dropout(x, p=0.5, *, training=True, seed=None, offset=None, generator=None, out=None,
            return_mask=False, mask_format="bool"):
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
    """
    if _is_torch_tensor(x):
        from .torch import functional

        if return_mask:
            raise TypeError("return_mask: supported for NumPy arrays; torch tensors keep their mask "
                            "for backward (fastdrop.torch.functional.dropout(mask_mode=...))")
        y = functional.dropout(x, p, training, seed=seed, offset=offset, generator=generator)
        return y if out is None else out.copy_(y)
    return _numpy_frontend.dropout(x, p, training=training, seed=seed, offset=offset,
                                   generator=generator, out=out, return_mask=return_mask,
                                   mask_format=mask_format)
