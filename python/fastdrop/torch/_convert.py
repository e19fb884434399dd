"""Swap torch's dropout modules in a model for fastdrop's."""

from __future__ import annotations

import torch

from . import nn

# torch module type -> fastdrop replacement; exact types only, so subclasses with their own
# behaviour are left alone.
REPLACEMENTS = {
    torch.nn.Dropout: nn.Dropout,
    torch.nn.Dropout1d: nn.Dropout1d,
    torch.nn.Dropout2d: nn.Dropout2d,
    torch.nn.Dropout3d: nn.Dropout3d,
    torch.nn.AlphaDropout: nn.AlphaDropout,
    torch.nn.FeatureAlphaDropout: nn.FeatureAlphaDropout,
}


def _replacement(module: torch.nn.Module) -> torch.nn.Module | None:
    cls = REPLACEMENTS.get(type(module))
    if cls is None:
        return None
    new = cls(module.p, module.inplace)
    new.train(module.training)
    return new


def convert(model: torch.nn.Module) -> torch.nn.Module:
    """Replace every torch dropout module in model (in place) by fastdrop's; returns the model,
    or the replacement when model itself is a dropout module. Parameters and state_dict keys are
    unchanged: dropout modules have none."""
    replaced = _replacement(model)
    if replaced is not None:
        return replaced
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            new = _replacement(child)
            if new is not None:
                setattr(parent, name, new)
    return model
