"""Drop-in modules: torch's constructor arguments, repr and train/eval behaviour, fastdrop's kernels.

Each subclasses the torch module it replaces, so isinstance checks, p validation (ValueError at
construction) and state_dict handling are torch's own.
"""

from __future__ import annotations

import torch

from . import functional as F
from .functional import check_mask_mode

__all__ = ["Dropout"]


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
