"""fastdrop for PyTorch: custom ops with autograd and torch.compile support, drop-in modules."""

from . import functional

__all__ = ["functional"]
