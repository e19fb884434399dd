"""Argument checks shared by the front-ends: each error names the argument and what was expected."""

from __future__ import annotations

import numbers


def check_p(p) -> float:
    """A dropout probability: a real number in [0, 1]."""
    # torch.compile may pass a float argument as a SymFloat: accept it, and compare rather than
    # call math.isnan, which it cannot trace (NaN fails both comparisons).
    symbolic = type(p).__name__ == "SymFloat"
    if not symbolic and (isinstance(p, bool) or not isinstance(p, numbers.Real)):
        raise TypeError(f"p: expected a real number in [0, 1], got {type(p).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p: dropout probability has to be between 0 and 1, but got {p}")
    return p if symbolic else float(p)


def check_mask_format(mask_format: str) -> str:
    if mask_format not in ("bool", "bits"):
        raise ValueError(f"mask_format: expected 'bool' or 'bits', got {mask_format!r}")
    return mask_format


def check_activation(activation, approximate) -> str:
    """The kernels' name (relu, gelu or gelu_tanh) of an activation named as torch names it:
    activation 'relu' or 'gelu', and for gelu approximate 'none' (erf) or 'tanh'."""
    if activation not in ("relu", "gelu"):
        raise ValueError(f"activation: expected 'relu' or 'gelu', got {activation!r}")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate: expected 'none' or 'tanh', got {approximate!r}")
    if activation == "relu":
        if approximate != "none":
            raise ValueError(f"approximate: only activation='gelu' takes one, got {approximate!r} with 'relu'")
        return "relu"
    return "gelu" if approximate == "none" else "gelu_tanh"
