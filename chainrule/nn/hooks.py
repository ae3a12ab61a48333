"""Module hooks as PyTorch's: forward pre-hooks and hooks, state_dict and load_state_dict hooks.

Each ``register_*`` method of ``Module`` stores the hook in an ordered dict on the module under a fresh id and returns
a ``RemovableHandle``; ``handle.remove()`` (or leaving a ``with handle:`` block) takes it out again.

>>> import chainrule as cr
>>> layer = cr.nn.Linear(2, 2, seed=0)
>>> seen = []
>>> handle = layer.register_forward_hook(lambda module, args, output: seen.append(output.shape))
>>> _ = layer(cr.ones(3, 2))
>>> handle.remove()
>>> _ = layer(cr.ones(1, 2))
>>> seen
[(3, 2)]
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from typing import Any

from ..engine.hooks import RemovableHandle
from . import backward_hooks

_ids = itertools.count()


def add_hook(owner: Any, attribute: str, hook: Callable, entry: Any, prepend: bool = False,
             where: str = "register hook") -> RemovableHandle:
    """Store ``entry`` (the hook and its options) in ``owner.<attribute>`` (made on first use); first if
    ``prepend``."""
    if not callable(hook):
        raise TypeError(f"{where}: the hook must be callable, got {type(hook).__name__} {hook!r:.40}")
    hooks = owner.__dict__.get(attribute)
    if hooks is None:
        hooks = {}
        object.__setattr__(owner, attribute, hooks)
    handle = RemovableHandle(lambda hook_id: hooks.pop(hook_id, None), next(_ids))
    hooks[handle.id] = entry
    if prepend:
        rest = [(k, v) for k, v in hooks.items() if k != handle.id]
        hooks.clear()
        hooks[handle.id] = entry
        hooks.update(rest)
    return handle


def call_with_hooks(module: Any, call: Callable, args: tuple, kwargs: dict) -> Any:
    """``call(*args, **kwargs)`` between the module's forward pre-hooks and forward hooks, as PyTorch's order
    (full backward hooks set up after the pre-hooks and on the final output, see backward_hooks.py):
    pre-hooks may replace the arguments, hooks the output; hooks registered with ``always_call`` also run when the
    forward (or an earlier hook) raised, before the error goes on."""
    pre = module.__dict__.get("_forward_pre_hooks") or {}
    post = module.__dict__.get("_forward_hooks") or {}
    called: set[int] = set()
    output = None
    try:
        for hook, with_kwargs in list(pre.values()):
            if with_kwargs:
                result = hook(module, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError("a forward pre-hook registered with with_kwargs=True must return None "
                                           f"or a tuple (new_args, new_kwargs), but returned {result!r:.80}")
                    args, kwargs = result
            else:
                result = hook(module, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        args, backward = backward_hooks.begin(module, args)  # full backward hooks: the inputs' side
        output = call(*args, **kwargs)
        for key, (hook, with_kwargs, _always) in list(post.items()):
            called.add(key)
            result = hook(module, args, kwargs, output) if with_kwargs else hook(module, args, output)
            if result is not None:
                output = result
        return output if backward is None else backward.outputs(output)  # and the outputs' side
    except Exception:
        for key, (hook, with_kwargs, always) in list(post.items()):
            if always and key not in called:
                try:  # the first error is the one to see; a failing cleanup hook must not hide it
                    hook(module, args, kwargs, output) if with_kwargs else hook(module, args, output)
                except Exception as exc:
                    warnings.warn(f"a forward hook with always_call=True raised {exc!r} while handling an "
                                  "earlier error; that earlier error follows", RuntimeWarning, stacklevel=3)
        raise


__all__ = ["RemovableHandle"]
