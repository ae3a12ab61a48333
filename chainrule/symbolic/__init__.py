"""Symbolic side of chainrule: a safe parser for math expressions (:mod:`chainrule.symbolic.parser`) and symbolic
derivatives from the rule table (:mod:`chainrule.symbolic.formulas`, which needs SymPy: the ``symbolic`` extra).

The parser needs nothing beyond the standard library; ``formula``, ``derivative`` and ``to_sympy`` import SymPy only
when first used.
"""

from ..errors import ExpressionError
from .parser import evaluate, parse, to_string, variables

_FORMULAS = ("derivative", "formula", "sympy_math", "tidy", "to_sympy")

__all__ = ["ExpressionError", "evaluate", "parse", "to_string", "variables", *_FORMULAS]


def __getattr__(name: str):
    if name in _FORMULAS:
        from . import formulas

        return getattr(formulas, name)
    raise AttributeError(f"module 'chainrule.symbolic' has no attribute {name!r}")
