"""Calling a module with other values for its parameters and buffers, as ``torch.func.functional_call``.

The given tensors stand in for the module's own while it runs (and the originals come back afterwards, also when
it raises), so gradients flow to them: a model becomes a function of its parameters, for ``cr.grad``,
``cr.jacobian`` or meta-learning.

>>> import chainrule as cr
>>> net = cr.nn.Linear(2, 1, seed=0)
>>> params = {"weight": cr.tensor([[1.0, 2.0]]), "bias": cr.tensor([0.5])}
>>> cr.nn.utils.functional_call(net, params, (cr.tensor([[1.0, 1.0]]),)).tolist()
[[3.5]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...tensor import Tensor
from ..module import Module


def _slots(module: Module) -> dict[str, tuple[Module, str, str]]:
    """Every parameter and buffer name (all names of a shared one) → (owning module, table, attribute)."""
    found: dict[str, tuple[Module, str, str]] = {}
    for prefix, owner in module._prefixed_modules():
        for table in ("_parameters", "_buffers"):
            for name, value in owner.__dict__[table].items():
                if value is not None:
                    found[prefix + name] = (owner, table, name)
    return found


def functional_call(module: Module, parameters_and_buffers: Mapping[str, Any] | Sequence[Mapping[str, Any]],
                    args: Any = None, kwargs: Mapping[str, Any] | None = None, *, tie_weights: bool = True,
                    strict: bool = False) -> Any:
    """``module(*args, **kwargs)`` with the tensors of ``parameters_and_buffers`` (dotted names as in
    ``state_dict``; a list of dicts is merged) in place of the module's own.

    ``tie_weights``: a value given for one name of a tensor the module shares under several names is used for all
    of them (giving different values for two of them is an error). ``strict``: every parameter and buffer must be
    given. A name the module does not have is always an error (PyTorch ignores it, hiding typos).
    """
    if not isinstance(module, Module):
        raise TypeError(f"functional_call: expected a cr.nn.Module, got {type(module).__name__}")
    dicts = parameters_and_buffers if isinstance(parameters_and_buffers, list | tuple) else [parameters_and_buffers]
    given: dict[str, Any] = {}
    for d in dicts:
        if not isinstance(d, Mapping):
            raise TypeError(f"functional_call: parameters_and_buffers must be a dict (or a list of dicts) from "
                            f"names to tensors, got {type(d).__name__}")
        repeated = sorted(set(given) & set(d))
        if repeated:
            raise ValueError(f"functional_call: {repeated} given in more than one of the dicts")
        given.update(d)
    slots = _slots(module)
    unknown = [k for k in given if k not in slots]
    if unknown:
        raise KeyError(f"functional_call: {type(module).__name__} has no parameter or buffer {unknown}; its names "
                       f"are {list(slots)}")
    values = {k: (v if isinstance(v, Tensor) else Tensor(v)) for k, v in given.items()}
    if tie_weights:
        groups: dict[int, list[str]] = {}
        for name, (owner, table, attr) in slots.items():
            groups.setdefault(id(owner.__dict__[table][attr]), []).append(name)
        for names in groups.values():
            chosen = [n for n in names if n in values]
            if len({id(values[n]) for n in chosen}) > 1:
                raise ValueError(f"functional_call got several values for {chosen}, which are tied (one tensor); "
                                 "give one of them, or pass tie_weights=False")
            if chosen:
                values.update({n: values[chosen[0]] for n in names})
    if strict:
        missing = [k for k in slots if k not in values]
        if missing:
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}: missing key(s) "
                               f"{', '.join(map(repr, missing))} (strict=True needs every parameter and buffer)")
    saved = []
    try:
        for name, value in values.items():
            owner, table, attr = slots[name]
            saved.append((owner, table, attr, owner.__dict__[table][attr]))
            owner.__dict__[table][attr] = value
            object.__setattr__(owner, attr, value)
        args = () if args is None else args if isinstance(args, tuple) else (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for owner, table, attr, original in reversed(saved):
            owner.__dict__[table][attr] = original
            object.__setattr__(owner, attr, original)


__all__ = ["functional_call"]
