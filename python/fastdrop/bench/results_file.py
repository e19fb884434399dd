"""The JSON file of a run (`fastdrop bench --json PATH`): writing it, and reading it back in the
current schema whatever schema it was written in. bench/results/README.md describes the fields.

Schema 2 added "schema", the GPUs, the device (of the run and of each result) and "kept_bytes"; a
file without "schema" is schema 1: CPU results, and the bytes kept are those of each result's mask.
"""

from __future__ import annotations

import json

from . import copy_calls
from .cases import DROPOUT_P, kept_for_mask
from .inputs import ITEMSIZE
from .runner import Result, Settings

SCHEMA = 2


def _result_json(r: Result) -> dict:
    c = r.case
    entry = {
        "id": c.id, "op": c.op, "backend": c.backend, "device": c.device, "dtype": c.dtype, "size": c.size,
        "direction": c.direction, "mode": c.mode, "mask": c.mask, "bytes": r.bytes_moved,
        "kept_bytes": r.kept_bytes, "skipped": r.skipped, "error": r.error,
    }
    if r.timing is not None:
        q1, q3 = r.timing.quartiles
        entry.update(
            seconds_per_call=list(r.timing.seconds_per_call),
            calls_per_round=list(r.timing.calls_per_round),
            median_s=r.timing.median, min_s=r.timing.min, q1_s=q1, q3_s=q3,
            gbps=r.gbps, fraction_of_copy=r.fraction_of_copy, speedup_vs_torch=r.speedup_vs_torch,
            other_load=r.other_load,
        )
    return entry


def to_json(results: list[Result], settings: Settings, machine: dict, threads: dict, device: str) -> dict:
    return {
        "schema": SCHEMA,
        "machine": machine,
        "settings": {
            "device": device,
            "repeats": settings.repeats,
            "min_batch_s": settings.min_batch_s,
            "threads": threads,
            "dropout_p": DROPOUT_P,
            "copy": copy_calls.implementation(),
        },
        "results": [_result_json(r) for r in results],
    }


def _upgrade_from_1(run: dict) -> None:
    run["machine"]["gpus"] = []
    run["settings"]["device"] = "cpu"
    for r in run["results"]:
        r["device"] = "cpu"
        r["kept_bytes"] = kept_for_mask(r["mask"], r["size"], ITEMSIZE[r["dtype"]])


def load(path: str) -> dict:
    """A run's JSON file, in the current schema."""
    with open(path) as source:
        run = json.load(source)
    if "results" not in run or "machine" not in run:
        raise ValueError(f"{path}: not a fastdrop bench JSON file (no 'results' or 'machine')")
    schema = run.setdefault("schema", 1)
    if schema > SCHEMA:
        raise ValueError(f"{path}: written in schema {schema}; this fastdrop reads up to {SCHEMA}")
    if schema == 1:
        _upgrade_from_1(run)
    run["schema"] = SCHEMA
    return run
