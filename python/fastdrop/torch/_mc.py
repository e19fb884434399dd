"""Monte Carlo dropout: several stochastic passes with dropout on and everything else in eval."""

from __future__ import annotations

import contextlib

import torch


def _is_dropout(module: torch.nn.Module) -> bool:
    return isinstance(module, (torch.nn.modules.dropout._DropoutNd,))


@torch.no_grad()
def mc_predict(model: torch.nn.Module, *inputs, samples: int = 30, seed: int | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance (over samples, correction 0) of model(*inputs) with dropout active.

    BatchNorm and every other module run in eval mode, so running statistics are not updated.
    With seed, the passes are reproducible and the caller's global RNG state is left as it was.
    The modules' train/eval flags are restored afterwards.
    """
    if samples < 1:
        raise ValueError(f"samples: expected at least 1, got {samples}")
    modes = {module: module.training for module in model.modules()}
    rng = torch.random.fork_rng(devices=[]) if seed is not None else contextlib.nullcontext()
    try:
        model.eval()
        for module in modes:
            if _is_dropout(module):
                module.train()
        with rng:
            if seed is not None:
                torch.manual_seed(seed)
            # Welford's running mean and variance: no stack of all samples in memory.
            mean = model(*inputs).clone()
            m2 = torch.zeros_like(mean)
            for k in range(2, samples + 1):
                sample = model(*inputs)
                delta = sample - mean
                mean += delta / k
                m2 += delta * (sample - mean)
    finally:
        for module, training in modes.items():
            module.training = training
    return mean, m2 / samples
