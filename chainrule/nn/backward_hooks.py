"""Modules' full backward hooks, as PyTorch's: ``hook(module, grad_output)`` before the gradient enters a module
(``register_full_backward_pre_hook``; it may return a new grad_output) and ``hook(module, grad_input, grad_output)``
once the gradients of its inputs are known (``register_full_backward_hook``; it may return a new grad_input).

How: a call of a module with such hooks passes each tensor argument through an identity node, and each tensor it
returns too. The nodes of one side are made one after another, so the backward pass reaches all their gradients
at once (``chainrule.engine.hooks.Group``): the outputs' when the gradient arrives at the module, the inputs' when
it leaves. grad_input and grad_output are tuples with one entry per positional argument (per returned value):
None for what is not a Tensor, zeros for a tensor argument that got no gradient; when no argument needs a gradient,
grad_input is all None and the hooks run as the gradient arrives (as in PyTorch).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import ops
from ..engine import backends, hooks, is_grad_enabled
from ..tensor import Tensor, hook_gradient

#: id() of every module's hook tables that hold a hook now: Module.__call__ looks here (one check while it is
#: empty) before taking the way through ``call_with_backward_hooks``.
hooked_modules: set[int] = set()


class _Tables:
    """A module's full backward hooks and pre-hooks, by handle id. A copy of the module (copy.deepcopy) has its own
    tables with the same hooks, as in PyTorch, where the hooks are part of the module's state."""

    __slots__ = ("__weakref__", "full", "pre")

    def __init__(self, full: dict | None = None, pre: dict | None = None) -> None:
        self.full: dict[int, Callable] = full or {}
        self.pre: dict[int, Callable] = pre or {}
        weakref.finalize(self, hooked_modules.discard, id(self))
        self.update()

    def update(self) -> None:
        if self.full or self.pre:
            hooked_modules.add(id(self))
        else:
            hooked_modules.discard(id(self))  # Module.__call__ takes its plain way again

    def __deepcopy__(self, memo: dict) -> _Tables:
        return _Tables(dict(self.full), dict(self.pre))


def register_full_backward_hook(module: Any, hook: Callable, prepend: bool = False) -> hooks.RemovableHandle:
    """``hook(module, grad_input, grad_output)`` each time the gradients with respect to the module's inputs are
    computed; it may return a tuple that replaces grad_input (None entries: no gradient there).

    >>> import chainrule as cr
    >>> layer = cr.nn.Linear(3, 2, seed=0)
    >>> _ = layer.register_full_backward_hook(lambda m, gin, gout: print(gin[0].shape, gout[0].shape))
    >>> layer(cr.ones(4, 3, requires_grad=True)).sum().backward()
    (4, 3) (4, 2)
    """
    return _register(module, "full", hook, prepend)


def register_full_backward_pre_hook(module: Any, hook: Callable, prepend: bool = False) -> hooks.RemovableHandle:
    """``hook(module, grad_output)`` each time the gradients with respect to the module's outputs are computed,
    before they go into the module; it may return a tuple that replaces grad_output."""
    return _register(module, "pre", hook, prepend)


def _register(module: Any, table: str, hook: Callable, prepend: bool) -> hooks.RemovableHandle:
    if not callable(hook):
        raise TypeError(f"register_full_backward{'_pre' if table == 'pre' else ''}_hook expects a function of the "
                        f"module and gradients, got {type(hook).__name__} {hook!r:.60}")
    tables = module.__dict__.get("_backward_hook_tables")
    if tables is None:
        tables = _Tables()
        object.__setattr__(module, "_backward_hook_tables", tables)
    ref = weakref.ref(tables)

    def remove(hook_id: int) -> None:
        tables = ref()
        if tables is not None:
            getattr(tables, table).pop(hook_id, None)
            tables.update()

    handle = hooks.add_to_table(getattr(tables, table), hook, prepend, remove)
    tables.update()
    return handle


def begin(module: Any, args: tuple) -> tuple[tuple, _Call | None]:
    """The module's backward hooks set up for one call, after its forward pre-hooks, as PyTorch does: the tensor
    arguments, each through an identity node when one needs a gradient; and the call's state, whose ``outputs``
    does the same for what the forward (and its forward hooks) return. The hooks are those registered now, as
    PyTorch takes them at call time. (args, None) for a module without backward hooks."""
    tables = module.__dict__.get("_backward_hook_tables")
    if tables is None or not (tables.pre or tables.full):
        return args, None
    call_state = _Call(module, list(tables.pre.values()), list(tables.full.values()), len(args))
    if is_grad_enabled() and any(isinstance(a, Tensor) and a.requires_grad for a in args):
        args = call_state.inputs(args)
    return args, call_state


class _Call:
    """One call of a hooked module: what its backward hooks need to see."""

    def __init__(self, module: Any, pre_hooks: list, full_hooks: list, n_inputs: int) -> None:
        self.module, self.pre_hooks, self.full_hooks, self.n_inputs = module, pre_hooks, full_hooks, n_inputs
        self.input_tensors: list[tuple[int, Tensor]] | None = None  # (position, argument), when some needs a gradient
        self.grad_outputs: tuple | None = None

    def inputs(self, args: tuple) -> tuple:
        args = list(args)
        self.input_tensors = [(i, a) for i, a in enumerate(args) if isinstance(a, Tensor)]
        members = []
        for i, a in self.input_tensors:
            if a.requires_grad:
                args[i] = ops.identity(a)
            members.append(args[i].node if a.requires_grad else None)
        hooks.add_group(members, self._on_inputs)
        return tuple(args)

    def outputs(self, out: Any) -> Any:
        if not is_grad_enabled():
            return out
        single = not isinstance(out, tuple)
        outs = [out] if single else list(out)
        positions = [i for i, o in enumerate(outs) if isinstance(o, Tensor)]
        if not any(outs[i].requires_grad for i in positions):
            return out
        self.n_outputs, self.output_positions = len(outs), positions
        for i in positions:
            if outs[i].requires_grad:
                outs[i] = ops.identity(outs[i])
        hooks.add_group([outs[i].node if outs[i].requires_grad else None for i in positions], self._on_outputs)
        return outs[0] if single else tuple(outs)

    def _on_outputs(self, grads: list) -> list | None:
        """The gradient arrives at the module: its pre-hooks, and its full hooks if no input needs a gradient."""
        grad_outputs = [None] * self.n_outputs
        for i, g in zip(self.output_positions, grads, strict=True):
            grad_outputs[i] = _as_tensor(g)
        grad_outputs = tuple(grad_outputs)
        for hook in self.pre_hooks:
            result = hook(self.module, grad_outputs)
            if result is not None:
                grad_outputs = _checked_tuple(result, len(grad_outputs), "backward pre-hook", "grad_output")
        self.grad_outputs = grad_outputs
        if self.input_tensors is None:
            nothing = (None,) * self.n_inputs
            for hook in self.full_hooks:
                result = hook(self.module, nothing, grad_outputs)
                if result is not None and not (isinstance(result, tuple | list) and all(r is None for r in result)):
                    raise RuntimeError(f"the backward hook of {type(self.module).__name__} returned gradients, but no "
                                       "input of this call needs one (grad_input is all None): return None")
            self.grad_outputs = None
        return _raw(grad_outputs, self.output_positions, grads, "backward pre-hook", "grad_output")

    def _on_inputs(self, grads: list) -> list | None:
        """The gradient leaves the module: its full hooks with grad_input and grad_output."""
        if self.grad_outputs is None:  # a gradient that reached the inputs without passing the outputs
            return None
        grad_input = [None] * self.n_inputs
        like = next(g for g in grads if g is not None)
        for (i, a), g in zip(self.input_tensors, grads, strict=True):
            grad_input[i] = _as_tensor(g) if g is not None else _zeros(a, like)
        grad_input = tuple(grad_input)
        for hook in self.full_hooks:
            result = hook(self.module, grad_input, self.grad_outputs)
            if result is not None:
                grad_input = _checked_tuple(result, len(grad_input), "backward hook", "grad_input")
        self.grad_outputs = None
        positions = [i for i, _ in self.input_tensors]
        return _raw(grad_input, positions, grads, "backward hook", "grad_input")


def _as_tensor(g: Any) -> Tensor | None:
    if g is None or isinstance(g, Tensor):
        return g
    return Tensor._make(g, None, False)


def _zeros(argument: Tensor, like: Any) -> Tensor:
    """Zeros for an argument that got no gradient, in the argument's shape and library (a Tensor under
    create_graph, as the other gradients are)."""
    data = argument._data
    zeros = (backends.backend(data).xp.zeros_like(data) if type(data) is not np.ndarray and backends.is_foreign(data)
             else np.zeros(np.shape(data), dtype=data.dtype))
    return Tensor._make(zeros, None, False)


def _checked_tuple(result: Any, n: int, what: str, name: str) -> tuple:
    if not isinstance(result, tuple | list) or len(result) != n:
        got = f"{len(result)} entries" if isinstance(result, tuple | list) else type(result).__name__
        raise RuntimeError(f"a {what} returned an invalid number of {name}: got {got}, but expected a tuple of {n} "
                           f"(one per {'positional argument' if name == 'grad_input' else 'output'}; None where "
                           "there is no gradient), or None to keep them")
    return tuple(result)


def _raw(values: tuple, positions: list[int], grads: list, what: str, name: str) -> list:
    """The hooks' tuple as the engine's gradients of the group's members: None where unchanged, DROP where a hook
    put None in place of a gradient (that gradient stops, as in PyTorch), else the new gradient in the form of the
    others (arrays, or Tensors under create_graph), checked."""
    graph = any(isinstance(g, Tensor) for g in grads)
    out = []
    for i, g in zip(positions, grads, strict=True):
        value = values[i]
        if value is None:
            out.append(None if g is None else hooks.DROP)
        elif value is g or (isinstance(value, Tensor) and not graph and g is not None and value._data is g):
            out.append(None)
        elif g is None:  # a gradient for an argument that got none
            if not isinstance(value, Tensor):
                raise TypeError(f"a {what} returned {type(value).__name__} as {name}[{i}]; expected a Tensor or None")
            out.append(value if graph else value._data)
        else:
            out.append(hook_gradient(value, g, f"a {what} (its {name}[{i}])"))
    return out
