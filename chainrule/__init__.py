"""chainrule: reverse-mode automatic differentiation on NumPy that shows its work.

>>> import chainrule as cr
>>> x = cr.tensor(0.5, requires_grad=True)
>>> y = cr.sigmoid(2 * x)
>>> y.backward()
>>> round(float(x.grad), 6)
0.393224
"""

from typing import TYPE_CHECKING  # noqa: I001 - tensor first, then ops

from .tensor import Tensor, arange, eye, full, ones, rand, randn, tensor, zeros
from . import ops as _ops
from . import torch_methods as _torch_methods  # PyTorch's method names on Tensor
from .ops import (
    astype, broadcast_to, concatenate, expand_dims, flatten, log_softmax, logsumexp, matmul, max, mean, min, prod,
    reshape, softmax, split, squeeze, stack, std, sum, swapaxes, transpose, unsqueeze, var,
)
from .rules.registry import on_register as _on_register
from .engine import is_grad_enabled, keep_values, no_grad, set_grad_enabled
from .transforms import grad, hessian, jacobian, jvp, value_and_grad, vjp
from .gradcheck import gradcheck
from .explain import check_derivative, explain  # light: the machinery loads on first use
from .errors import (
    ChainruleError, DomainError, ExpressionError, GradcheckError, GraphError, MissingDependencyError,
    NoDerivativeError, ShapeError,
)

from ._version import __version__
from .engine import allocator as _allocator

_allocator.tune_heap()  # glibc keeps large freed arrays for the next step; CHAINRULE_MALLOC=0 opts out

# Loaded on first use, so `import chainrule` costs NumPy and the engine only (PEP 562).
_LAZY = {
    "draw": ("chainrule.explain.draw", "draw"),
    "primitive": ("chainrule.extend", "primitive"),
    "save": ("chainrule.io", "save"),
    "load": ("chainrule.io", "load"),
    "nn": ("chainrule.nn", None),
    "optim": ("chainrule.optim", None),
    "data": ("chainrule.data", None),
    "distributed": ("chainrule.distributed", None),
    "symbolic": ("chainrule.symbolic", None),
}

__all__ = [name for name in dir() if not name.startswith("_") and name != "TYPE_CHECKING"] + list(_LAZY)


def _export(rule, registered: bool) -> None:
    """``cr.<name>`` (and its aliases) for each entry of the rule table marked ``public``: chainrule.ops's function."""
    if not rule.public:
        return
    names = (rule.name, *rule.aliases)
    if not registered:
        for name in names:
            if _EXPORTED.pop(name, None) is not None:
                del globals()[name]
                __all__.remove(name)
        return
    taken = [name for name in names if name in globals() or name in _LAZY]
    if taken:  # never replace a name of the API written here (grad, tensor, nn...)
        raise ValueError(f"rule '{rule.name}': chainrule already has a name {taken[0]!r}; choose another")
    for name in names:
        _EXPORTED[name] = rule
        globals()[name] = getattr(_ops, name)
        __all__.append(name)


_EXPORTED: dict = {}  # name -> the rule it was made from


_on_register(_export)  # the elementwise functions: exp, sin, asin, add, maximum, log, clip, where...

if TYPE_CHECKING:  # for static readers (IDEs, type checkers); at run time these names come from _export above
    from .ops import (  # noqa: I001 - the names as _export makes them
        abs, absolute, acos, add, arccos, arcsin, arctan, asin, atan, clip, cos, cosh, cot, csc, divide, equal, exp,
        expm1, greater, greater_equal, leaky_relu, less, less_equal, log, log1p, log2, log10, maximum, minimum,
        multiply, negative, not_equal, pow, power, relu, sec, sigmoid, sign, sin, sinh, softplus, sqrt, subtract,
        tan, tanh, where,
    )


class _NumpyProtocol:
    """Loads chainrule.numpy's protocol module on the first NumPy function called on a Tensor, then steps aside."""

    def __getattr__(self, name: str):
        import importlib

        module = importlib.import_module("chainrule.numpy._protocol")
        Tensor._numpy_protocol = module
        return getattr(module, name)


Tensor._numpy_protocol = _NumpyProtocol()


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'chainrule' has no attribute '{name}'")
    import importlib

    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
