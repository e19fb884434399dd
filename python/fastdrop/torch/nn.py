"""Drop-in modules: torch's constructor arguments, repr and train/eval behaviour, fastdrop's kernels.

Each subclasses the torch module it replaces, so isinstance checks, p validation (ValueError at
construction) and state_dict handling are torch's own.
"""

from __future__ import annotations

import torch

from .._common.checks import check_activation, check_p
from .._rules.apply_mask_bits import locked_noise_shape, stochastic_depth_noise_shape
from .._rules.drop_block2d import check_block_size, check_eps
from .._rules.gaussian_dropout import check_gaussian_p
from . import functional as F
from .functional import check_mask_mode

__all__ = [
    "AlphaDropout",
    "BiasActDropout",
    "BiasDropoutAdd",
    "DropBlock2d",
    "DropConnectLinear",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "FeatureAlphaDropout",
    "GaussianDropout",
    "LockedDropout",
    "StochasticDepth",
    "WeightDrop",
]


class Dropout(torch.nn.Dropout):
    """torch.nn.Dropout with fastdrop's fused kernel. mask_mode: what backward keeps ('bits': one
    bit per element, 'recompute': only the seed; None: the device's faster one)."""

    def __init__(self, p: float = 0.5, inplace: bool = False, *, mask_mode: str | None = None):
        super().__init__(p, inplace)
        self.mask_mode = check_mask_mode(mask_mode)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.dropout(input, self.p, self.training, self.inplace, mask_mode=self.mask_mode)

    def extra_repr(self) -> str:
        extra = super().extra_repr()
        return extra if self.mask_mode is None else f"{extra}, mask_mode={self.mask_mode!r}"


class Dropout1d(torch.nn.Dropout1d):
    """torch.nn.Dropout1d: one unit per (sample, channel) of (N, C, L) or (C, L) inputs."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(torch.nn.Dropout2d):
    """torch.nn.Dropout2d: one unit per (sample, channel) of (N, C, H, W) or (C, H, W) inputs; a
    3-D input is unbatched (C, H, W), as torch's documentation says."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(torch.nn.Dropout3d):
    """torch.nn.Dropout3d: one unit per (sample, channel) of (N, C, D, H, W) or (C, D, H, W) inputs."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(torch.nn.AlphaDropout):
    """torch.nn.AlphaDropout with fastdrop's fused kernel."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.alpha_dropout(input, self.p, self.training, self.inplace)


class FeatureAlphaDropout(torch.nn.FeatureAlphaDropout):
    """torch.nn.FeatureAlphaDropout: alpha dropout with one unit per (sample, channel)."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.feature_alpha_dropout(input, self.p, self.training, self.inplace)


class LockedDropout(torch.nn.Module):
    """Locked (variational) dropout for RNN activations (Gal & Ghahramani; AWD-LSTM): one mask per
    sequence, shared over time. Inputs are (T, B, H), or (B, T, H) with batch_first."""

    def __init__(self, p: float = 0.5, batch_first: bool = False):
        super().__init__()
        check_p(p)
        self.p, self.batch_first = p, batch_first

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.broadcast_dropout(input, self.p, locked_noise_shape(tuple(input.shape), self.batch_first),
                                   self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, batch_first={self.batch_first}"


class StochasticDepth(torch.nn.Module):
    """torchvision.ops.StochasticDepth: drop whole residual branches per sample ('row') or for the
    whole batch ('batch') with probability p."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        check_p(p)
        stochastic_depth_noise_shape((), mode)
        self.p, self.mode = p, mode

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.stochastic_depth(input, self.p, self.mode, self.training)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p}, mode={self.mode})"


class DropBlock2d(torch.nn.Module):
    """torchvision.ops.DropBlock2d: zeroes blocks of block_size x block_size elements of each map in
    training and scales the rest by numel / (eps + kept); identity in eval or with p = 0. Invalid
    p, block_size (even, below 1) and eps raise at construction; a block larger than the input's
    maps raises at the call."""

    def __init__(self, p: float, block_size: int, inplace: bool = False, eps: float = 1e-06) -> None:
        super().__init__()
        self.p = check_p(p)
        self.block_size = check_block_size(block_size)
        self.inplace = inplace
        self.eps = check_eps(eps)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.drop_block2d(input, self.p, self.block_size, self.inplace, self.eps, self.training)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p}, block_size={self.block_size}, inplace={self.inplace})"


class BiasDropoutAdd(torch.nn.Module):
    """residual + dropout(x + bias), fused: forward(x, bias, residual) with bias None allowed."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = check_p(p)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None, residual: torch.Tensor) -> torch.Tensor:
        return F.bias_dropout_add(x, bias, residual, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BiasActDropout(torch.nn.Module):
    """dropout(act(input + bias)), fused, for input whose last dimension has `features` values:
    the bias is this module's Parameter (zeros at first), act relu or gelu (approximate 'none' or
    'tanh'). In eval mode act(input + bias)."""

    def __init__(self, features: int, p: float = 0.5, activation: str = "relu", approximate: str = "none",
                 device=None, dtype=None):
        super().__init__()
        self.p = check_p(p)
        check_activation(activation, approximate)
        self.activation, self.approximate = activation, approximate
        self.bias = torch.nn.Parameter(torch.zeros(features, device=device, dtype=dtype))

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.bias_act_dropout(input, self.bias, self.p, self.training, self.activation, self.approximate)

    def extra_repr(self) -> str:
        extra = f"features={self.bias.shape[0]}, p={self.p}, activation={self.activation!r}"
        return extra if self.approximate == "none" else f"{extra}, approximate={self.approximate!r}"


class DropConnectLinear(torch.nn.Linear):
    """torch.nn.Linear with DropConnect on its weight in training: each weight is zeroed with
    probability p (one mask per call, shared by the batch) and the rest scaled by 1/(1-p). The
    parameters and state_dict are torch.nn.Linear's; in eval mode it is a plain linear layer."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, p: float = 0.5,
                 device=None, dtype=None):
        p = check_p(p)
        super().__init__(in_features, out_features, bias, device, dtype)
        self.p = p

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.dropconnect_linear(input, self.weight, self.bias, self.p, self.training)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}"


class WeightDrop(torch.nn.Module):
    """DropConnect on named parameters of any module (AWD-LSTM's weight drop), e.g.
    WeightDrop(torch.nn.LSTM(8, 16), ["weight_hh_l0"], p=0.5).

    Each training forward calls the wrapped module with those parameters replaced by a fresh
    dropconnect of them (torch.func.functional_call), so the original Parameters stay registered
    in the wrapped module and get their gradients through the mask. In eval mode the module runs
    with its weights unchanged. The state_dict is the wrapped module's with keys prefixed by
    "module."; to load a plain module's state, use wrapper.module.load_state_dict(state).
    """

    def __init__(self, module: torch.nn.Module, weights: list[str], p: float = 0.5):
        if isinstance(weights, str) or not all(isinstance(name, str) for name in weights):
            raise TypeError(f"weights: expected a list of parameter names, got {weights!r}")
        params = dict(module.named_parameters())
        if not weights or any(name not in params for name in weights):
            raise ValueError(f"weights: expected names of the module's parameters ({', '.join(params)}), "
                             f"got {list(weights)!r}")
        p = check_p(p)
        super().__init__()
        self.module = module
        self.weights = list(weights)
        self.p = p

    def forward(self, *args, **kwargs):
        if not self.training:
            return self.module(*args, **kwargs)
        dropped = {name: F.dropconnect(self.module.get_parameter(name), self.p) for name in self.weights}
        return torch.func.functional_call(self.module, dropped, args, kwargs)

    def extra_repr(self) -> str:
        return f"weights={self.weights}, p={self.p}"


class GaussianDropout(torch.nn.Module):
    """Keras's GaussianDropout: multiplies each element by noise n ~ N(1, p / (1 - p)) in training,
    identity in eval. p (the rate) must lie in [0, 1). Backward regenerates the noise from the
    call's seed: nothing of the input's size is stored."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = check_gaussian_p(p)
        self.inplace = inplace

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.gaussian_dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
