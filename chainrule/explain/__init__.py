"""Explanations of gradients, step by step, read from the graph the engine differentiates.

``explain`` shows the chain rule at work on an expression or a function of Tensors; ``check_derivative`` checks a
hand-derived derivative symbolically and at random points.

This package is imported with chainrule itself (``cr.explain`` is its function), so it stays light: the machinery
loads on first use. ``records`` (the step records), ``steps`` (observes the engine's backward loop through its
``on_node`` hook), ``render`` (text, Markdown, LaTeX, JSON, HTML), ``check`` (check_derivative), ``draw`` (cr.draw),
``page`` (the interactive HTML page, with ``mathml`` and the vendored layout library in ``static/``).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Accumulation", "BackwardStep", "DerivativeCheck", "Explanation", "ForwardStep", "check_derivative", "explain",
]

_CLASSES = {"Accumulation": "steps", "BackwardStep": "steps", "ForwardStep": "steps", "Explanation": "render",
            "DerivativeCheck": "check"}


def explain(expr_or_function, /, **point: Any):
    """Explain how the gradient of a scalar expression (or a function of Tensors) comes about, step by step.

    Returns an Explanation with ``.value``, ``.steps``, ``.gradients``, ``.formulas`` and text, Markdown, LaTeX,
    JSON and Jupyter renderings. See :func:`chainrule.explain.steps.explain`.

    >>> import chainrule as cr
    >>> cr.explain("sigmoid(w*x + b)", w=0.5, x=2.0, b=-1.0).gradients
    {'w': 0.5, 'x': 0.125, 'b': 0.25}
    """
    from .steps import explain as explain_steps

    return explain_steps(expr_or_function, **point)


def check_derivative(expr: str, claimed: str, wrt: str = "x", **options: Any):
    """Check a hand-derived derivative: is ``claimed`` equal to d ``expr`` / d ``wrt``? Truthy when it is.

    >>> import chainrule as cr
    >>> bool(cr.check_derivative("tan(x)", "1 + tan(x)**2"))
    True
    """
    from .check import check_derivative as check

    return check(expr, claimed, wrt, **options)


def __getattr__(name: str):
    if name not in _CLASSES:
        raise AttributeError(f"module 'chainrule.explain' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{_CLASSES[name]}"), name)
