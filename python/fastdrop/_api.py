"""fastdrop's public functions, built from the registry: one routing wrapper serves every op.

A call whose leading array arguments include a torch tensor goes to the op of the same name in
fastdrop.torch.functional (differentiable; ``out`` then receives the result through
Tensor.copy_); other frameworks' arrays go through DLPack; NumPy arrays go to the NumPy front-end,
whose signature and docstring the public function carries.
"""

from __future__ import annotations

import functools
import importlib
import inspect

from ._common.arrays import is_torch_tensor
from ._common.dlpack import accepts_foreign_arrays
from ._registry import OpSpec


def load(where: str):
    """The function a registry entry names as "module:function" under fastdrop."""
    module, _, name = where.partition(":")
    return getattr(importlib.import_module(f"fastdrop.{module}"), name)


def public_function(spec: OpSpec):
    """fastdrop.<name>: the NumPy front-end, routed to torch for tensors and DLPack for others."""
    numpy_fn = load(spec.numpy)
    signature = inspect.signature(numpy_fn)

    @functools.wraps(numpy_fn)
    def op(*args, **kwargs):
        if not any(is_torch_tensor(a) for a in args[: spec.arrays]):
            return numpy_fn(*args, **kwargs)
        # The NumPy signature checks the arguments, so that both kinds of input take the same ones.
        bound = signature.bind(*args, **kwargs)
        arguments = bound.arguments
        for name, parameter in signature.parameters.items():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                arguments.update(arguments.pop(name, {}))
        if arguments.pop("return_mask", False):
            raise TypeError("return_mask: supported for NumPy arrays; torch tensors keep their mask for backward "
                            f"(fastdrop.torch.functional.{spec.name})")
        arguments.pop("mask_format", None)
        out = arguments.pop("out", None)
        arguments.setdefault("training", True)
        arrays = [arguments.pop(name) for name in list(arguments)[: spec.arrays]]
        from .torch import functional

        y = getattr(functional, spec.name)(*arrays, **arguments)
        return y if out is None else out.copy_(y)

    return accepts_foreign_arrays(op, spec.arrays)


def public_functions(specs) -> dict:
    """{name: function} for every op of the registry and its NumPy backward."""
    functions = {}
    for spec in specs:
        functions[spec.name] = public_function(spec)
        if spec.backward is not None:
            functions[f"{spec.name}_backward"] = load(spec.backward)
    return functions
