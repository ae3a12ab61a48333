"""The gamma family on any Array API library: log Γ, Γ, 1/Γ, ψ, ψ⁽ⁿ⁾ (through a Hurwitz ζ), B and log B.

Everything is computed in float64 (float32 input gives a float32 result), every piece evaluated on the whole array
with its input clamped into the piece's range and the right piece selected with ``where``: no data-dependent
branch, no host copy. SciPy's values at the poles, at ±0, ±inf and nan are kept exactly (tests/test_portable_gamma.py
compares them). The pieces:

- log Γ(2 + z) = (1 − γ) z + Σ_{k≥2} (−1)ᵏ (ζ(k) − 1)/k zᵏ for |z| ≤ ½ (``log_gamma_2``): relatively accurate near
  the roots of log Γ at 1 and 2; other x < 10 are brought to [1.5, 2.5) by Γ(x + 1) = x Γ(x), and x ≥ 10 use
  Stirling's series (1/x up to x⁻¹⁷). Negative x by reflection, Γ(x) Γ(1 − x) = π / sin(πx), with sin(πx)
  reduced exactly to sin(π(x − round x)).
- ψ near its positive root x₀ = 1.4616…: the Taylor series Σ (−1)ᵏ⁺¹ ζ(k + 1, x₀) (x − x₀)ᵏ on [1, 2) (x − x₀ formed
  with x₀ in two parts, so ψ is relatively accurate at its root); other x < 10 by ψ(x + 1) = ψ(x) + 1/x, x ≥ 10 by
  the asymptotic series, x < 0 by ψ(1 − x) − ψ(x) = π cot(πx).
- ψ⁽ⁿ⁾(x) = (−1)ⁿ⁺¹ n! ζ(n + 1, x), ζ(s, x) by Euler–Maclaurin after shifting x past a threshold that grows with s;
  x < 0 by the n-th derivative of the reflection formula, dⁿ/dxⁿ cot(πx) = πⁿ Pₙ(cot πx) with Pₙ₊₁ = −(1 + c²) Pₙ'.

Accuracy in float64 against mpmath (tests/test_portable_gamma.py asserts these): log Γ, Γ, 1/Γ, ψ and ψ⁽ⁿ⁾ within
a few units in the last place for x > 0; for x < 0 the same relative accuracy away from the roots of log|Γ| and ψ
(where the reflection's subtraction leaves an absolute error of a few 1e-16 times the terms' size) — as SciPy's own.
B and log B: ~1e-15 relative while a, b, a + b < 171; beyond, B = exp(log B) and its relative error grows like
|log B| × 1e-16 (SciPy's beta does the same).
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction
from typing import Any

from .registry import portable


def bernoulli(count: int) -> list[Fraction]:
    """B₀ … B_count exactly, from Σ_{k=0}^{m} C(m + 1, k) B_k = 0."""
    numbers = [Fraction(1)]
    for m in range(1, count + 1):
        numbers.append(-sum(math.comb(m + 1, k) * numbers[k] for k in range(m)) / (m + 1))
    return numbers


_B = bernoulli(40)
EULER_GAMMA = 0.57721566490153286061
HALF_LOG_2PI = 0.91893853320467274178  # ½ log 2π
_LOG_PI = 1.1447298858494001741
_SQRT_2PI = 2.5066282746310005024
_BIG = 10.0  # from here on the asymptotic series (log Γ, Γ, ψ) reach 1e-19 with nine terms

# Stirling: log Γ(x) = (x − ½)(log x − 1) − ½ + ½ log 2π + Σ_k B₂ₖ / (2k(2k − 1) x^(2k−1)); the last term left out
# is below 2e-19 at x = 10.
_STIRLING = tuple(float(_B[2 * k] / (2 * k * (2 * k - 1))) for k in range(1, 10))
# ψ(x) = log x − 1/(2x) − Σ_k B₂ₖ / (2k x^2k)
_PSI_SERIES = tuple(float(_B[2 * k] / (2 * k)) for k in range(1, 10))


def _zeta_tail_coefficients(s: float, terms: int = 12) -> tuple[float, ...]:
    """Euler–Maclaurin's ζ(s, w) ≈ w^(1−s) (1/(s − 1) + 1/(2w) + Σ_j c_j w^(−2j)): c_j = B₂ⱼ/(2j)! · s(s+1)…(s+2j−2)."""
    coefficients, rising = [], Fraction(1)
    for j in range(1, terms + 1):
        rising = rising * Fraction(s + 2 * j - 2) * (Fraction(s + 2 * j - 3) if j > 1 else 1)
        coefficients.append(float(_B[2 * j] / math.factorial(2 * j) * rising))
    return tuple(coefficients)


def _zeta_tail(s: float, w, coefficients):
    """The Euler–Maclaurin tail ζ(s, w) for w past the threshold, on Python floats or on arrays (operators only)."""
    u = 1 / (w * w)
    series = coefficients[-1]
    for c in coefficients[-2::-1]:
        series = series * u + c
    return w ** (1 - s) * (1 / (s - 1) + 1 / (2 * w) + series * u)


def _zeta_float(s: int, a: float, shift: int = 16) -> float:
    """ζ(s, a) for Python floats (the constants of the series below)."""
    head = math.fsum((a + k) ** -s for k in range(shift))
    return head + _zeta_tail(s, a + shift, _zeta_tail_coefficients(s))


# log Γ(2 + z) = (1 − γ) z + Σ_{k≥2} (−1)ᵏ (ζ(k) − 1)/k zᵏ: for |z| ≤ ½ the terms fall like 4⁻ᵏ/k.
_LOG_GAMMA_2 = (1 - EULER_GAMMA,) + tuple((-1) ** k * _zeta_float(k, 2.0) / k for k in range(2, 30))

# ψ's positive root in two parts (x₀ = 1.46163214496836234126…: high + low, computed with mpmath at 50 digits),
# and ψ(x₀ + t) = Σ_{k≥1} (−1)ᵏ⁺¹ ζ(k + 1, x₀) tᵏ, for |t| ≤ 0.54 (terms fall like 0.37ᵏ).
_PSI_ROOT = (1.4616321449683622, 9.549995429965697e-17)
_PSI_TAYLOR = tuple((-1) ** (k + 1) * _zeta_float(k + 1, _PSI_ROOT[0]) for k in range(1, 44))


def _horner(coefficients, z):
    out = coefficients[-1]
    for c in coefficients[-2::-1]:
        out = out * z + c
    return out


# ---------------------------------------------------------------------------------------------------------------
# Pieces (float64 arrays of one namespace xp).
# ---------------------------------------------------------------------------------------------------------------
def log_gamma_2(z: Any) -> Any:
    """log Γ(2 + z) for |z| ≤ ½."""
    return z * _horner(_LOG_GAMMA_2, z)


def stirling_correction(x: Any) -> Any:
    """Σ_k B₂ₖ / (2k(2k − 1) x^(2k−1)) for x ≥ 10: log Γ(x) minus its leading terms."""
    return _horner(_STIRLING, 1 / (x * x)) / x


def _reduced(xp, x, low=1.5):
    """(v, product, reciprocals) for low ≤ x < 10: v = x − m in [low, low + 1), the product (x − 1)(x − 2)…(x − m)
    (Γ(x) = Γ(v)·product) and the sum 1/(x − 1) + … + 1/(x − m) (ψ(x) = ψ(v) + sum). Each x − k is exact."""
    product, reciprocals, v = xp.ones_like(x), xp.zeros_like(x), x
    for k in range(1, 9):
        step = x - k >= low
        product = xp.where(step, product * (x - k), product)
        reciprocals = xp.where(step, reciprocals + 1 / xp.where(step, x - k, 1.0), reciprocals)
        v = xp.where(step, x - k, v)
    return v, product, reciprocals


def log_gamma_positive(xp: Any, x: Any) -> Any:
    """log Γ(x) for x ≥ −½ (|x| for x in (−½, ½): log |Γ|), away from 0."""
    small = xp.clip(x, -0.5, 0.5)
    near_0 = log_gamma_2(small) - xp.log1p(small) - xp.log(xp.abs(small))
    near_1 = log_gamma_2(xp.clip(x, 0.5, 1.5) - 1) - xp.log(xp.clip(x, 0.5, 1.5))
    v, product, _ = _reduced(xp, xp.clip(x, 1.5, _BIG))
    middle = log_gamma_2(v - 2) + xp.log(product)
    big = xp.clip(x, _BIG, math.inf)
    stirling = (big - 0.5) * (xp.log(big) - 1) + (HALF_LOG_2PI - 0.5) + stirling_correction(big)
    return xp.where(x < 0.5, near_0, xp.where(x < 1.5, near_1, xp.where(x < _BIG, middle, stirling)))


def _gamma_positive(xp, x):
    """Γ(x) for x ≥ −½ (x ≠ 0), inf past 171.62."""
    small = xp.clip(x, -0.5, 0.5)
    near_0 = xp.exp(log_gamma_2(small)) / (small * (small + 1))
    near_1 = xp.exp(log_gamma_2(xp.clip(x, 0.5, 1.5) - 1)) / xp.clip(x, 0.5, 1.5)
    v, product, _ = _reduced(xp, xp.clip(x, 1.5, _BIG))
    middle = xp.exp(log_gamma_2(v - 2)) * product
    # Stirling: √(2π) x^(x − ½) e^(−x) e^δ, with x^(x − ½) as a square (p = x^(x/2 − ¼)) so that nothing overflows
    # before Γ does.
    big = xp.clip(x, _BIG, 172.0)
    p = big ** (0.5 * big - 0.25)
    stirling = p * (p * xp.exp(-big)) * (_SQRT_2PI * xp.exp(stirling_correction(big)))
    stirling = xp.where(x > 171.7, math.inf, stirling)
    return xp.where(x < 0.5, near_0, xp.where(x < 1.5, near_1, xp.where(x < _BIG, middle, stirling)))


def _psi_positive(xp, x):
    """ψ(x) for x ≥ 0 (−inf at +0, +inf at −0)."""
    below = xp.clip(x, 0.0, 1.0)
    # [0, 1): ψ(x) = ψ(x + 1) − 1/x, with x + 1 − x₀ formed as x − (x₀ − 1) (exact: no rounding of x + 1)
    t_below = (below - (_PSI_ROOT[0] - 1)) - _PSI_ROOT[1]
    v, _, reciprocals = _reduced(xp, xp.clip(x, 1.0, _BIG), low=1.0)
    t = xp.where(x < 1.0, t_below, (v - _PSI_ROOT[0]) - _PSI_ROOT[1])
    taylor = t * _horner(_PSI_TAYLOR, t) + xp.where(x < 1.0, -1 / below, reciprocals)
    big = xp.clip(x, _BIG, math.inf)
    u = 1 / (big * big)
    asymptotic = xp.log(big) - 0.5 / big - u * _horner(_PSI_SERIES, u)
    return xp.where(x < _BIG, taylor, asymptotic)


def _reduce_pi(xp, x):
    """(r, odd): x = round(x) + r with |r| ≤ ½ (exact), and whether round(x) is odd."""
    n = xp.round(x)
    return x - n, xp.remainder(n, 2.0) == 1


def _sin_pi(xp, x):
    """sin(πx), exactly 0 at the integers, relatively accurate near them."""
    r, odd = _reduce_pi(xp, x)
    s = xp.sin(math.pi * r)
    return xp.where(odd, -s, s)


def _sin_pi_sum(xp, a, b):
    """sin(π(a + b)) of the exact sum: a + b = s + e (Knuth's two-sum), s − round(s) exact, e added after."""
    s = a + b
    b_part = s - a
    e = (a - (s - b_part)) + (b - b_part)
    n = xp.round(s)
    r = xp.where(xp.isfinite(e), (s - n) + e, s - n)
    sine = xp.sin(math.pi * r)
    return xp.where(xp.remainder(n, 2.0) == 1, -sine, sine)


def _cot_pi(xp, x):
    """cot(πx) (period 1), with cos(πr) as sin(π(½ − |r|)): exactly 0 at the half-integers."""
    r, _ = _reduce_pi(xp, x)
    return xp.sin(math.pi * (0.5 - xp.abs(r))) / xp.sin(math.pi * r)


def _is_pole(xp, x):
    """x a non-positive integer or −inf (not ±0)."""
    return (x < 0) & (xp.floor(x) == x)


# ---------------------------------------------------------------------------------------------------------------
# Forwards.
# ---------------------------------------------------------------------------------------------------------------
def _float64(backend, *xs):
    """xs as float64 arrays of the backend (integers give float64, as SciPy), and the result dtype."""
    xp = backend.xp
    xs = backend._floats(*xs)
    dtype = xp.result_type(*xs)
    if len(xs) > 1:
        xs = xp.broadcast_arrays(*xs)
    return [xp.astype(x, xp.float64) for x in xs], dtype


@portable("gammaln")
def gammaln(backend: Any, x: Any) -> Any:
    """log |Γ(x)|: +inf at the poles (0, −1, −2, …) and at +inf, −inf at −inf (SciPy's)."""
    xp = backend.xp
    (x,), dtype = _float64(backend, x)
    return xp.astype(_log_gamma(xp, x), dtype)


def _log_gamma(xp, x):
    # Reflection with Γ(1 − x) = −x Γ(−x): −x is exact, 1 − x is not (and Γ's logarithmic derivative is large).
    y = xp.where(x <= -0.5, -x, x)
    positive = log_gamma_positive(xp, y)
    left = xp.where(x <= -0.5, x, -0.5)  # (so that no unused branch takes log 0)
    reflected = _LOG_PI - xp.log(xp.abs(_sin_pi(xp, left))) - (xp.log(-left) + positive)
    out = xp.where(x <= -0.5, reflected, positive)
    out = xp.where(_is_pole(xp, x) | (x == 0), math.inf, out)
    return xp.where(x == -math.inf, -math.inf, out)


@portable("gamma")
def gamma(backend: Any, x: Any) -> Any:
    """Γ(x): ±inf at ±0, nan at the negative integers and −inf, inf past 171.62, ±0 below −171.6 (SciPy's)."""
    xp = backend.xp
    (x,), dtype = _float64(backend, x)
    return xp.astype(_gamma(xp, x), dtype)


def _gamma(xp, x):
    y = xp.where(x <= -0.5, -x, x)  # Γ(x) = π / (sin(πx) Γ(1 − x)), Γ(1 − x) = −x Γ(−x)
    positive = _gamma_positive(xp, y)
    left = xp.where(x <= -0.5, x, -0.5)
    out = xp.where(x <= -0.5, -math.pi / (_sin_pi(xp, left) * (left * positive)), positive)
    return xp.where(_is_pole(xp, x), math.nan, out)


@portable("rgamma")
def rgamma(backend: Any, x: Any) -> Any:
    """1/Γ(x): 0 at the poles and at ±inf, ±inf where Γ underflows below −171.6 (SciPy's)."""
    xp = backend.xp
    (x,), dtype = _float64(backend, x)
    return xp.astype(_rgamma(xp, x), dtype)


def _rgamma(xp, x):
    small = xp.clip(x, -0.5, 0.5)  # x (x + 1) / Γ(x + 2): no 1/0 at 0
    near_0 = small * (small + 1) * xp.exp(-log_gamma_2(small))
    y = xp.where(x <= -0.5, -x, x)
    positive = _gamma_positive(xp, y)
    out = xp.where(x <= -0.5, -_sin_pi(xp, x) * (x * positive) / math.pi, 1 / positive)
    out = xp.where((x > -0.5) & (x < 0.5), near_0, out)
    return xp.where(_is_pole(xp, x), 0.0, out)


@portable("digamma")
def digamma(backend: Any, x: Any) -> Any:
    """ψ(x) = Γ'(x)/Γ(x): −inf at +0, +inf at −0, nan at the negative integers and −inf (SciPy's)."""
    xp = backend.xp
    (x,), dtype = _float64(backend, x)
    return xp.astype(_digamma(xp, x), dtype)


def _digamma(xp, x):
    # ψ(x) = ψ(1 − x) − π cot(πx); below −1 with ψ(1 − x) = ψ(−x) − 1/x (−x is exact, 1 − x is not)
    negative = x < 0
    far = x <= -1
    positive = _psi_positive(xp, xp.where(far, -x, xp.where(negative, 1 - x, x)))
    positive = xp.where(far, positive - 1 / xp.where(far, x, -1.0), positive)
    out = xp.where(negative, positive - math.pi * _cot_pi(xp, xp.where(negative, x, 0.5)), positive)
    return xp.where(_is_pole(xp, x), math.nan, out)


def _zeta_threshold(s: int) -> int:
    """Where Euler–Maclaurin with 12 correction terms reaches 1e-18 for ζ(s, ·): its last term, relative to the
    first, is about 2 s(s+1)…(s+24) (s − 1) / (2πw)²⁶."""
    rising = math.prod(range(s, s + 25)) * (s - 1)
    w = 10
    while 2 * rising / (2 * math.pi * w) ** 26 > 1e-18:
        w += 1
    return w


def _hurwitz_zeta(xp, s: int, x, start: int = 0):
    """Σ_{k≥start} (x + k)^(−s) = ζ(s, x + start) for x + start > 0 (integer s ≥ 2): the terms below the threshold
    summed (smallest first), the rest by Euler–Maclaurin at the first x + k past it."""
    threshold = _zeta_threshold(s)
    count = xp.zeros_like(x)
    terms = []
    for k in range(start, start + threshold):
        w = x + k
        inside = w < threshold
        terms.append(xp.where(inside, xp.where(inside, w, 1.0) ** -s, 0.0))
        count = count + xp.astype(inside, x.dtype)
    head = xp.zeros_like(x)
    for term in reversed(terms):
        head = head + term
    return head + _zeta_tail(s, x + (count + start), _zeta_tail_coefficients(s))


def _cot_derivative_polynomial(n: int) -> tuple[int, ...]:
    """Coefficients (constant first) of Pₙ with dⁿ/dxⁿ cot x = Pₙ(cot x): P₀ = c, Pₙ₊₁ = −(1 + c²) Pₙ'."""
    p = [0, 1]
    for _ in range(n):
        derivative = [k * p[k] for k in range(1, len(p))]
        p = [0] * (len(derivative) + 2)
        for k, c in enumerate(derivative):
            p[k] -= c
            p[k + 2] -= c
    return tuple(float(c) for c in p)  # (floats: past n = 19 the integers no longer fit the arrays' int64)


def _polygamma(xp, n: int, x):
    """ψ⁽ⁿ⁾(x), n ≥ 1: (−1)ⁿ⁺¹ n! ζ(n + 1, x) for x > 0; for x < 0, from ψ(1 − x) − ψ(x) = π cot(πx) differentiated
    n times, (−1)ⁿ ψ⁽ⁿ⁾(1 − x) − π^(n+1) Pₙ(cot πx); (−1)ⁿ⁺¹ inf at the poles (SciPy's)."""
    negative = x < 0
    y = xp.where(negative, -x, x)
    y = xp.where(y > 0, y, 1.0)
    sign = (-1) ** (n + 1)
    factorial = float(math.factorial(n)) if n <= 170 else math.inf  # (SciPy's n! overflows too)
    positive = sign * factorial * _hurwitz_zeta(xp, n + 1, y)
    # ψ⁽ⁿ⁾(1 − x) as ζ(n + 1, 1 + y) = Σ_{k≥1} (y + k)^(−n−1), y = −x exact
    shifted = sign * factorial * _hurwitz_zeta(xp, n + 1, y, start=1)
    polynomial = _cot_derivative_polynomial(n)
    c = _cot_pi(xp, xp.where(negative, x, 0.5))
    reflected = (-1) ** n * shifted - math.pi ** (n + 1) * _horner(polynomial, c)
    out = xp.where(negative, reflected, positive)
    out = xp.where(_is_pole(xp, x) | (x == 0), sign * math.inf, out)
    return xp.where(xp.isnan(x), math.nan, out)


@portable("polygamma")
def polygamma(backend: Any, x: Any, n: Any = 1) -> Any:
    """ψ⁽ⁿ⁾(x) for an integer order n ≥ 0 (ψ itself for n = 0)."""
    if getattr(n, "ndim", 0):  # (an array of orders, broadcast against x: NumPy's path takes it)
        raise NotImplementedError(f"'polygamma' on {backend.name} arrays takes one integer order n; got an array "
                                  "of orders: call it once per order, or move x explicitly with t.to(numpy)")
    if isinstance(n, float) or not hasattr(n, "__index__") or operator.index(n) < 0:
        raise ValueError(f"'polygamma' takes an integer order n >= 0, not {n!r}")
    n = operator.index(n)
    if n > 163:  # Pₙ's coefficients overflow float64 from n = 164 (and building Pₙ takes minutes for n ~ 10⁴)
        raise NotImplementedError(
            f"'polygamma' on {backend.name} arrays is implemented for orders n <= 163, not n = {n} (from n = 171, "
            "n! overflows float64 and SciPy's values are ±inf or nan); move x explicitly with t.to(numpy) for "
            "higher orders")
    if n == 0:
        return digamma(backend, x)
    (x,), dtype = _float64(backend, x)
    return backend.xp.astype(_polygamma(backend.xp, n, x), dtype)


# ---------------------------------------------------------------------------------------------------------------
# The beta function B(a, b) = Γ(a) Γ(b) / Γ(a + b) and log |B(a, b)|.
# ---------------------------------------------------------------------------------------------------------------
_MAX_GAMMA = 171.0  # Γ is finite below 171.62: products of Γs below it
_INT_LIMIT = 2.0 ** 31  # SciPy reads a non-positive integer argument as an int (larger ones overflow: inf)


def _mid_exponent(xp, p, q):
    """log Γ(q) − log Γ(p + q) + p log(p + q) for q ≥ 10 and p + q ≥ 10, from Stirling's series without the
    cancellation of two large logarithms: δ(q) − δ(p + q) + p − (q − ½) log1p(p/q) (of the order of p²/q)."""
    return stirling_correction(q) - stirling_correction(p + q) + (p - (q - 0.5) * xp.log1p(p / q))


def _big_log_beta(xp, p, q):
    """log B(p, q) for q ≥ p ≥ 10: ½ log 2π − ½ log q + δ(p) + δ(q) − δ(p + q) + (p − ½) log(p/(p + q))
    + q log1p(−p/(p + q))."""
    total = p + q
    share = xp.where(xp.isfinite(total), p / xp.where(xp.isfinite(total), total, 1.0), 1 / (1 + q / p))
    return (HALF_LOG_2PI - 0.5 * xp.log(q) + stirling_correction(p) + stirling_correction(q)
            - stirling_correction(p + q) + (p - 0.5) * xp.log(share) + q * xp.log1p(-share))


def _is_whole(xp, x):
    """x an integer that SciPy reads as one (|x| < 2³¹)."""
    return (xp.floor(x) == x) & (xp.abs(x) < _INT_LIMIT)


def _finite(xp, a, b):
    """Whether Γ(a), Γ(b) and Γ(a + b) are all below overflow (|·| < 171)."""
    return (xp.abs(a) < _MAX_GAMMA) & (xp.abs(b) < _MAX_GAMMA) & (xp.abs(a + b) < _MAX_GAMMA)


def _beta_routes(xp, a, b, log):
    """B(a, b) or log |B(a, b)| for arguments that are not poles (see _beta)."""
    p, q = xp.minimum(a, b), xp.maximum(a, b)
    total = a + b
    larger = xp.abs(a) >= xp.abs(b)
    large, small = xp.where(larger, a, b), xp.where(larger, b, a)
    finite = _finite(xp, a, b)
    fl, fs = xp.where(finite, large, 0.5), xp.where(finite, small, 0.5)
    product = _gamma(xp, fs) * (_gamma(xp, fl) * _rgamma(xp, fs + fl))
    # a + b = s + e exactly (two-sum): Γ(s + e) = Γ(s)(1 + ψ(s) e), else the rounding of a + b costs ψ(s)·ulp(s).
    fsum = fs + fl
    part = fsum - fs
    e = (fs - (fsum - part)) + (fl - part)
    psi = _digamma(xp, fsum)
    correction = xp.where(xp.isfinite(psi) & (e != 0), psi * e, 0.0)
    mid_ok = (p < _BIG) & (q >= _BIG) & (total >= _BIG) & (q < math.inf)
    mp, mq = xp.where(mid_ok, p, 1.0), xp.where(mid_ok, q, _BIG)
    exponent = _mid_exponent(xp, mp, mq)
    big_ok = (p >= _BIG) & (q < math.inf)
    big = _big_log_beta(xp, xp.where(big_ok, p, _BIG), xp.where(big_ok, q, _BIG))
    logs = _log_gamma(xp, a) + _log_gamma(xp, b) - _log_gamma(xp, total)
    if log:
        usable = finite & xp.isfinite(product) & (product != 0)
        out = xp.where(usable, xp.log(xp.abs(xp.where(usable, product, 1.0))) - correction, logs)
        out = xp.where(mid_ok, _log_gamma(xp, mp) + exponent - mp * xp.log(mp + mq), out)
        out = xp.where(big_ok, big, out)
    else:
        signs = _gamma_sign(xp, a) * _gamma_sign(xp, b) * _gamma_sign(xp, total)
        out = xp.where(big_ok, xp.exp(big), signs * xp.exp(logs))
        out = xp.where(finite, product * (1 - correction), out)
        near = xp.abs(mp) < _BIG
        mid = xp.where(near, _gamma(xp, mp) * xp.exp(exponent) * (mp + mq) ** -mp,
                       _gamma_sign(xp, mp) * xp.exp(_log_gamma(xp, mp) + exponent - mp * xp.log(mp + mq)))
        out = xp.where(mid_ok, mid, out)
    return out


def _beta(xp, a, b, log):
    """B(a, b) or log |B(a, b)|, by the first of these that applies (p ≤ q the arguments in order):

    - p < 10 ≤ q, p + q ≥ 10: Γ(p) e^E (p + q)^(−p) with E of the order of p²/q (``_mid_exponent``), through
      logarithms when p ≤ −10 (Γ(p + q) is not formed: the rounding of p + q would cost ψ(p + q)·ulp(p + q));
    - |a|, |b|, |a + b| < 171: Γ(small) (Γ(large) / Γ(a + b)), the larger argument (nearer a + b) paired with a + b so
      that no quotient overflows before the result does;
    - p ≥ 10: Stirling's series for all three (``_big_log_beta``);
    - negative non-integers otherwise: reflected to positive arguments first (below); what remains (a + b near a
      pole, for one) by ±exp(log|Γ(a)| + log|Γ(b)| − log|Γ(a + b)|).

    SciPy's conventions (tests/test_portable_gamma.py checks them against SciPy):

    - a non-positive integer n among the arguments (a looked at first), the other o: B is the limit (−1)ᵒ B(1 − n − o,
      o) when o is an integer with 1 ≤ o ≤ −n, (−1)ᵒ inf when o is a non-positive integer, else inf; −inf and
      integers beyond 2³¹ give inf (also next to nan);
    - a + b a non-positive integer (a, b not integers): B = ±0, log |B| = −inf;
    - +inf next to o > 0: 0 (log: −inf); next to a negative non-integer o: sign(Γ(o))·inf (log: inf); next to +inf or
      nan: nan.
    """
    n_a = (a <= 0) & (xp.floor(a) == a)  # (−inf included: SciPy takes it for a pole it cannot read as an int)
    n_b = (b <= 0) & (xp.floor(b) == b)
    negint = n_a | n_b
    n, o = xp.where(n_a, a, b), xp.where(n_a, b, a)
    readable = _is_whole(xp, n) & _is_whole(xp, o)
    limit = readable & (o >= 1) & (1 - n - o >= 1)
    sign_o = 1.0 - 2.0 * xp.remainder(xp.where(readable, o, 0.0), 2.0)  # (−1)ᵒ
    both_poles = readable & (o <= 0)
    # One evaluation below: the limit's B(1 − n − o, o), else a and b (2 and 2 at the other poles: replaced after).
    a = xp.where(negint, xp.where(limit, 1 - n - o, 2.0), a)
    b = xp.where(negint, xp.where(limit, o, 2.0), b)

    # Negative non-integers where neither Γ products nor Stirling's series serve, by reflection to positive
    # arguments (sin(π(a + b)) from the exact sum: B is as sensitive to a + b as 1/sin is near its poles):
    # B(p, q) = sin(π(p + q)) / sin(πp) · B(q, 1 − p − q) for p < 0 < q, and
    # B(a, b) = π sin(π(a + b)) / (sin(πa) sin(πb) (1 − a − b) B(1 − a, 1 − b)) for a, b < 0.
    p, q = xp.minimum(a, b), xp.maximum(a, b)
    total = a + b
    far = ~_finite(xp, a, b)
    one_negative = (p < 0) & (q > 0) & (q < math.inf) & far & ~((q >= _BIG) & (total >= _BIG))
    both_negative = (q < 0) & far
    sin_total = _sin_pi_sum(xp, a, b)
    sin_p = _sin_pi(xp, xp.where(one_negative | both_negative, p, 0.5))
    sin_q = _sin_pi(xp, xp.where(both_negative, q, 0.5))
    factor = xp.where(one_negative, sin_total / sin_p, math.pi * sin_total / (sin_p * sin_q * (1 - total)))
    a = xp.where(one_negative, q, xp.where(both_negative, 1 - a, a))
    b = xp.where(one_negative, 1 - total, xp.where(both_negative, 1 - b, b))
    out = _beta_routes(xp, a, b, log)
    if log:
        log_factor = xp.log(xp.abs(factor))
        out = xp.where(one_negative, out + log_factor, xp.where(both_negative, log_factor - out, out))
    else:
        out = xp.where(one_negative, out * factor, xp.where(both_negative, factor / out, out))
    p, q = xp.minimum(a, b), xp.maximum(a, b)
    # +inf: 0 next to a positive number, sign(Γ(o))·inf next to a negative non-integer, nan next to inf.
    other = xp.where(a == math.inf, b, a)
    if log:
        inf_value = xp.where(other > 0, -math.inf, xp.full_like(other, math.inf))
    else:
        inf_value = xp.where(other > 0, 0.0, _gamma_sign(xp, other) * math.inf)
    out = xp.where(q == math.inf, xp.where(other == math.inf, math.nan, inf_value), out)
    if log:
        return xp.where(negint & ~limit, math.inf, out)
    out = xp.where(limit, sign_o * out, out)
    return xp.where(negint & ~limit, xp.where(both_poles, sign_o * math.inf, math.inf), out)


def _gamma_sign(xp, x):
    """The sign of Γ(x): 1 for x > 0, that of sin(πx) below 0 (non-integers)."""
    return xp.where(x > 0, 1.0, xp.sign(_sin_pi(xp, x)))


@portable("beta")
def beta(backend: Any, a: Any, b: Any) -> Any:
    """B(a, b) = Γ(a) Γ(b) / Γ(a + b), with SciPy's values at the poles (see _beta)."""
    (a, b), dtype = _float64(backend, a, b)
    return backend.xp.astype(_beta(backend.xp, a, b, log=False), dtype)


@portable("betaln")
def betaln(backend: Any, a: Any, b: Any) -> Any:
    """log |B(a, b)|, accurate also where log Γ(a) and log Γ(a + b) are large and nearly equal."""
    (a, b), dtype = _float64(backend, a, b)
    return backend.xp.astype(_beta(backend.xp, a, b, log=True), dtype)
