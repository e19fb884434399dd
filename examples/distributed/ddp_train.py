"""Data-parallel training with fastdrop's dropout: an MLP on synthetic data, DistributedDataParallel
on gloo (CPU), every random choice derived from one --seed. Each rank draws its own dropout masks;
two runs with the same seed (and number of processes) print the same loss and parameter fingerprint.

    torchrun --nproc_per_node 2 --master_addr 127.0.0.1 examples/distributed/ddp_train.py --seed 0
"""

from __future__ import annotations

import argparse
import hashlib

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

import fastdrop.torch as ft

FEATURES, CLASSES = 20, 4


def make_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The same n samples on every rank (DistributedSampler then gives each rank its share):
    Gaussian inputs labelled by a random linear teacher."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, FEATURES, generator=gen)
    teacher = torch.randn(FEATURES, CLASSES, generator=gen)
    return x, (x @ teacher).argmax(1)


def make_mlp(width: int, p: float) -> torch.nn.Sequential:
    # Tanh is zero only where its input is, so a dropout output's zeros are exactly its mask.
    return torch.nn.Sequential(
        torch.nn.Linear(FEATURES, width), torch.nn.Tanh(), ft.nn.Dropout(p),
        torch.nn.Linear(width, width), torch.nn.Tanh(), ft.nn.Dropout(p),
        torch.nn.Linear(width, CLASSES),
    )


def rank_seed(seed: int, rank: int) -> int:
    """The seed of a rank's dropout stream. SeedSequence hashes the pair, so distinct (seed, rank)
    pairs get unrelated streams (seed + rank would give run 0's rank 1 run 1's rank 0 stream)."""
    return int(np.random.SeedSequence((seed, rank)).generate_state(1, np.uint64)[0])


def fingerprint(tensors) -> str:
    digest = hashlib.sha256()
    for t in tensors:
        digest.update(t.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=32, help="per rank")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--p", type=float, default=0.2)
    args = parser.parse_args(argv)

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()

    x, y = make_data(args.samples, args.seed)
    # The same initial weights on every rank (DDP would broadcast rank 0's anyway).
    torch.manual_seed(args.seed)
    model = make_mlp(args.width, args.p)
    # fastdrop's modules draw each call's seed from torch's default generator. Seeded alike, every
    # replica would drop the same units of its batch (the mask does not depend on the data), so
    # the global batch's masks would repeat world times. Reseeded per rank after the shared
    # initialisation, each rank has its own mask stream, still fixed by --seed.
    torch.manual_seed(rank_seed(args.seed, rank))
    ddp = DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    sampler = DistributedSampler(torch.utils.data.TensorDataset(x, y), seed=args.seed)

    # The first dropout's mask on the first batch.
    first_mask = []

    def record_first_mask(module, inputs, output):
        first_mask.append(output != 0)
        handle.remove()

    handle = model[2].register_forward_hook(record_first_mask)
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        # The sampler's indices used directly: a DataLoader would also draw from the default generator.
        indices = torch.tensor(list(sampler))
        losses = []
        for batch in indices.split(args.batch):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(ddp(x[batch]), y[batch])
            loss.backward()
            opt.step()
            losses.append(loss.item())
        total = torch.tensor([sum(losses), len(losses)], dtype=torch.float64)
        dist.all_reduce(total)
        if rank == 0:
            print(f"epoch {epoch}: mean training loss {(total[0] / total[1]).item():.6f}")

    # The ranks' first masks, hashed and gathered: all must differ.
    mask_hashes = [None] * world
    dist.all_gather_object(mask_hashes, fingerprint(first_mask))
    if len(set(mask_hashes)) != world:
        raise RuntimeError(f"ranks drew the same dropout masks: {mask_hashes}")

    # Freed before the process group: a DDP wrapper freed after destroy_process_group drops the
    # group's last reference while holding the GIL, and gloo's worker threads, which may still
    # need the GIL to free a finished collective's tensors, then deadlock its destructor.
    del ddp
    model.eval()
    with torch.no_grad():
        logits = model(x)
        final_loss = torch.nn.functional.cross_entropy(logits, y).item()
        accuracy = (logits.argmax(1) == y).double().mean().item()
    if rank == 0:
        print(f"first-batch dropout masks by rank: {' '.join(mask_hashes)} (all distinct)")
        print(f"final loss {final_loss!r} accuracy {accuracy:.4f} parameters {fingerprint(model.parameters())}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
