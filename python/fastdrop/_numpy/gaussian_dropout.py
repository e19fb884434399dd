"""Gaussian dropout on NumPy arrays (Keras's GaussianDropout): y = x * n, n ~ N(1, p / (1 - p)).

The noise of element i is a pure function of (seed, offset, i) for i in the row-major order of the
logical shape, drawn by Box–Muller from the same Philox stream as dropout's masks (docs/design.md,
Randomness), so backward regenerates it and nothing is stored.
"""

from __future__ import annotations

import numpy as np

from .._common import backend
from .._common.arrays import as_input_array, check_out, finish, flat_raw, kernel_dtype, target
from .._common.generator import resolve_seed_offset
from .._rules.gaussian_dropout import check_gaussian_p, gaussian_runs

def _apply(name: str, kernel: str, a, p, seed, offset, out, shard) -> np.ndarray:
    """out = a * n for the noise n of call (seed, offset), in a's logical order (of the logical
    tensor for a shard)."""
    dtype = kernel_dtype(a.dtype, name)
    runs = gaussian_runs(shard, a.shape)
    src = np.asarray(a, order="C")
    y = target(src, out)
    if runs is None:
        getattr(backend.active(), kernel)(dtype, flat_raw(src), flat_raw(y), p, seed, offset)
    else:
        getattr(backend.active(), kernel + "_runs")(dtype, flat_raw(src), flat_raw(y), p, seed, offset, runs)
    return finish(y, out)

def gaussian_dropout(x, p=0.5, *, training=True, seed=None, offset=None, generator=None, out=None, shard=None):
    """Gaussian dropout: y = x * n with n ~ N(1, sigma^2), sigma^2 = p / (1 - p), drawn per element.

    x: a NumPy array (float16, ml_dtypes.bfloat16, float32, float64) of any shape and layout, or a
        torch tensor (differentiable; see fastdrop.torch.functional.gaussian_dropout).
    p: the rate, in [0, 1) (Keras's GaussianDropout(rate)); p = 0 gives y = x.
    training: when False, x is returned unchanged.
    seed, offset: make the call stateless (offset defaults to 0); otherwise (seed, offset) is drawn
        from ``generator`` or fastdrop's default generator (``fastdrop.manual_seed``).
    out: an array of x's shape and dtype to write into (may be x itself).
    shard: fastdrop.Shard for a slice of a larger tensor (see fastdrop.dropout).
    """
    x = as_input_array(x, "x")
    kernel_dtype(x.dtype, "x")
    p = check_gaussian_p(p)
    if out is not None:
        check_out(out, x)
    if not training:
        return finish(x, out) if out is not None else x
    seed, offset = resolve_seed_offset(seed, offset, generator)
    return _apply("x", "gaussian_forward", x, p, seed, offset, out, shard)

def gaussian_dropout_backward(grad, p, *, seed, offset, out=None, shard=None):
    """Gradient of gaussian_dropout: grad * n, the noise regenerated from the (seed, offset) of the
    forward call (both required: a forward without seed= drew them from a generator)."""
    grad = as_input_array(grad, "grad")
    kernel_dtype(grad.dtype, "grad")
    p = check_gaussian_p(p)
    if seed is None or offset is None:
        raise ValueError("gaussian_dropout_backward: seed= and offset= of the forward call are required")
    if out is not None:
        check_out(out, grad)
    seed, offset = resolve_seed_offset(seed, offset, None)
    return _apply("grad", "gaussian_backward", grad, p, seed, offset, out, shard)
