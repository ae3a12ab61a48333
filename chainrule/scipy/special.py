"""``chainrule.scipy.special``: SciPy's special functions, differentiable.

Each is a rule of ``chainrule/rules/scipy_special.py`` (its derivative written once, with chainrule functions, so
gradients of any order and ``jvp`` work) or a composition of rules (``multigammaln``, ``logsumexp`` with ``b=``).
Orders and shape parameters (``n`` of ``polygamma``, ``v`` of ``iv``, ``a`` of ``gammainc``) get no gradient, as in
HIPS autograd; one that requires a gradient is an error. Values outside a function's domain are SciPy's (nan, inf).
Complex input works where SciPy's ufunc is holomorphic (``COMPLEX``: erf, erfc, ndtr, log_ndtr, gamma, rgamma, xlogy,
xlog1py and the Bessel functions iv, jv, yv), and in logsumexp, softmax and log_softmax, with the covector convention
of the README's "Complex numbers"; the other functions refuse it with a TypeError (ive's scaling e^(−|Re z|) is not
holomorphic, and digamma's derivative, polygamma, is real only in SciPy).

>>> import chainrule as cr
>>> from chainrule.scipy import special
>>> x = cr.tensor(2.0, requires_grad=True)
>>> special.gammaln(x).backward(); round(float(x.grad), 12)   # ψ(2) = 1 − γ
0.422784335098
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..errors import DomainError, ShapeError
from ..tensor import Tensor
from ._util import apply, constant, operand, scipy_fallback, scipy_name

__all__ = [
    "beta",
    "betainc",
    "betaln",
    "digamma",
    "entr",
    "erf",
    "erfc",
    "erfcinv",
    "erfinv",
    "expit",
    "gamma",
    "gammainc",
    "gammaincc",
    "gammaln",
    "gammasgn",
    "i0",
    "i1",
    "iv",
    "ive",
    "j0",
    "j1",
    "jn",
    "jv",
    "log_ndtr",
    "log_softmax",
    "logit",
    "logsumexp",
    "multigammaln",
    "ndtr",
    "ndtri",
    "polygamma",
    "psi",
    "rgamma",
    "softmax",
    "stdtr",
    "xlog1py",
    "xlogy",
    "y0",
    "y1",
    "yn",
    "yv",
]


# SciPy's ufuncs that take complex input and are holomorphic (with holomorphic derivatives): complex works here,
# in the covector convention of the README's "Complex numbers". (digamma's derivative, polygamma, is real only.)
COMPLEX = ("erf", "erfc", "ndtr", "log_ndtr", "gamma", "rgamma", "xlogy", "xlog1py", "iv", "jv", "yv")


def _unary(name: str, doc: str):
    def function(x: Any) -> Tensor:
        return apply(name, operand(x, "x", f"special.{name}", complex_ok=name in COMPLEX))

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return scipy_name("special")(function)


def _binary(name: str, doc: str):
    def function(a: Any, b: Any) -> Tensor:
        where = f"special.{name}"
        complex_ok = name in COMPLEX
        return apply(
            name,
            operand(a, "a" if name.startswith("beta") else "x", where, complex_ok=complex_ok),
            operand(b, "b" if name.startswith("beta") else "y", where, complex_ok=complex_ok),
        )

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return scipy_name("special")(function)


erf = _unary("erf", "The error function, erf x = 2/√π ∫₀ˣ e^(−t²) dt; erf′ x = 2/√π e^(−x²).")
erfc = _unary("erfc", "1 − erf x (accurate for large x); erfc′ x = −2/√π e^(−x²).")
erfinv = _unary("erfinv", "The inverse of erf on (−1, 1); its derivative is √π/2 e^(y²).")
erfcinv = _unary("erfcinv", "The inverse of erfc on (0, 2); its derivative is −√π/2 e^(y²).")
ndtr = _unary("ndtr", "Φ(x), the standard normal CDF; Φ′ = φ, the density.")
log_ndtr = _unary("log_ndtr", "log Φ(x), accurate far into the left tail; its derivative φ/Φ.")
ndtri = _unary("ndtri", "Φ⁻¹(p), the standard normal quantile; its derivative √(2π) e^(y²/2).")
gammaln = _unary("gammaln", "log|Γ(x)|; its derivative is ψ(x) (digamma).")
gamma = _unary("gamma", "Γ(x); Γ′ = Γ ψ.")
rgamma = _unary("rgamma", "1/Γ(x); its derivative −ψ(x)/Γ(x).")
digamma = _unary("digamma", "ψ(x) = Γ′(x)/Γ(x); ψ′ = ψ⁽¹⁾ (polygamma(1, x)).")
psi = digamma
gammasgn = _unary("gammasgn", "The sign of Γ(x): piecewise constant, no gradient.")
i0 = _unary("i0", "I₀(x), the modified Bessel function of order 0; I₀′ = I₁.")
i1 = _unary("i1", "I₁(x); I₁′ = (I₀ + I₂)/2.")
j0 = _unary("j0", "J₀(x), the Bessel function of the first kind of order 0; J₀′ = −J₁.")
j1 = _unary("j1", "J₁(x); J₁′ = (J₀ − J₂)/2.")
y0 = _unary("y0", "Y₀(x), the Bessel function of the second kind of order 0; Y₀′ = −Y₁.")
y1 = _unary("y1", "Y₁(x); Y₁′ = (Y₀ − Y₂)/2.")
logit = _unary("logit", "log(x/(1 − x)); its derivative 1/(x(1 − x)).")
entr = _unary("entr", "−x log x (0 at 0, −inf below); its derivative −log x − 1.")
xlogy = _binary("xlogy", "x log y, and 0 where x = 0; gradients log y and x/y.")
xlog1py = _binary("xlog1py", "x log(1 + y), and 0 where x = 0; gradients log(1 + y) and x/(1 + y).")
beta = _binary("beta", "B(a, b) = Γ(a)Γ(b)/Γ(a + b); ∂B/∂a = B (ψ(a) − ψ(a + b)).")
betaln = _binary("betaln", "log|B(a, b)|; ∂/∂a = ψ(a) − ψ(a + b).")


@scipy_name("special")
def expit(x: Any) -> Tensor:
    """The logistic sigmoid 1/(1 + e^(−x)) (chainrule's ``sigmoid`` rule); its derivative y(1 − y)."""
    return ops.sigmoid(operand(x, "x", "special.expit"))


def _order(n: Any, name: str, function: str, *, integer: bool) -> np.ndarray:
    n = constant(n, name, function)
    if integer and (np.any(n != np.round(n)) or np.any(n < 0)):
        raise DomainError(f"{function}: the order `{name}` must be a non-negative integer; got {n!r}")
    return n


def _with_parameters(name: str, x: Any, function: str, **params: Any) -> Tensor:
    """The rule ``name`` at ``x`` with array parameters, broadcast together first (a parameter may add axes)."""
    x = operand(x, "x", function, complex_ok=name in COMPLEX)
    shape = np.broadcast_shapes(np.shape(x), *(np.shape(p) for p in params.values()))
    if shape != np.shape(x):
        x = ops.broadcast_to(x, shape) if isinstance(x, Tensor) else np.broadcast_to(x, shape)
    if len(shape):  # scalar parameters stay Python-like; array ones take x's shape for the elementwise rule
        params = {k: (np.broadcast_to(v, shape) if np.ndim(v) else v) for k, v in params.items()}
    params = {k: (v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v) for k, v in params.items()}
    return apply(name, x, **params)


@scipy_name("special")
def polygamma(n: Any, x: Any) -> Tensor:
    """ψ⁽ⁿ⁾(x), the n-th derivative of digamma; its derivative in x is ψ⁽ⁿ⁺¹⁾(x). No gradient flows into n."""
    return _with_parameters("polygamma", x, "special.polygamma", n=_order(n, "n", "special.polygamma", integer=True))


@scipy_name("special")
def iv(v: Any, z: Any) -> Tensor:
    """I_v(z), the modified Bessel function of the first kind; ∂/∂z = (I_{v−1} + I_{v+1})/2."""
    return _with_parameters("iv", z, "special.iv", v=_order(v, "v", "special.iv", integer=False))


@scipy_name("special")
def ive(v: Any, z: Any) -> Tensor:
    """I_v(z) e^(−|z|), exponentially scaled (never overflows); ∂/∂z = (ive_{v−1} + ive_{v+1})/2 − sign(z) ive_v."""
    if np.iscomplexobj(z.data if isinstance(z, Tensor) else z):
        raise TypeError(
            "special.ive: complex `z` is not supported: its scaling e^(-|Re z|) is not holomorphic, so it has no "
            "complex derivative; write special.iv(v, z) * cnp.exp(-cnp.abs(cnp.real(z))) (or use real z)"
        )
    return _with_parameters("ive", z, "special.ive", v=_order(v, "v", "special.ive", integer=False))


@scipy_name("special")
def jv(v: Any, z: Any) -> Tensor:
    """J_v(z), the Bessel function of the first kind; ∂/∂z = (J_{v−1} − J_{v+1})/2."""
    return _with_parameters("jv", z, "special.jv", v=_order(v, "v", "special.jv", integer=False))


@scipy_name("special")
def yv(v: Any, z: Any) -> Tensor:
    """Y_v(z), the Bessel function of the second kind; ∂/∂z = (Y_{v−1} − Y_{v+1})/2."""
    return _with_parameters("yv", z, "special.yv", v=_order(v, "v", "special.yv", integer=False))


@scipy_name("special")
def jn(n: Any, x: Any) -> Tensor:
    """J_n(x) for an integer order n (``jv`` with an integer order)."""
    return _with_parameters("jv", x, "special.jn", v=_order(n, "n", "special.jn", integer=True))


@scipy_name("special")
def yn(n: Any, x: Any) -> Tensor:
    """Y_n(x) for an integer order n (``yv`` with an integer order)."""
    return _with_parameters("yv", x, "special.yn", v=_order(n, "n", "special.yn", integer=True))


@scipy_name("special")
def gammainc(a: Any, x: Any) -> Tensor:
    """P(a, x), the regularized lower incomplete gamma function; ∂P/∂x = x^(a−1) e^(−x)/Γ(a). No gradient in a."""
    return _with_parameters("gammainc", x, "special.gammainc", a=_order(a, "a", "special.gammainc", integer=False))


@scipy_name("special")
def gammaincc(a: Any, x: Any) -> Tensor:
    """Q(a, x) = 1 − P(a, x); ∂Q/∂x = −x^(a−1) e^(−x)/Γ(a). No gradient in a."""
    return _with_parameters("gammaincc", x, "special.gammaincc", a=_order(a, "a", "special.gammaincc", integer=False))


@scipy_name("special")
def betainc(a: Any, b: Any, x: Any) -> Tensor:
    """I_x(a, b), the regularized incomplete beta function; ∂/∂x = x^(a−1)(1 − x)^(b−1)/B(a, b). No gradient in
    a and b."""
    where = "special.betainc"
    return _with_parameters(
        "betainc", x, where, a=_order(a, "a", where, integer=False), b=_order(b, "b", where, integer=False)
    )


@scipy_name("special")
def stdtr(df: Any, t: Any) -> Tensor:
    """Student's t CDF with df degrees of freedom at t; its derivative in t is the density. No gradient in df."""
    return _with_parameters("stdtr", t, "special.stdtr", df=_order(df, "df", "special.stdtr", integer=False))


def _along(function, x: Any, axis: Any, where: str) -> Tensor:
    """``function(x, axis)`` for chainrule's one-axis softmax rules, with SciPy's axis=None (all elements)."""
    x = operand(x, "x", where, complex_ok=True)
    x = x if isinstance(x, Tensor) else ops.as_tensor(x)
    if axis is None:
        return ops.reshape(function(ops.reshape(x, (-1,)), axis=0), x.shape)
    if not isinstance(axis, int | np.integer):
        raise TypeError(f"{where}: `axis` must be an int or None; got {axis!r}")
    return function(x, axis=int(axis))


@scipy_name("special")
def softmax(x: Any, axis: Any = None) -> Tensor:
    """exp(x) / Σ exp(x) over ``axis`` (all elements by default, as SciPy's); chainrule's softmax rule."""
    return _along(ops.softmax, x, axis, "special.softmax")


@scipy_name("special")
def log_softmax(x: Any, axis: Any = None) -> Tensor:
    """x − logsumexp(x) over ``axis`` (all elements by default); chainrule's log_softmax rule."""
    return _along(ops.log_softmax, x, axis, "special.log_softmax")


@scipy_name("special")
def multigammaln(a: Any, d: int) -> Tensor:
    """log Γ_d(a) = d(d−1)/4 log π + Σ_{j=1..d} log Γ(a − (j−1)/2), the multivariate log-gamma function."""
    if isinstance(d, bool) or not isinstance(d, int | np.integer) or d < 1:
        raise TypeError(f"special.multigammaln: `d` must be a positive integer; got {d!r}")
    a = operand(a, "a", "special.multigammaln")
    values = a.data if isinstance(a, Tensor) else a
    if np.any(values <= (d - 1) / 2):
        raise DomainError(
            f"special.multigammaln: every `a` must be greater than (d - 1)/2 = {(d - 1) / 2}; "
            f"got a minimum of {np.min(values)!r}"
        )
    total = d * (d - 1) / 4 * np.log(np.pi)
    for j in range(d):
        total = total + apply("gammaln", a - j / 2)
    return total


@scipy_name("special")
def logsumexp(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False, return_sign: bool = False):
    """log Σ b·exp(a) along ``axis`` (all axes by default), computed from the shifted values so it never overflows.

    Without ``b`` it is chainrule's ``logsumexp`` rule. With ``b`` (weights, broadcast against ``a``) it is the
    composition log|Σ b e^(a − c)| + c with c = max a held constant; ``return_sign=True`` returns
    ``(log|s|, sign s)``, as SciPy does (the sign has no gradient).
    """
    a = operand(a, "a", "special.logsumexp", complex_ok=True)
    if isinstance(axis, list):
        axis = tuple(axis)
    if b is None and not return_sign:
        return ops.logsumexp(a, axis=axis, keepdims=keepdims)
    a = a if isinstance(a, Tensor) else ops.as_tensor(a)
    if b is not None:
        b = operand(b, "b", "special.logsumexp", complex_ok=True)
        try:
            shape = np.broadcast_shapes(a.shape, np.shape(b))
        except ValueError:
            raise ShapeError(
                f"special.logsumexp: `b` of shape {np.shape(b)} does not broadcast against `a` of shape {a.shape}"
            ) from None
        a = ops.broadcast_to(a, shape)
    peak = np.max(np.real(a.data), axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0).astype(np.real(a.data).dtype)
    e = ops.exp(a - peak)
    s = ops.sum(e if b is None else e * b, axis=axis, keepdims=True)
    if s.dtype.kind == "c" and not return_sign:  # SciPy's complex value: the principal log of the sum
        out = ops.log(s) + peak
        return out if keepdims else ops.squeeze(out, tuple(range(out.ndim)) if axis is None else axis)
    out = ops.log(ops.abs(s)) + peak
    sign = np.sign(s.data)  # NumPy's complex sign s/|s| for complex s, as SciPy returns
    if not keepdims:
        axes = tuple(range(out.ndim)) if axis is None else axis
        out = ops.squeeze(out, axes)
        sign = np.squeeze(sign, axes)
    if return_sign:
        return out, sign
    # SciPy's value without return_sign: the log of a negative sum is nan (its gradient is then nan too)
    return ops.where(sign < 0, np.nan, out) if np.any(sign < 0) else out


__getattr__ = scipy_fallback("special", "chainrule.scipy.special")
