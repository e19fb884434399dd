"""Shard-consistent dropout across processes: torch.distributed on gloo over loopback, 2 and 4
processes. Each process computes its slice of a logical tensor with shard=, forward and backward;
the gathered outputs and gradients must equal the single-process results bit for bit, for every op
of the registry that shards, split along the first dimension (sequence parallelism) and the last
(tensor parallelism)."""

from __future__ import annotations

import os
import socket
import traceback

import pytest

from conftest import import_or_skip

torch = import_or_skip("torch", "torch")
dist = import_or_skip("torch.distributed", "torch")
mp = import_or_skip("torch.multiprocessing", "torch")

import fastdrop  # noqa: E402
from fastdrop._registry import OPS  # noqa: E402
from fastdrop.torch import functional as F  # noqa: E402

if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

# Seconds a whole multi-process run may take before the test fails (2 shared cores in CI).
TIMEOUT = 120
SHAPE = (8, 6, 16)
SEED = 1234


def _bias_of(x, shard):
    bias = torch.linspace(-1, 1, SHAPE[-1], dtype=x.dtype)
    if shard is not None and shard.dim == len(SHAPE) - 1:
        bias = bias[shard.start:shard.start + x.shape[-1]]
    return bias


def _unit_depth(shard):
    """The shard of SHAPE seen with a trailing dimension of 1 (dropout3d's (C, D, H, W))."""
    return None if shard is None else fastdrop.Shard(tuple(shard.global_shape) + (1,), shard.dim, shard.start)


# How each op of the registry that shards is called on a shard of SHAPE (fn(x, shard)); bias and
# weight operands are built from the shard so that every process holds its own slice.
CALLS = {
    "dropout": lambda x, s: F.dropout(x, 0.3, seed=SEED, shard=s),
    "dropout1d": lambda x, s: F.dropout1d(x, 0.3, seed=SEED, shard=s),
    "dropout2d": lambda x, s: F.dropout2d(x, 0.3, seed=SEED, shard=s),
    "dropout3d": lambda x, s: F.dropout3d(x.unsqueeze(-1), 0.3, seed=SEED, shard=_unit_depth(s)).squeeze(-1),
    "alpha_dropout": lambda x, s: F.alpha_dropout(x, 0.3, True, seed=SEED, shard=s),
    "feature_alpha_dropout": lambda x, s: F.feature_alpha_dropout(x, 0.3, True, seed=SEED, shard=s),
    "stochastic_depth": lambda x, s: F.stochastic_depth(x, 0.3, "row", seed=SEED, shard=s),
    "gaussian_dropout": lambda x, s: F.gaussian_dropout(x, 0.3, seed=SEED, shard=s),
    "bias_dropout_add": lambda x, s: F.bias_dropout_add(x, _bias_of(x, s), x.detach() * 0.5, 0.3, seed=SEED,
                                                        shard=s),
    "bias_act_dropout": lambda x, s: F.bias_act_dropout(x, _bias_of(x, s), 0.3, activation="gelu", seed=SEED,
                                                        shard=s),
    "dropconnect": lambda x, s: F.dropconnect(x, 0.3, seed=SEED, shard=s),
}
# Calls beyond one per op: dropout's entry point shards with a noise shape too.
VARIANTS = {"noise_shape": lambda x, s: F.dropout(x, 0.3, seed=SEED, noise_shape=(None, 1, None), shard=s)}
# Ops of the registry that shard but are not run here, and why.
NOT_HERE = {"dropconnect_linear": "shards its 2-D weight, masked as dropconnect's (run here); "
                                  "tests/test_shard.py checks its slices"}


def _ops():
    """name -> fn(x, shard): each op of the registry that shards, and the variants."""
    return {**{spec.name: CALLS[spec.name] for spec in OPS if spec.shards and spec.name not in NOT_HERE}, **VARIANTS}


def test_every_op_that_shards_has_its_call():
    assert sorted([*CALLS, *NOT_HERE]) == sorted(spec.name for spec in OPS if spec.shards)


def _full_input(dtype):
    return torch.arange(torch.Size(SHAPE).numel(), dtype=dtype).reshape(SHAPE).sin()


def _run_op(fn, x, shard):
    x = x.clone().requires_grad_()
    y = fn(x, shard)
    # An upstream gradient that differs per element, sliced like the input.
    grad = torch.cos(torch.arange(torch.Size(SHAPE).numel(), dtype=x.dtype)).reshape(SHAPE)
    if shard is not None:
        grad = grad.narrow(shard.dim, shard.start, x.shape[shard.dim])
    y.backward(grad.contiguous())
    return y.detach(), x.grad


def _worker(rank, world, port, failures):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    try:
        dist.init_process_group("gloo", rank=rank, world_size=world)
        for dtype in (torch.float32, torch.float64):
            full = _full_input(dtype)
            for name, fn in _ops().items():
                want_y, want_grad = _run_op(fn, full, None)
                for dim in (0, len(SHAPE) - 1):
                    size = SHAPE[dim] // world
                    shard = fastdrop.Shard(SHAPE, dim, rank * size)
                    y, grad = _run_op(fn, full.narrow(dim, rank * size, size).contiguous(), shard)
                    for what, local, want in (("output", y, want_y), ("gradient", grad, want_grad)):
                        gathered = [torch.empty_like(local) for _ in range(world)]
                        dist.all_gather(gathered, local.contiguous())
                        if not torch.equal(torch.cat(gathered, dim), want):
                            failures.put(f"{name} {dtype} dim={dim} world={world}: gathered {what} differs")
        dist.destroy_process_group()
    except Exception:  # reported to the parent, which fails the test with it
        failures.put(f"rank {rank}: {traceback.format_exc()}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("world", [2, 4])
def test_gathered_shards_equal_the_whole_tensor(world):
    ctx = mp.get_context("spawn")
    failures = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(rank, world, port, failures)) for rank in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(TIMEOUT)
    hung = [p for p in procs if p.is_alive()]
    for p in hung:
        p.kill()
    messages = []
    while not failures.empty():
        messages.append(failures.get())
    assert not hung, f"{len(hung)} of {world} processes did not finish within {TIMEOUT} s"
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    assert not messages, "\n".join(messages)


def test_shard_errors():
    x = torch.zeros(2, 6, 16)
    with pytest.raises(ValueError, match="only dimension 2 may be split"):
        F.dropout(x, 0.3, seed=1, shard=fastdrop.Shard(SHAPE, 2, 0))
    with pytest.raises(ValueError, match="outside"):
        F.dropout(x, 0.3, seed=1, shard=fastdrop.Shard((8, 6, 16), 0, 7))
    with pytest.raises(ValueError, match="dimensions"):
        F.dropout(x, 0.3, seed=1, shard=fastdrop.Shard((8, 6), 0, 0))
    with pytest.raises(ValueError, match="pairs"):
        F.gaussian_dropout(torch.zeros(8, 6, 3), 0.3, seed=1, shard=fastdrop.Shard(SHAPE, 2, 1))
    with pytest.raises(TypeError, match="fastdrop.Shard"):
        F.dropout(x, 0.3, seed=1, shard=(SHAPE, 0, 0))
