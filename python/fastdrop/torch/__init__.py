"""fastdrop for PyTorch: custom ops with autograd and torch.compile support, drop-in modules,
model conversion and Monte Carlo dropout."""

from . import functional, nn
from ._convert import convert
from ._mc import mc_predict

__all__ = ["convert", "functional", "mc_predict", "nn"]
