"""Tensor-parallel MLP with shard-consistent dropout: y = W2 · dropout(gelu(W1 x + b1)) + b2 with
W1 split by output rows across ranks (column-parallel) and W2 by input columns (row-parallel), as
in Megatron-LM. Each rank applies dropout to its slice of the hidden activation with
shard=fastdrop.Shard and the same seed as every other rank, so the slices together are the dropout
of the whole activation. Rank 0 checks this, the loss and W1's gradient against the unsharded model.

    torchrun --nproc_per_node 2 --master_addr 127.0.0.1 examples/distributed/tensor_parallel_mlp.py

The number of processes must divide --hidden (96: 1, 2, 3, 4, 6 or 8 processes).
"""

from __future__ import annotations

import argparse

import torch
import torch.distributed as dist
import torch.nn.functional as F

import fastdrop
import fastdrop.torch as ft


class AllReduceSum(torch.autograd.Function):
    """Sum over ranks forward, identity backward (Megatron-LM's reduce from the tensor-parallel
    region). Every rank computes the same loss from the summed output, so its own gradient is the
    whole gradient; torch.distributed.nn.functional.all_reduce would sum the ranks' identical
    gradients again, giving world_size times the gradient."""

    @staticmethod
    def forward(ctx, partial):
        total = partial.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad):
        return grad


def mlp(x, w1, b1, w2, b2, p, seed, shard=None):
    """The model, whole or on one rank's slice of the hidden units (shard, with the row-parallel
    all_reduce). Returns the hidden activation before and after dropout, and y."""
    act = F.gelu(F.linear(x, w1, b1))
    # One call, so one (seed, offset); a training loop would pass a new offset each step.
    hidden = ft.functional.dropout(act, p, seed=seed, offset=0, shard=shard)
    out = F.linear(hidden, w2)
    if shard is not None:
        out = AllReduceSum.apply(out)
    return act, hidden, out + b2


def gather(t: torch.Tensor, dim: int) -> torch.Tensor:
    """The ranks' tensors concatenated along dim, in rank order."""
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts, dim)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--inputs", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=96)
    parser.add_argument("--outputs", type=int, default=8)
    parser.add_argument("--p", type=float, default=0.3)
    args = parser.parse_args(argv)

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.hidden % world:
        raise SystemExit(f"--hidden {args.hidden} is not divisible by the {world} processes")

    # Every rank builds the whole model and data from the seed and keeps its slice. float64, so
    # that the sharded and unsharded results differ only by float64 rounding.
    gen = torch.Generator().manual_seed(args.seed)
    x = torch.randn(args.batch, args.inputs, generator=gen, dtype=torch.float64)
    target = torch.randn(args.batch, args.outputs, generator=gen, dtype=torch.float64)
    w1 = torch.randn(args.hidden, args.inputs, generator=gen, dtype=torch.float64) / args.inputs ** 0.5
    b1 = 0.1 * torch.randn(args.hidden, generator=gen, dtype=torch.float64)
    w2 = torch.randn(args.outputs, args.hidden, generator=gen, dtype=torch.float64) / args.hidden ** 0.5
    b2 = 0.1 * torch.randn(args.outputs, generator=gen, dtype=torch.float64)

    local = args.hidden // world
    start = rank * local
    rows = slice(start, start + local)
    # W1 and b1 by output rows, W2 by input columns; b2 is added once, after the sum.
    w1_local = w1[rows].clone().requires_grad_()
    b1_local = b1[rows].clone().requires_grad_()
    w2_local = w2[:, rows].clone().requires_grad_()
    shard = fastdrop.Shard((args.batch, args.hidden), 1, start)
    act_local, hidden_local, y = mlp(x, w1_local, b1_local, w2_local, b2, args.p, args.seed, shard)
    loss = F.mse_loss(y, target)
    loss.backward()

    act_sharded = gather(act_local.detach(), 1)
    hidden_sharded = gather(hidden_local.detach(), 1)
    grad_w1_sharded = gather(w1_local.grad, 0)
    if rank == 0:
        w1.requires_grad_()
        _, hidden_whole, y_whole = mlp(x, w1, b1, w2, b2, args.p, args.seed)
        loss_whole = F.mse_loss(y_whole, target)
        loss_whole.backward()
        # (a) The mask is a function of (seed, offset, logical index) only: the gathered slices
        # drop exactly the units the unsharded model drops (GELU is nonzero here, so the zeros
        # are the mask), and are the unsharded dropout of the same activation bit for bit. The
        # activations themselves may differ in the last bit: a matmul over a slice of W1 can
        # round differently from one over all of it (with 3 ranks it does on our CI machines).
        if not torch.equal(hidden_sharded == 0, hidden_whole == 0):
            raise RuntimeError("the ranks' dropout masks differ from the unsharded model's")
        if not torch.equal(hidden_sharded, ft.functional.dropout(act_sharded, args.p, seed=args.seed, offset=0)):
            raise RuntimeError("the gathered hidden dropout outputs differ from the unsharded dropout's")
        # (b) The output sums the ranks' partial products in a different order than one matmul
        # does, so the loss and gradients agree to float64 rounding, not bit for bit.
        torch.testing.assert_close(loss, loss_whole, rtol=1e-12, atol=0)
        torch.testing.assert_close(grad_w1_sharded, w1.grad, rtol=1e-12, atol=1e-14)
        dropped = (hidden_sharded == 0).double().mean().item()
        print(f"{world} ranks, hidden {args.hidden} split {local} per rank, p={args.p} (dropped {dropped:.3f})")
        print("hidden dropout: the unsharded model's mask; the unsharded dropout's outputs bit for bit")
        print(f"loss: sharded {loss.item()!r}, unsharded {loss_whole.item()!r}, "
              f"difference {abs(loss - loss_whole).item():.1e}")
        print(f"grad W1: max difference {(grad_w1_sharded - w1.grad).abs().max().item():.1e} "
              f"(max |grad| {w1.grad.abs().max().item():.1e})")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
