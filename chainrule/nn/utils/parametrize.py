"""Parametrizations, as ``torch.nn.utils.parametrize``: a tensor of a module computed from others on each access.

``register_parametrization(module, "weight", P)`` moves the parameter to ``module.parametrizations.weight.original``
(or ``original0``, ``original1``… when ``P.right_inverse`` returns several tensors) and makes ``module.weight`` a
property that returns ``P(original)``, so the layer's forward uses the constrained value and gradients flow to the
unconstrained one. Assigning ``module.weight = value`` stores ``P.right_inverse(value)``. The module's class becomes
``Parametrized<Class>``, as in PyTorch; ``state_dict`` keys are PyTorch's.

>>> import chainrule as cr
>>> class Symmetric(cr.nn.Module):
...     def forward(self, x):
...         return (x + x.T) / 2
>>> layer = cr.nn.Linear(3, 3, seed=0)
>>> _ = cr.nn.utils.parametrize.register_parametrization(layer, "weight", Symmetric())
>>> w = layer.weight.numpy()
>>> bool((w == w.T).all()), type(layer).__name__
(True, 'ParametrizedLinear')
>>> sorted(layer.state_dict())
['bias', 'parametrizations.weight.original']
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ...engine import bump
from ...engine.mode import no_grad
from ...tensor import Tensor
from ..containers import ModuleDict, ModuleList
from ..module import Module, Parameter

_cache_enabled = 0
_cache: dict[tuple[int, str], Tensor] = {}


@contextlib.contextmanager
def cached() -> Iterator[None]:
    """Inside this block each parametrized tensor is computed once, on its first access, and reused (e.g. a weight
    that an RNN reads at every step); the cache is emptied when the outermost block ends."""
    global _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache.clear()


def _write(target: Tensor, value: Any) -> None:
    """Put ``value`` into ``target`` in place, so the Parameter object stays the one an optimizer holds."""
    array = np.array(value.data if isinstance(value, Tensor) else value, dtype=target.dtype)
    if array.shape == target.shape:
        target._array()[...] = array
        bump(target._array())
    else:
        target.data = array


def _check_result(result: Any, original: Tensor, what: str) -> None:
    if not isinstance(result, Tensor):
        raise ValueError(f"{what} must return a Tensor, got {type(result).__name__}")
    if result.dtype != original.dtype or result.shape != original.shape:
        raise ValueError(f"{what} may not change the dtype or shape of the tensor (unless unsafe=True): it was "
                         f"{original.dtype} {original.shape}, it returned {result.dtype} {result.shape}")


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the unconstrained tensor(s) they start from."""

    def __init__(self, modules: list[Module], original: Tensor, unsafe: bool = False) -> None:
        super().__init__(modules)
        object.__setattr__(self, "unsafe", unsafe)
        with no_grad():
            new: Any = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    new = module.right_inverse(new)
        is_parameter = isinstance(original, Parameter)
        if isinstance(new, Tensor):
            object.__setattr__(self, "is_tensor", True)
            object.__setattr__(self, "ntensors", 1)
            if not unsafe:
                _check_result(new, original, "right_inverse")
            _write(original, new)
            if is_parameter:
                self.register_parameter("original", original)
            else:
                self.register_buffer("original", original)
        else:
            if not isinstance(new, tuple | list) or not all(isinstance(t, Tensor) for t in new):
                raise ValueError(f"right_inverse must return a Tensor or a tuple of Tensors, got "
                                 f"{type(new).__name__}")
            object.__setattr__(self, "is_tensor", False)
            object.__setattr__(self, "ntensors", len(new))
            for i, t in enumerate(new):
                if is_parameter:
                    self.register_parameter(f"original{i}", Parameter(np.array(t.data),
                                                                      requires_grad=original.requires_grad))
                else:
                    self.register_buffer(f"original{i}", np.array(t.data))
        if not unsafe:
            _check_result(self(), original, "a parametrization")

    def right_inverse(self, value: Tensor) -> None:
        """Store the unconstrained tensor(s) whose parametrized value is ``value`` (each right_inverse, last first)."""
        with no_grad():
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    value = module.right_inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(f"right_inverse must return a Tensor, got {type(value).__name__}")
                if value.dtype != self.original.dtype:
                    raise ValueError(f"the assigned value has dtype {value.dtype}; the parametrized tensor has "
                                     f"{self.original.dtype}")
                _write(self.original, value)
            else:
                if not isinstance(value, tuple | list) or len(value) != self.ntensors:
                    raise ValueError(f"right_inverse must return a sequence of {self.ntensors} tensors, got "
                                     f"{type(value).__name__}")
                for i, t in enumerate(value):
                    _write(getattr(self, f"original{i}"), t)

    def forward(self) -> Tensor:
        steps = list(self)
        if self.is_tensor:
            x = steps[0](self.original)
        else:
            x = steps[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in steps[1:]:
            x = module(x)
        return x


def _parametrized_class(cls: type) -> type:
    def __setattr__(self: Module, name: str, value: Any) -> None:
        if isinstance(type(self).__dict__.get(name), property):
            object.__setattr__(self, name, value)  # the property's setter: right_inverse
        else:
            cls.__setattr__(self, name, value)

    def __getstate__(self: Module) -> Any:
        raise RuntimeError("serializing a parametrized module is not supported (as in PyTorch); save its "
                           "state_dict() instead")

    return type(f"Parametrized{cls.__name__}", (cls,), {"__setattr__": __setattr__, "__getstate__": __getstate__})


def _inject_property(module: Module, name: str) -> None:
    def get_parametrized(self: Module) -> Tensor:
        parametrization = self.parametrizations[name]
        if not _cache_enabled:
            return parametrization()
        key = (id(self), name)
        if key not in _cache:
            _cache[key] = parametrization()
        return _cache[key]

    def set_original(self: Module, value: Any) -> None:
        self.parametrizations[name].right_inverse(value if isinstance(value, Tensor) else Tensor(value))

    setattr(type(module), name, property(get_parametrized, set_original))


def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *,
                             unsafe: bool = False) -> Module:
    """Make ``module.<tensor_name>`` be ``parametrization(original)``; a second call on the same name chains
    (the new parametrization is applied to the previous result). ``unsafe``: skip the checks that the shape and
    dtype stay the same. Returns ``module``."""
    if not isinstance(module, Module) or not isinstance(parametrization, Module):
        raise TypeError(f"register_parametrization expects a Module and a parametrization Module, got "
                        f"{type(module).__name__} and {type(parametrization).__name__}")
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            current = getattr(module, tensor_name)
            _check_result(parametrization(current), current, "a parametrization")
            if hasattr(parametrization, "right_inverse"):
                with no_grad():
                    _check_result(parametrization.right_inverse(current), current, "right_inverse")
        module.parametrizations[tensor_name].append(parametrization)
        object.__setattr__(module.parametrizations[tensor_name], "unsafe",
                           module.parametrizations[tensor_name].unsafe or unsafe)
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"{type(module).__name__} has no parameter, buffer or parametrized tensor named "
                         f"{tensor_name!r}")
    original = getattr(module, tensor_name)
    if original is None:
        raise ValueError(f"{type(module).__name__}.{tensor_name} is None; there is nothing to parametrize")
    chain = ParametrizationList([parametrization], original, unsafe=unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        object.__setattr__(module, "__class__", _parametrized_class(type(module)))
        module.parametrizations = ModuleDict()
    module.parametrizations[tensor_name] = chain
    _inject_property(module, tensor_name)
    return module


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether ``module`` has a parametrization (on ``tensor_name``, or on any tensor)."""
    chains = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(chains, ModuleDict):
        return False
    return len(chains) > 0 if tensor_name is None else tensor_name in chains


def type_before_parametrizations(module: Module) -> type:
    """The module's class before ``register_parametrization`` replaced it."""
    return type(module).__bases__[0] if is_parametrized(module) else type(module)


def remove_parametrizations(module: Module, tensor_name: str, leave_parametrized: bool = True) -> Module:
    """Undo the parametrizations of ``tensor_name``: it becomes a parameter (or buffer) again, holding the
    parametrized value (``leave_parametrized``) or the unconstrained original. Returns ``module``."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"{type(module).__name__} has no parametrization on {tensor_name!r}")
    chain = module.parametrizations[tensor_name]
    if chain.is_tensor:
        original = chain.original
        if leave_parametrized:
            with no_grad():
                value = getattr(module, tensor_name)
            _write(original, value)
    elif leave_parametrized:
        value = getattr(module, tensor_name)
        original = Parameter(np.array(value.data), requires_grad=value.requires_grad) if value.requires_grad \
            else Tensor(np.array(value.data))
    else:
        raise ValueError("cannot remove the parametrization with leave_parametrized=False: the tensor is "
                         "parametrized by several tensors, so there is no single original to go back to")
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    if isinstance(original, Parameter):
        module.register_parameter(tensor_name, original)
    else:
        module.register_buffer(tensor_name, original)
    if not is_parametrized(module):
        del module.parametrizations
        object.__setattr__(module, "__class__", type(module).__bases__[0])
    return module


__all__ = ["ParametrizationList", "cached", "is_parametrized", "register_parametrization",
           "remove_parametrizations", "type_before_parametrizations"]
