"""An MLP on scikit-learn's digits (shipped with scikit-learn, no download), trained once with
torch.nn.Dropout and once with fastdrop's, printing accuracy and seconds per epoch of each.

    python examples/digits_mlp.py [--epochs 30]
"""

from __future__ import annotations

import argparse
import time

import torch

import fastdrop.torch as ft


def load_digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits as sk_load_digits

    data = sk_load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16.0
    y = torch.tensor(data.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    x, y = x[order], y[order]
    split = int(0.8 * len(x))
    return x[:split], y[:split], x[split:], y[split:]


def make_mlp(dropout_cls, width: int) -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Linear(64, width), torch.nn.ReLU(), dropout_cls(0.5),
        torch.nn.Linear(width, width), torch.nn.ReLU(), dropout_cls(0.5),
        torch.nn.Linear(width, 10),
    )


def run(dropout_cls, data, epochs: int, width: int, batch: int) -> tuple[float, float]:
    x_train, y_train, x_test, y_test = data
    torch.manual_seed(0)
    model = make_mlp(dropout_cls, width)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    epoch_times = []
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        for i in range(0, len(x_train), batch):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x_train[i:i + batch]), y_train[i:i + batch]).backward()
            opt.step()
        epoch_times.append(time.perf_counter() - start)
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    # The median epoch: robust to the first epoch's warm-up and to a noisy machine.
    return accuracy, sorted(epoch_times)[len(epoch_times) // 2]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)
    data = load_digits()
    results = {}
    for name, cls in (("torch.nn.Dropout", torch.nn.Dropout), ("fastdrop Dropout", ft.nn.Dropout)):
        accuracy, epoch = run(cls, data, args.epochs, args.width, args.batch)
        results[name] = (accuracy, epoch)
        print(f"{name:>17}: test accuracy {accuracy:.3f}, {epoch * 1e3:.1f} ms per epoch")
    torch_epoch, fastdrop_epoch = results["torch.nn.Dropout"][1], results["fastdrop Dropout"][1]
    print(f"epoch time ratio torch / fastdrop: {torch_epoch / fastdrop_epoch:.2f}x")
    return results


if __name__ == "__main__":
    main()
