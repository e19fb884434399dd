"""The one list of fastdrop's public ops: what each is, and where each layer implements it.

Everything that is the same for every op is derived from this list instead of being written once
per op: the public functions of ``fastdrop`` (routing NumPy arrays, torch tensors and other
frameworks' arrays, see ``_api``), their ``*_backward`` siblings, and the op lists that the
cross-cutting tests iterate (errors, shards, DLPack, backends and ISAs, determinism). Adding an
op is one entry here; its code lives in files named by its stem (docs/adding-an-op.md).

This module imports no op: entries name their functions as "module:function" strings, relative
to the fastdrop package, loaded by ``_api`` when ``fastdrop`` is imported.
"""

from __future__ import annotations

from typing import NamedTuple

DTYPES = ("float16", "bfloat16", "float32", "float64")


class OpSpec(NamedTuple):
    name: str
    """The public name, in ``fastdrop`` and in ``fastdrop.torch.functional``."""
    stem: str
    """The stem of the files implementing it in every layer: the op's own name, or the shared entry
    point it is a registry entry over (``apply_mask_bits``: the units family)."""
    units: str
    """What one random decision covers (docs/design.md, Units)."""
    numpy: str
    """The NumPy front-end, "module:function" under fastdrop."""
    backward: str | None = None
    """The NumPy backward, exported as ``fastdrop.<name>_backward``, or None."""
    arrays: int = 1
    """How many leading arguments are arrays (routed to torch when any is a tensor; converted
    through DLPack when they are another framework's)."""
    mask_storages: tuple[str, ...] = ("recompute", "bits", "bool")
    """How its mask can be kept for backward or returned: regenerated from (seed, offset), one bit
    per unit, or a bool per unit (return_mask=True)."""
    shards: bool = True
    """Whether it takes ``shard=fastdrop.Shard(...)``."""
    dtypes: tuple[str, ...] = DTYPES


OPS: tuple[OpSpec, ...] = (
    OpSpec("dropout", "dropout", "element (or noise_shape element)", "_numpy.dropout:dropout",
           "_numpy.dropout:dropout_backward"),
    OpSpec("dropout1d", "apply_mask_bits", "(sample, channel)", "_numpy.apply_mask_bits:dropout1d",
           mask_storages=("bits", "bool")),
    OpSpec("dropout2d", "apply_mask_bits", "(sample, channel)", "_numpy.apply_mask_bits:dropout2d",
           mask_storages=("bits", "bool")),
    OpSpec("dropout3d", "apply_mask_bits", "(sample, channel)", "_numpy.apply_mask_bits:dropout3d",
           mask_storages=("bits", "bool")),
    OpSpec("alpha_dropout", "alpha_dropout", "element", "_numpy.alpha_dropout:alpha_dropout",
           "_numpy.alpha_dropout:alpha_dropout_backward", mask_storages=("bits", "bool")),
    OpSpec("feature_alpha_dropout", "apply_mask_bits", "(sample, channel)",
           "_numpy.apply_mask_bits:feature_alpha_dropout", mask_storages=("bits", "bool")),
    OpSpec("stochastic_depth", "apply_mask_bits", "sample ('row') or batch ('batch')",
           "_numpy.apply_mask_bits:stochastic_depth", mask_storages=("bits", "bool")),
    OpSpec("gaussian_dropout", "gaussian_dropout", "element (a Box-Muller normal)",
           "_numpy.gaussian_dropout:gaussian_dropout", "_numpy.gaussian_dropout:gaussian_dropout_backward",
           mask_storages=("recompute",)),
    OpSpec("bias_dropout_add", "bias_dropout_add", "element", "_numpy.bias_dropout_add:bias_dropout_add",
           "_numpy.bias_dropout_add:bias_dropout_add_backward", arrays=3),
    OpSpec("bias_act_dropout", "bias_act_dropout", "element", "_numpy.bias_act_dropout:bias_act_dropout",
           "_numpy.bias_act_dropout:bias_act_dropout_backward", arrays=2),
    OpSpec("drop_block2d", "drop_block2d", "block seed per element of (N, C, H, W)",
           "_numpy.drop_block2d:drop_block2d", "_numpy.drop_block2d:drop_block2d_backward", shards=False),
    OpSpec("dropconnect", "dropconnect", "weight element", "_numpy.dropconnect:dropconnect",
           mask_storages=("recompute",)),
    OpSpec("dropconnect_linear", "dropconnect", "weight element", "_numpy.dropconnect:dropconnect_linear",
           "_numpy.dropconnect:dropconnect_linear_backward", arrays=3, mask_storages=("recompute",)),
)

BY_NAME = {spec.name: spec for spec in OPS}
