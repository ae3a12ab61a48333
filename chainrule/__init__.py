"""chainrule: reverse-mode automatic differentiation on NumPy that shows its work.

>>> import chainrule as cr
>>> x = cr.tensor(0.5, requires_grad=True)
>>> y = cr.sigmoid(2 * x)
>>> y.backward()
>>> round(float(x.grad), 6)
0.393224
"""

from .tensor import Tensor, arange, eye, full, ones, rand, randn, tensor, zeros  # noqa: I001 - tensor first
from .ops import (
    abs, absolute, acos, add, arccos, arcsin, arctan, asin, astype, atan, broadcast_to, clip, concatenate, cos,
    cosh, cot, csc, divide, equal, exp, expand_dims, expm1, flatten, greater, greater_equal, leaky_relu, less,
    less_equal, log, log1p, log2, log10, log_softmax, logsumexp, matmul, max, maximum, mean, min, minimum,
    multiply, negative, not_equal, pow, power, prod, relu, reshape, sec, sigmoid, sign, sin, sinh, softmax,
    softplus, split, sqrt, squeeze, stack, std, subtract, sum, swapaxes, tan, tanh, transpose, unsqueeze, var,
    where,
)
from .engine import is_grad_enabled, keep_values, no_grad, set_grad_enabled
from .transforms import grad, hessian, jacobian, jvp, value_and_grad, vjp
from .gradcheck import gradcheck
from .extend import primitive
from .explain import check_derivative, explain  # light: the machinery loads on first use
from .errors import (
    ChainruleError, DomainError, ExpressionError, GradcheckError, GraphError, MissingDependencyError,
    NoDerivativeError, ShapeError,
)

__version__ = "0.1.0"

# Loaded on first use, so `import chainrule` costs NumPy and the engine only (PEP 562).
_LAZY = {
    "draw": ("chainrule.explain.draw", "draw"),
    "save": ("chainrule.io", "save"),
    "load": ("chainrule.io", "load"),
    "nn": ("chainrule.nn", None),
    "optim": ("chainrule.optim", None),
    "data": ("chainrule.data", None),
    "symbolic": ("chainrule.symbolic", None),
}

__all__ = [name for name in dir() if not name.startswith("_")] + list(_LAZY)


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
