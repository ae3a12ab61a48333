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
from .graph import is_grad_enabled, no_grad, set_grad_enabled
from .transforms import grad, hessian, jacobian, jvp, value_and_grad, vjp
from .gradcheck import gradcheck
from .explain import check_derivative, explain
from .viz import draw
from .errors import (
    ChainruleError, DomainError, ExpressionError, GradcheckError, GraphError, MissingDependencyError,
    NoDerivativeError, ShapeError,
)

__version__ = "0.1.0"

__all__ = [name for name in dir() if not name.startswith("_")]
