"""One mechanism for the torch layer's ops: from an op's forward, backward and fake kernels, the
torch.library custom ops that torch.compile(fullgraph=True) traces (fake kernels, registered
autograd), the pair of eager autograd.Functions that run the same kernels without the custom-op
dispatch (about 100 microseconds a call, more than the kernel on small tensors), and the call
that picks one of them.

An op fastdrop::<name> takes tensors and scalars and returns (y, *kept): y the result, kept what
its backward needs (mask bits, (seed, offset), a scale). A Backward fastdrop::<name>_backward
takes (grad, *values) and returns the gradient of the op's first input. A gradient formula,
formula(backward, needs, grad, *values), gets the backward to go through (the custom op on the
custom-op path, the eager Function's apply on the eager one, so that both stay differentiable),
ctx.needs_input_grad, and the values it names by its parameters: the op's inputs by their
names, its outputs by the names in `outputs`; tensors (kept with ctx.save_for_backward) come
before the other values. For example (see _ops/dropout.py):

    DROPOUT_BACKWARD = Backward("dropout_backward", dropout_backward)  # (grad, saved, p, mask_mode)
    DROPOUT = CustomOp("dropout", dropout_forward, fake=_fake, outputs=("y", "saved"),
                       backward=DROPOUT_BACKWARD, no_grad=dropout_no_grad)
    DROPOUT.call(x, p, seed, offset, draw, mask_mode, inplace=False)
"""

from __future__ import annotations

import inspect
import typing
from operator import itemgetter
from typing import Callable, Optional

import torch

_TENSOR_HINTS = (torch.Tensor, Optional[torch.Tensor])


def _like_grad(grad, *_):
    return torch.empty_like(grad)


def _parameters(fn: Callable) -> list[str]:
    return list(inspect.signature(fn).parameters)


class _Keep:
    """Which of a call's values (its inputs, then its outputs) a gradient formula names, and how
    to keep them on an autograd ctx: tensors with save_for_backward, the rest as attributes."""

    def __init__(self, wanted: list[str], names: list[str], tensors: set[str], where: str):
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise TypeError(f"{where}: gradient formula names {unknown}, not among {names}")
        is_tensor = [n in tensors for n in wanted]
        if is_tensor != sorted(is_tensor, reverse=True):
            raise TypeError(f"{where}: gradient formula must name its tensors before its other values, got {wanted}")
        indices = [names.index(n) for n in wanted]
        # itemgetter: no Python frame per call (this runs on every eager call).
        self._get = itemgetter(*indices) if len(indices) >= 2 else lambda values: tuple(values[i] for i in indices)
        self._tensors = sum(is_tensor)

    def save(self, ctx, values: tuple) -> None:
        """Keep them: (*ctx.saved_tensors, *ctx.kept) gives them back in order."""
        kept = self._get(values)
        ctx.save_for_backward(*kept[: self._tensors])
        ctx.kept = kept[self._tensors:]


def _tensor_parameters(fn: Callable) -> set[str]:
    hints = typing.get_type_hints(fn)
    return {n for n in _parameters(fn) if hints.get(n) in _TENSOR_HINTS}


class Backward:
    """fastdrop::<name>(grad, *args) -> grad of the forward's first input, as a custom op (`op`) and
    an eager autograd.Function (`function`). Its own gradient: `gradient(backward, needs, grad_grad,
    *named args)` returning the gradients of its leading args; by default (a backward linear in
    grad with the other args fixed) the backward itself."""

    def __init__(self, name: str, kernel: Callable, *, gradient: Callable | None = None):
        args = _parameters(kernel)
        keep = _Keep(args[1:] if gradient is None else _parameters(gradient)[3:], args, _tensor_parameters(kernel),
                     name)
        gradient = gradient or _through
        nones = (None,) * len(args)
        self.kernel = kernel
        self.op = torch.library.custom_op(f"fastdrop::{name}", kernel, mutates_args=())
        self.op.register_fake(_like_grad)

        def setup(ctx, inputs, output):
            keep.save(ctx, inputs)

        def op_gradient(ctx, grad_grad):
            grads = gradient(self.op, ctx.needs_input_grad, grad_grad, *ctx.saved_tensors, *ctx.kept)
            return *grads, *nones[len(grads):]

        self.op.register_autograd(op_gradient, setup_context=setup)

        class BackwardFunction(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *args):
                keep.save(ctx, args)
                return kernel(*args)

            @staticmethod
            def backward(ctx, grad_grad):
                grads = gradient(BackwardFunction.apply, ctx.needs_input_grad, grad_grad, *ctx.saved_tensors, *ctx.kept)
                return *grads, *nones[len(grads):]

        BackwardFunction.__name__ = BackwardFunction.__qualname__ = f"{_camel(name)}Function"
        self.function = BackwardFunction


class CustomOp:
    """fastdrop::<name>(*inputs) -> (y, *kept) as a custom op (`op`, with `fake` for its fake
    kernel) and an eager autograd.Function (`function`, returning y); `call` picks between them.

    outputs: the names of forward's outputs. differentiable: the names of the inputs that take
    gradients (the leading ones). backward: the Backward the gradient goes through (the op's own
    or another op's). gradient(backward, needs, grad_y, *named values): the gradients of the
    differentiable inputs; by default (backward(grad_y, *the values its kernel names),).
    no_grad(*inputs, inplace): y with nothing kept for backward; by default forward's y."""

    def __init__(self, name: str, forward: Callable, *, fake: Callable, outputs: tuple[str, ...], backward: Backward,
                 differentiable: tuple[str, ...] = ("x",), gradient: Callable | None = None,
                 no_grad: Callable | None = None):
        inputs = _parameters(forward)
        if list(differentiable) != inputs[: len(differentiable)]:
            raise TypeError(f"{name}: the differentiable inputs {differentiable} must lead {inputs}")
        self.op = torch.library.custom_op(f"fastdrop::{name}", forward, mutates_args=(),
                                          tags=(torch.Tag.nondeterministic_seeded,))
        self.op.register_fake(fake)
        wanted = _parameters(backward.kernel)[1:] if gradient is None else _parameters(gradient)[3:]
        keep = _Keep(wanted, inputs + list(outputs), _tensor_parameters(forward) | set(outputs), name)
        gradient = gradient or _through
        nones = (None,) * len(inputs)

        def setup(ctx, inputs, output):
            keep.save(ctx, (*inputs, *output))

        def op_gradient(ctx, grad_y, *_grad_kept):
            grads = gradient(backward.op, ctx.needs_input_grad, grad_y, *ctx.saved_tensors, *ctx.kept)
            return *grads, *nones[len(grads):]

        self.op.register_autograd(op_gradient, setup_context=setup)

        eager_backward = backward.function.apply

        class Function(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *args):
                outputs = forward(*args)
                keep.save(ctx, args + outputs)
                return outputs[0]

            @staticmethod
            def backward(ctx, grad_y):
                grads = gradient(eager_backward, ctx.needs_input_grad, grad_y, *ctx.saved_tensors, *ctx.kept)
                return *grads, *nones[len(grads):]

        Function.__name__ = Function.__qualname__ = f"{_camel(name)}Function"
        self.function = Function
        self.forward = forward
        self._no_grad = no_grad
        self._later = tuple(range(1, len(differentiable)))

    def call(self, *args, inplace: bool = False) -> torch.Tensor:
        """y: through the custom op when torch.compile traces, the eager Function when autograd
        records, and with nothing kept otherwise. inplace: y written into args[0] and returned (as
        torch's dropout: autograd raises for leaves that require grad and tracks the version of
        the rest)."""
        if torch.compiler.is_compiling():
            y = self.op(*args)[0]
        elif torch.is_grad_enabled() and (args[0].requires_grad or self._later and self._later_require_grad(args)):
            y = self.function.apply(*args)
        elif self._no_grad is not None:
            return self._no_grad(*args, inplace)
        else:
            y = self.forward(*args)[0]
        return args[0].copy_(y) if inplace else y

    def _later_require_grad(self, args) -> bool:
        """Whether a differentiable input after the first (a bias, a residual) requires grad."""
        return any(args[i] is not None and args[i].requires_grad for i in self._later)


def _through(backward, needs, grad, *values):
    """The default gradient formula: the gradient through the backward, of the first input only."""
    return (backward(grad, *values),)


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))
