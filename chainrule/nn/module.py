"""Module and Parameter: the containers a network is built from, with PyTorch's habits.

Assigning a ``Parameter`` or a ``Module`` to an attribute registers it, so ``parameters()``, ``state_dict()``,
``train()``/``eval()`` and ``zero_grad()`` find everything, however deeply nested.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from ..engine import bump
from ..engine.mode import call_observers, observe_call
from ..errors import ChainruleError
from ..tensor import Tensor
from . import backward_hooks
from .backward_hooks import hooked_modules
from .hooks import RemovableHandle, add_hook, call_with_hooks


class StateDictError(ChainruleError, ValueError, RuntimeError):
    """A state_dict that does not fit the module: missing or unexpected keys, or a value of the wrong shape.

    A RuntimeError, as PyTorch raises there, and a ValueError, as chainrule's other bad-input errors.
    """


class Parameter(Tensor):
    """A Tensor that a Module registers as one of its parameters; it requires grad by default.

    >>> import chainrule as cr
    >>> p = cr.nn.Parameter([1.0, 2.0])
    >>> p.requires_grad, p.is_leaf
    (True, True)
    """

    __slots__ = ()

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = True) -> None:
        if isinstance(data, Tensor):
            data = data.data.copy()
        super().__init__(data, dtype=dtype, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _check_name(name: Any, where: str) -> None:
    """A name in state_dict keys: a dot would make 'a.b' (one module) and 'a' → 'b' (two) write the same key, so
    that one silently overwrites the other in a saved file (PyTorch refuses it too)."""
    if not isinstance(name, str):
        raise TypeError(f"{where}: the name must be a str, got {type(name).__name__} {name!r:.40}")
    if not name or "." in name:
        raise KeyError(f"{where}: the name must be non-empty and contain no '.', got {name!r}; state_dict keys "
                       "join names with dots")


class Module:
    """Base class of layers and networks: subclass it, assign layers in ``__init__`` and write ``forward``.

    >>> import chainrule as cr
    >>> class Net(cr.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = cr.nn.Linear(4, 8, seed=0)
    ...         self.out = cr.nn.Linear(8, 2, seed=1)
    ...     def forward(self, x):
    ...         return self.out(cr.relu(self.hidden(x)))
    >>> net = Net()
    >>> [name for name, p in net.named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    >>> net(cr.zeros(3, 4, dtype="float32")).shape
    (3, 2)
    """

    training: bool

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Each layer's constructor reports parameters beyond memory as a MemoryError naming the layer (NumPy's
        own, "Unable to allocate 3.6 TiB", would name no layer and no argument)."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return

        @functools.wraps(init)
        def checked_init(self, *args: Any, **kw: Any) -> None:
            if type(self).__init__ is not checked_init:  # a base class's __init__ called through super(): the
                init(self, *args, **kw)  # outermost one names the layer with the arguments the user passed
                return
            try:
                init(self, *args, **kw)
            except MemoryError as exc:
                if str(exc).startswith("nn."):  # an inner layer already said which
                    raise
                shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kw.items())])
                raise MemoryError(
                    f"nn.{type(self).__name__}({shown:.100}): its parameters need more memory than this machine can "
                    f"allocate ({exc}); check the sizes passed"
                ) from None

        cls.__init__ = checked_init

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    # -----------------------------------------------------------------------------------------------------------
    # Registration by attribute.
    # -----------------------------------------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign '{name}' before Module.__init__() ran; call super().__init__() first in "
                f"{type(self).__name__}.__init__"
            )
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to buffer '{name}' of {type(self).__name__}; "
                    "expected a Tensor or None"
                )
            buffers[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to parameter '{name}' of {type(self).__name__}; "
                    "expected a cr.nn.Parameter or None (wrap the value: cr.nn.Parameter(value))"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to submodule '{name}' of {type(self).__name__}; "
                    "expected a cr.nn.Module or None"
                )
            modules[name] = None
        elif _holds_modules(value):  # PyTorch silently leaves these out of parameters(); say so
            kind, container = ("dict", "ModuleDict") if isinstance(value, dict) else (type(value).__name__,
                                                                                      "ModuleList")
            warnings.warn(
                f"{type(self).__name__}.{name} is a plain {kind} holding Modules: they are not registered, so "
                f"parameters(), state_dict(), train()/eval() and optimizers will not see them; use "
                f"cr.nn.{container}(...) instead", UserWarning, stacklevel=2)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._buffers.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None, an absent optional parameter such as a bias) under ``name``."""
        _check_name(name, "register_parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter('{name}'): expected a Parameter or None, not {type(param).__name__}")
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, value: Any, persistent: bool = True) -> None:
        """Register state that is not trained but belongs to the model (e.g. input statistics).

        A buffer is a Tensor without gradient; it is saved by ``state_dict()`` and restored by
        ``load_state_dict()`` (unless ``persistent=False``), and ``parameters()`` leaves it out, so optimizers never
        change it.
        """
        _check_name(name, "register_buffer")
        if value is not None:
            value = Tensor(value.data if isinstance(value, Tensor) else value)
        skip = self.__dict__.setdefault("_non_persistent_buffers", set())
        if persistent:
            skip.discard(name)
        else:
            skip.add(name)
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers[name] = value
        object.__setattr__(self, name, value)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` under ``name`` (what attribute assignment does)."""
        _check_name(name, "add_module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module('{name}'): expected a Module or None, not {type(module).__name__}")
        self._modules[name] = module
        object.__setattr__(self, name, module)

    def register_module(self, name: str, module: Module | None) -> None:
        """Alias of ``add_module``, as PyTorch."""
        self.add_module(name, module)

    def get_submodule(self, target: str) -> Module:
        """The submodule at the dotted path ``target`` (``""``: this module), e.g. ``net.get_submodule("0.fc")``."""
        if not isinstance(target, str):
            raise TypeError(f"get_submodule expects a dotted path (str), not {type(target).__name__}")
        module: Module = self
        if target == "":
            return module
        walked = type(self).__name__
        for item in target.split("."):
            if item not in module.__dict__.get("_modules", {}):
                raise AttributeError(f"get_submodule({target!r}): {walked} has no submodule {item!r}"
                                     + (f" ({item!r} is not a Module)" if hasattr(module, item) else "")
                                     + f"; its submodules are {[n for n, _ in module.named_children()]}")
            module = module._modules[item]
            if module is None:
                raise AttributeError(f"get_submodule({target!r}): submodule {item!r} of {walked} is None")
            walked = f"{walked}.{item}"
        return module

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Put ``module`` at the dotted path ``target``: its parent must exist; with ``strict`` the last name must
        already be a submodule (else a new one is added)."""
        if not isinstance(target, str) or target == "":
            raise ValueError(f"set_submodule expects a non-empty dotted path, got {target!r}")
        if not isinstance(module, Module):
            raise TypeError(f"set_submodule({target!r}): expected a Module, not {type(module).__name__}")
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        if strict and name not in parent._modules:
            raise AttributeError(f"set_submodule({target!r}, strict=True): {type(parent).__name__} has no submodule "
                                 f"{name!r} to replace")
        if name not in parent._modules and hasattr(parent, name):
            raise AttributeError(f"set_submodule({target!r}): {name!r} of {type(parent).__name__} is not a Module")
        parent.add_module(name, module)

    def _get_entry(self, target: str, table: str, kind: str) -> Any:
        if not isinstance(target, str):
            raise TypeError(f"get_{kind} expects a dotted path (str), not {type(target).__name__}")
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        entries = module.__dict__[table]
        if name not in entries:
            other = "" if not hasattr(module, name) else f" ({name!r} is an attribute but not a {kind})"
            raise AttributeError(f"get_{kind}({target!r}): {type(module).__name__} has no {kind} {name!r}{other}; "
                                 f"its {kind}s are {sorted(entries)}")
        return entries[name]

    def get_parameter(self, target: str) -> Parameter | None:
        """The parameter at the dotted path ``target`` (``"encoder.fc.weight"``)."""
        return self._get_entry(target, "_parameters", "parameter")

    def get_buffer(self, target: str) -> Tensor | None:
        """The buffer at the dotted path ``target`` (``"bn.running_mean"``)."""
        return self._get_entry(target, "_buffers", "buffer")

    # -----------------------------------------------------------------------------------------------------------
    # Calling.
    # -----------------------------------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, ...)")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if "_forward_pre_hooks" in self.__dict__ or "_forward_hooks" in self.__dict__ or (
                hooked_modules and id(self.__dict__.get("_backward_hook_tables")) in hooked_modules):
            return call_with_hooks(self, self._call_forward, args, kwargs)
        if call_observers:  # an explanation is noting which nodes each module makes (cr.explain(...).layers)
            return observe_call(self, self.forward, *args, **kwargs)
        return self.forward(*args, **kwargs)

    def _call_forward(self, *args: Any, **kwargs: Any) -> Any:
        if call_observers:
            return observe_call(self, self.forward, *args, **kwargs)
        return self.forward(*args, **kwargs)

    # -----------------------------------------------------------------------------------------------------------
    # Hooks (PyTorch's signatures; each register_* returns a handle whose remove() unregisters the hook).
    # -----------------------------------------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before each forward (``hook(module, args, kwargs)`` with ``with_kwargs``); a
        result other than None replaces the arguments (a tuple ``(args, kwargs)`` with ``with_kwargs``)."""
        return add_hook(self, "_forward_pre_hooks", hook, (hook, bool(with_kwargs)), prepend,
                        "register_forward_pre_hook")

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after each forward (``hook(module, args, kwargs, output)`` with
        ``with_kwargs``); a result other than None replaces the output. ``always_call``: also when forward raised."""
        return add_hook(self, "_forward_hooks", hook, (hook, bool(with_kwargs), bool(always_call)), prepend,
                        "register_forward_hook")

    # Full backward hooks, as PyTorch's (backward_hooks.py): see and replace the gradients at a module's outputs
    # and inputs.
    register_full_backward_hook = backward_hooks.register_full_backward_hook
    register_full_backward_pre_hook = backward_hooks.register_full_backward_pre_hook

    def register_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, prefix, keep_vars)`` before ``state_dict()`` collects this module's entries."""
        return add_hook(self, "_state_dict_pre_hooks", hook, hook, where="register_state_dict_pre_hook")

    def register_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, state_dict, prefix, local_metadata)`` once this module's entries (and its
        children's) are in ``state_dict``; it may change the dict in place and must return None."""
        return add_hook(self, "_state_dict_hooks", hook, hook, where="register_state_dict_post_hook")

    def register_load_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
        error_msgs)`` before ``load_state_dict`` checks the keys; it may change (a copy of) the state_dict and append
        to the three lists."""
        return add_hook(self, "_load_state_dict_pre_hooks", hook, hook, where="register_load_state_dict_pre_hook")

    def register_load_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, incompatible_keys)`` after ``load_state_dict`` loaded; it may edit the two lists of
        ``incompatible_keys`` in place, which ``load_state_dict`` then returns."""
        return add_hook(self, "_load_state_dict_post_hooks", hook, hook, where="register_load_state_dict_post_hook")

    def get_extra_state(self) -> Any:
        """Override (with ``set_extra_state``) to save more than tensors: ``state_dict()`` keeps the value under
        ``'<prefix>_extra_state'``, as PyTorch."""
        raise RuntimeError(f"{type(self).__name__}.get_extra_state() is only called when a subclass overrides it; "
                           "define get_extra_state and set_extra_state together")

    def set_extra_state(self, state: Any) -> None:
        """Override (with ``get_extra_state``): ``load_state_dict`` passes it what get_extra_state returned."""
        raise RuntimeError(f"{type(self).__name__}.set_extra_state() is only called when a subclass overrides it; "
                           "define get_extra_state and set_extra_state together")

    def _has_extra_state(self) -> bool:
        return type(self).get_extra_state is not Module.get_extra_state

    # -----------------------------------------------------------------------------------------------------------
    # Walking the tree.
    # -----------------------------------------------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct submodules with their attribute names."""
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct submodules."""
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (name ``prefix``) and every submodule below it, each once, with dotted names."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            below = [(f"{name}.{child_name}" if name else child_name, child)
                     for child_name, child in module.named_children()]
            stack.extend(reversed(below))

    def modules(self) -> Iterator[Module]:
        """This module and every submodule below it."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name (``"0.weight"``, ``"encoder.fc.bias"``), each once."""
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Every buffer with its dotted name."""
        for module_name, module in self.named_modules(prefix):
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    yield (f"{module_name}.{name}" if module_name else name), buffer

    def buffers(self) -> Iterator[Tensor]:
        """Every buffer."""
        for _, buffer in self.named_buffers():
            yield buffer

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter (for an optimizer: ``cr.optim.SGD(model.parameters(), lr=0.1)``)."""
        for _, param in self.named_parameters():
            yield param

    # -----------------------------------------------------------------------------------------------------------
    # Modes and gradients.
    # -----------------------------------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (Dropout drops) for this module and all below it; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode) expects True or False, not {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (Dropout is the identity); returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Turn gradients on or off for every parameter (e.g. to freeze a pretrained part); returns self."""
        if not isinstance(requires_grad, bool):
            raise TypeError(f"requires_grad_ expects True or False, not {requires_grad!r}")
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first, as PyTorch does) and then on this module; returns self.

        >>> import chainrule as cr
        >>> net = cr.nn.Sequential(cr.nn.Linear(2, 2), cr.nn.ReLU())
        >>> names = []
        >>> _ = net.apply(lambda m: names.append(type(m).__name__))
        >>> names
        ['Linear', 'ReLU', 'Sequential']
        """
        if not callable(fn):
            raise TypeError(f"apply expects a function of a Module, not {type(fn).__name__}")
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, dtype: Any) -> Module:
        """Convert every floating-point parameter and buffer (and gradient) to ``dtype``, or move them to an array
        library or device (``numpy``, ``torch``, ``cupy``, ``array_api_strict``, ``torch.device('cuda')``...),
        in place; returns self.

        The Parameter objects stay the same (an optimizer built before still holds them). Integer buffers, such as
        counters, keep their dtype, as in PyTorch. Moving is an explicit copy (``Tensor.to``); gradients are dropped.
        """
        try:
            target = np.dtype(dtype)
        except (TypeError, ValueError):  # not a dtype (torch, for one, raises ValueError): a library or device
            return self._move(dtype)
        if target.kind != "f":
            raise TypeError(f"Module.to only converts to a floating dtype ('float32', 'float64'), got {target}")
        for tensor in [*self.parameters(), *self.buffers()]:
            if tensor.dtype.kind == "f" and tensor.dtype != target:
                tensor.data = tensor.data.astype(target)
                if tensor.grad is not None:
                    tensor.grad = Tensor(tensor.grad.data.astype(target))
        return self

    def _move(self, target: Any) -> Module:
        """Module.to(library or device): every parameter and buffer copied there, explicitly."""
        tensors = [*self.parameters(), *self.buffers()]
        try:
            Tensor(np.zeros(0)).to(target)  # checks the target, also for a module without parameters
            moved = [t.detach().to(target).data for t in tensors]  # all first: a bad target changes nothing
        except TypeError:
            raise TypeError(f"Module.to expects a floating dtype such as 'float32' or 'float64', an array library "
                            f"(numpy, torch, cupy, array_api_strict...) or a device of one (torch.device('cuda')), "
                            f"got {target!r}") from None
        for tensor, data in zip(tensors, moved, strict=True):
            tensor.data = data
            tensor.grad = None
        return self

    def float(self) -> Module:
        """Every floating-point parameter and buffer to float32 (``to('float32')``); returns self."""
        return self.to(np.float32)

    def double(self) -> Module:
        """Every floating-point parameter and buffer to float64; returns self."""
        return self.to(np.float64)

    def half(self) -> Module:
        """Every floating-point parameter and buffer to float16; returns self."""
        return self.to(np.float16)

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``.grad = None``), before the next backward pass."""
        for param in self.parameters():
            param.grad = None

    # -----------------------------------------------------------------------------------------------------------
    # State.
    # -----------------------------------------------------------------------------------------------------------
    def state_dict(self, *, destination: dict[str, Any] | None = None, prefix: str = "",
                   keep_vars: bool = False) -> dict[str, Tensor]:
        """Every parameter and persistent buffer by dotted name, as Tensors without gradient that share their memory.

        The order is PyTorch's: each module's own parameters, then its own buffers, then its children's, depth
        first; a parameter shared by two modules appears under both names. As in PyTorch the values follow later
        updates; to keep a snapshot, copy them (``{k: v.numpy().copy() for k, v in model.state_dict().items()}``).
        ``cr.save`` writes one to disk. ``keep_vars=True`` returns the Parameters themselves.
        If a module overrides ``get_extra_state``, its value is saved under ``'<prefix>_extra_state'``; state_dict
        hooks run as in PyTorch (``register_state_dict_pre_hook``, ``register_state_dict_post_hook``).
        """
        destination = {} if destination is None else destination
        self._save_to(destination, prefix, keep_vars)
        return destination

    def _save_to(self, destination: dict[str, Any], prefix: str, keep_vars: bool) -> None:
        """This module's entries, then its children's (depth first), between its state_dict hooks."""
        for hook in list(self.__dict__.get("_state_dict_pre_hooks", {}).values()):
            hook(self, prefix, keep_vars)
        for name, t in self._local_state():
            destination[prefix + name] = t if keep_vars else t.detach()
        if self._has_extra_state():
            destination[prefix + "_extra_state"] = self.get_extra_state()
        for child_name, child in self.named_children():
            child._save_to(destination, f"{prefix}{child_name}.", keep_vars)
        for hook in list(self.__dict__.get("_state_dict_hooks", {}).values()):
            if hook(self, destination, prefix, {}) is not None:
                raise RuntimeError(f"a state_dict post hook of {type(self).__name__} returned a value; it must change "
                                   "the state_dict in place and return None")

    def _prefixed_modules(self) -> list[tuple[str, Module]]:
        """(``prefix.``, module) for this module and each below it, depth first; a shared module under each name."""
        found: list[tuple[str, Module]] = []
        stack: list[tuple[str, Module]] = [("", self)]
        while stack:
            prefix, module = stack.pop()
            found.append((prefix, module))
            stack.extend(reversed([(f"{prefix}{child_name}.", child) for child_name, child in module.named_children()]))
        return found

    def _local_state(self) -> list[tuple[str, Tensor]]:
        """This module's own entries of its state_dict: parameters, then persistent buffers (None left out)."""
        own = [(name, p) for name, p in self._parameters.items() if p is not None]
        skip = self.__dict__.get("_non_persistent_buffers", ())
        return own + [(name, b) for name, b in self._buffers.items() if b is not None and name not in skip]

    def _named_state(self, prefix: str = "") -> list[tuple[str, Tensor]]:
        """(dotted name, tensor) of every state_dict entry, in PyTorch's order: a module's own entries, then each
        child's (no de-duplication: a shared module is saved under each of its names, as PyTorch does)."""
        entries: list[tuple[str, Tensor]] = []
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            entries += [(name + key, value) for key, value in module._local_state()]
            stack.extend(reversed([(f"{name}{child_name}.", child) for child_name, child in module.named_children()]))
        return entries

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values (Tensors, arrays or nested lists, e.g. from ``cr.load``) into parameters and buffers, in place.

        With ``strict`` (the default) the keys must match exactly, as in PyTorch; otherwise missing and unexpected
        keys are skipped and returned (``IncompatibleKeys(missing_keys, unexpected_keys)``, each in PyTorch's
        order). A value of the wrong shape is always an error. Values are converted to each parameter's dtype.
        Nothing is changed unless every check passes.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict expects a dict from names to arrays, not {type(state_dict).__name__}")
        state_dict = dict(state_dict)  # pre-hooks may change it; the caller's stays as it was
        missing: list[str] = []
        unexpected: list[str] = []
        problems: list[str] = []
        values = {}
        extras: list[tuple[Module, Any]] = []
        walk = self._prefixed_modules()
        for prefix, module in walk:
            for hook in list(module.__dict__.get("_load_state_dict_pre_hooks", {}).values()):
                hook(module, state_dict, prefix, {}, strict, missing, unexpected, problems)
        own = dict(self._named_state())
        for prefix, module in walk:  # PyTorch's walk: each module checks its keys, and which below its prefix it lacks
            local = dict(module._local_state())
            if module._has_extra_state():
                if prefix + "_extra_state" in state_dict:
                    extras.append((module, state_dict[prefix + "_extra_state"]))
                else:
                    missing.append(prefix + "_extra_state")
            optional = getattr(module, "_optional_state", ())
            for key, tensor in local.items():
                name = prefix + key
                if name not in state_dict:
                    if key not in optional:
                        missing.append(name)
                    continue
                value = state_dict[name]
                array = value.data if isinstance(value, Tensor) else np.asarray(value)
                if array.dtype.kind not in "biuf":
                    problems.append(f"'{name}' has dtype {array.dtype}; expected numbers")
                elif array.shape != tensor.shape:
                    problems.append(f"size mismatch for '{name}' which has shape {array.shape} in the state_dict but "
                                    f"the model expects {tensor.shape}")
                else:
                    values[name] = array
            for name in state_dict:
                if isinstance(name, str) and name.startswith(prefix):
                    head, *rest = name[len(prefix):].split(".", 1)
                    # a dotted name belongs to a child module, a plain one to this module's own entries
                    if (head not in module._modules) if rest else (
                            head not in local and not (head == "_extra_state" and module._has_extra_state())):
                        unexpected.append(name)
        if strict:
            if unexpected:
                problems.insert(0, f"unexpected key(s) {', '.join(repr(k) for k in unexpected)}")
            if missing:
                problems.insert(0, f"missing key(s) {', '.join(repr(k) for k in missing)}")
        if problems:
            raise StateDictError(
                f"Error(s) in loading state_dict for {type(self).__name__}: " + "; ".join(problems)
                + f". The model's keys are: {', '.join(own) or '(none)'}. Was it saved from another architecture?"
            )
        for key, array in values.items():
            target = own[key]._array()
            target[...] = array
            bump(target)  # a graph that saved the old values must not backpropagate through them now
        for module, state in extras:
            module.set_extra_state(state)
        result = IncompatibleKeys(missing, unexpected)
        for _, module in walk:
            for hook in list(module.__dict__.get("_load_state_dict_post_hooks", {}).values()):
                hook(module, result)
        return result

    # -----------------------------------------------------------------------------------------------------------
    # Printing.
    # -----------------------------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The settings shown between the parentheses of this module's repr (override in layers)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}({extra}"
        return head + "\n" + "\n".join(lines) + "\n)"

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._modules))


def _holds_modules(value: Any) -> bool:
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list | tuple):
        return False
    return any(isinstance(v, Module) for v in value)


__all__ = ["IncompatibleKeys", "Module", "Parameter", "StateDictError"]
