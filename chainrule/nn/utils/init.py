"""``skip_init``: build a module whose parameters will be overwritten anyway."""

from __future__ import annotations

from typing import Any

from ..module import Module


def skip_init(module_cls: type[Module], *args: Any, **kwargs: Any) -> Module:
    """``module_cls(*args, **kwargs)``, for a model whose weights are loaded or set next, as PyTorch's.

    PyTorch builds the module on its meta device and leaves the memory uninitialised, to save the time of drawing
    values. chainrule's layers draw their values in their constructor, so here the module comes initialised as
    usual: code written for PyTorch runs, assumes nothing about the values, and gets no saving.
    """
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise TypeError(f"skip_init: expected a Module class, got {module_cls!r:.60}")
    return module_cls(*args, **kwargs)


__all__ = ["skip_init"]
