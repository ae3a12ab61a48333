"""Portable forwards: rules whose forward has no Array API function (special functions, matrix functions, ODEs),
written with a library's own array operations so that values stay in that library and on its device.

Each module registers its forwards with ``@portable("rule name")``; a forward takes the ``Backend`` first, then the
rule's inputs and parameters as the NumPy forward does. ``Backend.forward`` looks here after a library's own special
functions and its ``_forward_*`` methods. NumPy never comes here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .registry import FORWARDS, portable

__all__ = ["FORWARDS", "load", "portable"]


def load() -> dict[str, Callable[..., Any]]:
    """Every portable forward by rule name (the modules are imported on first use only)."""
    from . import modules  # noqa: F401  (registers)
    return FORWARDS
