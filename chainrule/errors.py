"""Exception types raised by chainrule.

Every error says what was wrong, the value found, what was expected and, where it helps, how to fix it.
Each subclasses the built-in exception a Python user would expect (ValueError, TypeError, RuntimeError).
"""

from __future__ import annotations


class ChainruleError(Exception):
    """Base class of chainrule's own exceptions."""


class ShapeError(ChainruleError, ValueError, RuntimeError):
    """Operands whose shapes do not fit the operation.

    A ValueError, and also a RuntimeError: what PyTorch raises for the same mistakes, so code written for PyTorch
    (``except RuntimeError``) catches it too."""


class DomainError(ChainruleError, ValueError, RuntimeError):
    """An argument outside the domain an operation accepts (e.g. a non-integer exponent order).

    A ValueError, and also a RuntimeError, as ShapeError: PyTorch raises RuntimeError for many of the same mistakes
    (lengths and labels out of range in its losses, bad sampler weights)."""


class GraphError(ChainruleError, RuntimeError):
    """A misuse of the computation graph: backward through a released graph, or on a tensor without gradient."""


class NoDerivativeError(ChainruleError, NotImplementedError):
    """The rule table has no derivative for an operation that gradient flows through.

    A NotImplementedError (so also a RuntimeError), as HIPS autograd raises for a primitive without a vjp.
    """


class GradcheckError(ChainruleError, AssertionError):
    """Analytic and numerical derivatives disagree; the message names the input, the index and both values."""


class ExpressionError(ChainruleError, ValueError):
    """A math expression that cannot be parsed or is not allowed; the message points at the offending part."""


class MissingDependencyError(ChainruleError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def require(module: str, extra: str):
    """Import an optional dependency, or raise an error naming the pip extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"this feature needs the optional package '{module}', which is not installed; "
            f"install it with: pip install 'chainrule[{extra}]'"
        ) from exc
