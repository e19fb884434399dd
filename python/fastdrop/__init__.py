"""fastdrop: fused, deterministic dropout kernels.

The mask of every call is a pure function of (seed, offset, logical index): the same on every
backend, ISA, thread count and device. See docs/design.md in the repository for the contract.

The ops (dropout, its variants and their ``*_backward`` siblings) are built from the registry in
``_registry``: each takes NumPy arrays, torch tensors (differentiable) or other frameworks'
arrays, and returns the caller's kind.
"""

from __future__ import annotations

from ._api import public_functions
from ._common.backend import backends, get_num_threads, set_cpu_isa, set_num_threads
from ._common.generator import Generator, default_generator, manual_seed
from ._common.shard import Shard
from ._registry import OPS

__version__ = "0.1.0"

_ops = public_functions(OPS)
globals().update(_ops)

__all__ = sorted(["Generator", "Shard", "backends", "default_generator", "get_num_threads", "manual_seed",
                  "set_cpu_isa", "set_num_threads", *_ops])
del _ops
