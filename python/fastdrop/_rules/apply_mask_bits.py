"""Noise shapes of the channel-wise variants, shared by the NumPy and torch front-ends: which
dimensions are sample and channel, for batched and unbatched inputs, as PyTorch defines them."""

from __future__ import annotations

import warnings

# Spatial dimensions of each channel-wise dropout.
SPATIAL_DIMS = {"dropout1d": 1, "dropout2d": 2, "dropout3d": 3}


def feature_noise_shape(shape, name: str) -> tuple[int, ...]:
    """One unit per (sample, channel): dimensions 0 and 1 kept, the rest broadcast."""
    if len(shape) < 2:
        raise RuntimeError(f"{name}: feature dropout requires at least 2 dimensions in the input, "
                           f"got shape {tuple(shape)}")
    return (shape[0], shape[1]) + (1,) * (len(shape) - 2)


def spatial_noise_shape(shape, name: str) -> tuple[int, ...]:
    """The noise shape of dropout1d/2d/3d. Batched inputs are (N, C, *spatial) and unbatched ones
    (C, *spatial), as torch's documentation defines them; an unbatched input gets the mask its
    batched form (N = 1) would. dropout1d rejects other ranks as torch does; dropout2d/3d warn and
    treat dimension 0 as the batch and 1 as the channel, as torch does.

    torch.nn.functional.dropout2d currently treats a 3-D input as (N, C, L) with a warning,
    against its documentation; fastdrop follows the documentation: (C, H, W), one unit per channel.
    """
    spatial = SPATIAL_DIMS[name]
    ndim = len(shape)
    if ndim == spatial + 1:
        return (shape[0],) + (1,) * spatial
    if ndim == spatial + 2:
        return feature_noise_shape(shape, name)
    if name == "dropout1d":
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {ndim}D input. Note that dropout1d "
                           "exists to provide channel-wise dropout on inputs with 1 spatial dimension, a channel "
                           "dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    warnings.warn(f"{name}: Received a {ndim}-D input to {name}, which is deprecated and will result in an error "
                  f"in a future release. To retain the behavior and silence this warning, please use dropout "
                  f"instead. Note that {name} exists to provide channel-wise dropout on inputs with {spatial} "
                  f"spatial dimensions, a channel dimension, and an optional batch dimension (i.e. "
                  f"{spatial + 1}D or {spatial + 2}D inputs).", stacklevel=3)
    return feature_noise_shape(shape, name)


def stochastic_depth_noise_shape(shape, mode: str) -> tuple[int, ...]:
    """torchvision's stochastic depth: one unit per sample ('row') or one for the batch ('batch')."""
    if mode == "row":
        return (shape[0],) + (1,) * (len(shape) - 1) if len(shape) else ()
    if mode == "batch":
        return (1,) * len(shape)
    raise ValueError(f"mode: has to be either 'batch' or 'row', but got {mode!r}")


def locked_noise_shape(shape, batch_first: bool) -> tuple[int, ...]:
    """Locked (variational) RNN dropout: one mask per sequence, shared over time."""
    if len(shape) != 3:
        raise ValueError(f"input: locked dropout expects (T, B, H) or, batch_first, (B, T, H); got shape {tuple(shape)}")
    return (shape[0], 1, shape[2]) if batch_first else (1, shape[1], shape[2])
