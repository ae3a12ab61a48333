"""Containers that register the Modules they hold: ModuleList, ModuleDict; and Identity.

A plain Python list or dict of layers assigned to a Module attribute is not registered (its parameters are missing
from ``parameters()`` and ``state_dict()``); these are, with the names PyTorch gives them (``"0"``, ``"1"``... for a
list, the keys for a dict), so state dicts match PyTorch's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .module import Module


def _check_module(module: Any, where: str) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{where}: expected a cr.nn.Module, got a {type(module).__name__}")
    return module


class ModuleList(Module):
    """A list of Modules, registered under the names "0", "1", ... Index, slice, iterate, append, extend, insert.

    >>> import chainrule as cr
    >>> class Net(cr.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.layers = cr.nn.ModuleList([cr.nn.Linear(4, 4, seed=i) for i in range(3)])
    ...     def forward(self, x):
    ...         for layer in self.layers:
    ...             x = cr.relu(layer(x))
    ...         return x
    >>> len(list(Net().parameters()))
    6
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, index: int) -> int:
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError(f"ModuleList indices must be integers or slices, not {type(index).__name__}")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ModuleList index {index} out of range for {n} module(s)")
        return index % n

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(items[index])
        return items[self._index(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(str(self._index(index)), _check_module(module, "ModuleList"))

    def __delitem__(self, index: int | slice) -> None:
        items = list(self._modules.values())
        if isinstance(index, slice):
            del items[index]
        else:
            del items[self._index(index)]
        self._renumber(items)

    def _renumber(self, items: list[Module]) -> None:
        for name in list(self._modules):
            object.__delattr__(self, name)
        self._modules.clear()
        for i, module in enumerate(items):
            self.add_module(str(i), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self, *other])

    def append(self, module: Module) -> ModuleList:
        """Add a module at the end; returns self."""
        self.add_module(str(len(self)), _check_module(module, "ModuleList.append"))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add modules at the end; returns self."""
        if isinstance(modules, Module) and not isinstance(modules, ModuleList | ModuleDict):
            raise TypeError("ModuleList.extend expects an iterable of Modules; use append for one Module")
        for module in list(modules):
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert a module before ``index``."""
        items = list(self._modules.values())
        items.insert(index, _check_module(module, "ModuleList.insert"))
        self._renumber(items)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward: loop over its modules in your Module's forward")


class ModuleDict(Module):
    """A dict of Modules, registered under their keys (strings), in insertion order.

    >>> import chainrule as cr
    >>> heads = cr.nn.ModuleDict({"digit": cr.nn.Linear(8, 10), "parity": cr.nn.Linear(8, 2)})
    >>> list(heads), [name for name, _ in heads.named_parameters()][:2]
    (['digit', 'parity'], ['digit.weight', 'digit.bias'])
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def _key(self, key: Any) -> str:
        if not isinstance(key, str):
            raise TypeError(f"ModuleDict keys must be strings, got {key!r}")
        if not key or "." in key:
            raise KeyError(f"ModuleDict key {key!r} must be a non-empty string without '.'")
        return key

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no module {key!r}; its keys are {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(self._key(key), _check_module(module, "ModuleDict"))

    def __delitem__(self, key: str) -> None:
        self[key]  # a clear KeyError
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> list[str]:
        return list(self._modules)

    def values(self) -> list[Module]:
        return list(self._modules.values())

    def items(self) -> list[tuple[str, Module]]:
        return list(self._modules.items())

    def pop(self, key: str) -> Module:
        """Remove and return the module under ``key``."""
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        for key in list(self._modules):
            del self[key]

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace modules from a dict or (key, module) pairs."""
        pairs = modules.items() if isinstance(modules, Mapping | ModuleDict) else modules
        for pair in pairs:
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise TypeError(f"ModuleDict.update expects a dict or (key, module) pairs, got {pair!r}")
            self[pair[0]] = pair[1]

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleDict has no forward: call its modules in your Module's forward")


class Identity(Module):
    """Returns its input unchanged (any arguments to the constructor are ignored, as in PyTorch).

    >>> import chainrule as cr
    >>> cr.nn.Identity(54, unused="x")(cr.tensor([1.0, 2.0])).tolist()
    [1.0, 2.0]
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x
