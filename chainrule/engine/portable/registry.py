"""The registry of portable forwards: ``FORWARDS`` and the ``@portable("rule name")`` decorator. A module of its own,
so that the modules that register (``from .registry import portable``) do not import the package, whose ``load``
imports them: that would be an import cycle (tests/test_imports.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FORWARDS: dict[str, Callable[..., Any]] = {}


def portable(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``function(backend, *inputs, **params)`` as the portable forward of the rule ``name``."""
    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        if name in FORWARDS:
            raise ValueError(f"a portable forward of '{name}' is registered twice")
        FORWARDS[name] = function
        return function
    return register
