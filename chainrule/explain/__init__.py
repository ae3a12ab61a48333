"""Explanations of gradients, step by step, read from the graph the engine differentiates.

``explain`` shows the chain rule at work on an expression or a function of Tensors; ``check_derivative`` checks a
hand-derived derivative symbolically and at random points.
"""

from .check import DerivativeCheck, check_derivative
from .render import Explanation
from .steps import Accumulation, BackwardStep, ForwardStep, explain

__all__ = [
    "Accumulation", "BackwardStep", "DerivativeCheck", "Explanation", "ForwardStep", "check_derivative", "explain",
]
