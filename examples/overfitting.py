"""Dropout against over-fitting, the classic demonstration: 20 noisy points of y = x + noise, a
1-300-300-1 ReLU network trained 500 steps with and without dropout (p = 0.5, fastdrop's module),
then the test loss of each (averaged over a few draws of the data: one draw of 20 points is noisy)
and a plot of both fits on the first draw.

    python examples/overfitting.py [--steps 500] [--trials 3] [--plot overfitting.png]
"""

from __future__ import annotations

import argparse

import torch

import fastdrop.torch as ft


def make_data(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.linspace(-1, 1, n).unsqueeze(1)
    return x, x + 0.3 * torch.randn(x.shape, generator=generator)


def make_net(p: float) -> torch.nn.Sequential:
    layers = [torch.nn.Linear(1, 300), torch.nn.ReLU()]
    layers += [ft.nn.Dropout(p)] if p else []
    layers += [torch.nn.Linear(300, 300), torch.nn.ReLU()]
    layers += [ft.nn.Dropout(p)] if p else []
    layers += [torch.nn.Linear(300, 1)]
    return torch.nn.Sequential(*layers)


def train(net, x, y, steps: int) -> None:
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    net.train()
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        opt.step()
    net.eval()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--plot", default="overfitting.png", help="PNG path, or '' for none")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    losses = {"no dropout": [], "dropout p=0.5": []}
    for trial in range(args.trials):
        torch.manual_seed(args.seed + trial)
        data_gen = torch.Generator().manual_seed(args.seed + trial)
        x_train, y_train = make_data(20, data_gen)
        x_test, y_test = make_data(20, data_gen)
        nets = {"no dropout": make_net(0.0), "dropout p=0.5": make_net(0.5)}
        for name, net in nets.items():
            train(net, x_train, y_train, args.steps)
            with torch.no_grad():
                losses[name].append(torch.nn.functional.mse_loss(net(x_test), y_test).item())
        if trial == 0:
            first = (x_train, y_train, x_test, y_test, nets)
    losses = {name: sum(values) / len(values) for name, values in losses.items()}
    for name, loss in losses.items():
        print(f"{name:>14}: mean test loss over {args.trials} draws {loss:.4f}")

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        x_train, y_train, x_test, y_test, nets = first
        grid = torch.linspace(-1, 1, 200).unsqueeze(1)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.scatter(x_train, y_train, c="tab:red", label="train")
        ax.scatter(x_test, y_test, c="tab:blue", label="test")
        with torch.no_grad():
            for (name, net), style in zip(nets.items(), ("r-", "b--")):
                ax.plot(grid, net(grid), style, label=name)
        ax.legend()
        ax.set_title("Over-fitting with and without dropout (first draw)")
        fig.savefig(args.plot, dpi=100)
        print(f"plot saved to {args.plot}")
    return losses


if __name__ == "__main__":
    main()
