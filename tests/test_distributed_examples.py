"""The distributed examples as torchrun launches them: gloo on the loopback interface only, each
launch bounded in time."""

import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import import_or_skip

torch = import_or_skip("torch", "torch")

if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "distributed"
TIMEOUT = 120
# gloo otherwise listens on the interface the host name resolves to.
LOOPBACK = next((name for _, name in socket.if_nameindex() if name in ("lo", "lo0")), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(script: str, nproc: int, *args: str) -> str:
    """stdout of the example run by torchrun with nproc processes; fails on an error or timeout."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
               "--master_addr", "127.0.0.1", "--master_port", str(free_port()), str(EXAMPLES / script), *args]
    env = dict(os.environ)
    if LOOPBACK:
        env["GLOO_SOCKET_IFNAME"] = LOOPBACK
    # Files, not pipes: a worker that outlived torchrun could hold a pipe open indefinitely.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, text=True, env=env)
        try:
            proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            # On SIGTERM torchrun ends its workers (each in a session of its own), then exits.
            proc.terminate()
            proc.wait(60)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    assert proc.returncode == 0, f"{script} with {nproc} processes failed or took over {TIMEOUT} s:\n{stdout}\n{stderr}"
    return stdout


def final_line(out: str) -> str:
    match = re.search(r"^final loss .*$", out, re.MULTILINE)
    assert match, out
    return match.group(0)


def test_ddp_train_reproducible_with_distinct_rank_masks():
    first = torchrun("ddp_train.py", 2, "--seed", "0")
    assert "(all distinct)" in first
    losses = [float(m) for m in re.findall(r"mean training loss (\S+)", first)]
    assert len(losses) == 5 and losses[-1] < losses[0]
    assert final_line(torchrun("ddp_train.py", 2, "--seed", "0")) == final_line(first)
    assert final_line(torchrun("ddp_train.py", 2, "--seed", "1")) != final_line(first)


def test_tensor_parallel_mlp_matches_unsharded():
    # 4 processes (the README's 2 run the same code; each launch costs seconds of imports).
    out = torchrun("tensor_parallel_mlp.py", 4)
    assert "4 ranks" in out
    assert "bit for bit" in out and "grad W1: max difference" in out
