"""Portable forwards of the inverse error functions (erfinv, erfcinv, ndtri) and of the regularized incomplete gamma
and beta functions (gammainc, gammaincc, betainc, and Student's t CDF stdtr through betainc).

Everything is computed in float64 with the library's own array functions (results cast back to the input's float
dtype), with a fixed number of iterations or terms on whole arrays: every branch is evaluated everywhere, on inputs
clamped into its range, and the right one is selected with ``where``. Accuracy against SciPy and mpmath is asserted
in tests/test_portable_incomplete.py, relative: 9e-16 for the inverses; P and Q within 4e-15·max(1, |ln v|) of the
value v (the exponent of xᵃe^(−x), formed in float64, carries ε times its size); I_x and stdtr within that plus
2e-15·√(a + b), divided by v where a small v comes as 1 minus the fraction on the other side of the mean (so a or b
below 0.1 with x on the far side is looser: 2e-9 at b = 1e-6). The fraction's fixed 400 terms hold I_x near its
mean up to a + b of about 1e5 (7e-14; 2e-5 at 1e6), and stdtr to 4e-14 up to df = 1e4 (9e-12 at 1e6, 2e-10 at 1e8):
no asymptotic expansion there yet, unlike P and Q, which hold for any a.

- Inverses: Φ⁻¹ by Halley's method from a rough first guess, on Φ(x) − ½ near the centre (relative accuracy near
  0) and on log Φ(x) in the tails (no underflow down to the smallest subnormal probability).
- P(a, x), Q(a, x): the power series of P for x below a, Legendre's continued fraction of Q above it, a series of
  Q for small a and x (where P is near 1), and Temme's uniform asymptotic expansion for large a near the transition
  x ≈ a (DLMF 8.12), whose coefficients are derived once from the recurrence DLMF 8.12.10.
- I_x(a, b): the continued fraction DLMF 8.17.22, on I_x(a, b) or on 1 − I_{1−x}(b, a), whichever converges.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Any

from .gamma import HALF_LOG_2PI, bernoulli, log_gamma_2, log_gamma_positive, stirling_correction
from .registry import portable


class _Float64:
    """Constants and helpers of one computation: ``xp``, the device, and 0-d float64 arrays made on it."""

    def __init__(self, backend: Any, *values: Any) -> None:
        xp = self.xp = backend.xp
        arrays = backend._floats(*values)
        like = arrays[0]
        self.dtype = like.dtype  # the result's dtype: the first input's float dtype (float64 for integers)
        self.values = xp.broadcast_arrays(*(xp.astype(v, xp.float64) for v in arrays))
        self._constant = lambda value: backend.asarray(value, self.values[0], xp.float64)  # (on its device)

    def c(self, value: float) -> Any:
        return self._constant(value)

    def out(self, value: Any) -> Any:
        return self.xp.astype(value, self.dtype)


# ---------------------------------------------------------------------------------------------------------------
# log Γ and its relatives for positive arguments, from gamma.py's pieces (a few units in the last place).
# ---------------------------------------------------------------------------------------------------------------
def _lgamma(k: _Float64, a: Any) -> Any:
    """log Γ(a) for a > 0."""
    return log_gamma_positive(k.xp, a)


def _lgamma1p(k: _Float64, a: Any) -> Any:
    """log Γ(1 + a) for a > 0, relatively accurate for small a: log Γ(2 + a) − log(1 + a) up to ½."""
    xp = k.xp
    small = xp.where(a <= 0.5, a, k.c(0.5))
    return xp.where(a <= 0.5, log_gamma_2(small) - xp.log1p(small), _lgamma(k, xp.where(a <= 0.5, k.c(1.5), a + 1)))


def _log_gamma_star(k: _Float64, a: Any) -> Any:
    """log Γ*(a) = log Γ(a) − (a − ½) log a + a − ½ log 2π for a > 0 (Stirling's series from 10 on)."""
    xp = k.xp
    large = stirling_correction(xp.maximum(a, k.c(10.0)))
    small = xp.minimum(a, k.c(10.0))
    return xp.where(a >= 10, large, _lgamma(k, small) - (small - 0.5) * xp.log(small) + small - HALF_LOG_2PI)


def _log1pmx_neg(k: _Float64, x: Any, a: Any) -> Any:
    """D = μ − log(1 + μ) >= 0 for μ = (x − a)/a, x, a > 0, without cancellation: near x = a (|μ| <= ½) with
    t = μ/(2 + μ), log(1 + μ) = 2 atanh t, so D = tμ − 2(t³/3 + t⁵/5 + ...), whose terms fall by t² <= 1/9; else
    μ − log(x/a) (not log1p(μ): μ near −1 would have lost x's digits)."""
    xp = k.xp
    mu = (x - a) / a
    m = xp.clip(mu, -0.5, 0.5)
    t = m / (2 + m)
    t2 = t * t
    total = xp.zeros_like(t)
    for j in range(20, 0, -1):  # (1/9)^20 < 1e-19
        total = total * t2 + 1 / (2 * j + 1)
    series = t * m - 2 * t * t2 * total
    return xp.where(xp.abs(mu) <= 0.5, series, mu - xp.log(x / a))


# ---------------------------------------------------------------------------------------------------------------
# Φ⁻¹, erf⁻¹, erfc⁻¹
# ---------------------------------------------------------------------------------------------------------------
def _inverse_normal(backend: Any, k: _Float64, d: Any, q: Any) -> Any:
    """x with Φ(x) = ½ + d, given both d = p − ½ and q = min(p, 1 − p) exactly (each caller forms them without
    rounding). Near the centre (|d| < ¼) Halley's method on Φ(x) − ½ = erf(x/√2)/2, which keeps x's relative
    accuracy near 0; in the tails on log Φ(−|x|) − log q."""
    xp, m = k.xp, backend.m
    # Centre: from the series x = t + t³/6 + 7t⁵/120 (t = √(2π) d), error below 2e-3 at |d| = ¼.
    dc = xp.clip(d, -0.25, 0.25)
    t = math.sqrt(2 * math.pi) * dc
    x = t * (1 + t * t * (1 / 6 + 7 / 120 * (t * t)))
    for _ in range(3):  # cubic convergence: 2e-3 -> 1e-9 -> 1e-26
        u = (0.5 * m.erf(x * math.sqrt(0.5)) - dc) * (math.sqrt(2 * math.pi) * xp.exp(0.5 * (x * x)))
        x = x - u / (1 + 0.5 * x * u)
    centre = x
    # Tails: x <= 0 from Abramowitz & Stegun 26.2.23 (absolute error below 4.5e-4), then Halley on
    # g(x) = log Φ(x) − log q, with g' = h = φ/Φ and g'' = −h(x + h).
    qt = xp.clip(q, 5e-324, 0.25)
    log_q = xp.log(qt)
    s = xp.sqrt(-2 * log_q)
    x = -(s - (2.515517 + s * (0.802853 + 0.010328 * s)) / (1 + s * (1.432788 + s * (0.189269 + 0.001308 * s))))
    for _ in range(3):
        log_phi, h = _log_ndtr_and_hazard(k, m, x)
        g = log_phi - log_q
        x = xp.minimum(x - (g / h) / (1 + 0.5 * g * (x + h) / h), k.c(0.0))
    tail = x
    return xp.where(xp.abs(d) < 0.25, centre, xp.where(d < 0, tail, -tail))


def _log_ndtr_and_hazard(k: _Float64, m: Any, x: Any) -> tuple[Any, Any]:
    """(log Φ(x), φ(x)/Φ(x)) for x <= 0 from one value of erfcx(u) = e^(u²) erfc(u), u = −x/√2: Φ(x) = e^(−x²/2)
    erfcx(u)/2, so both need no exponential of x² (no underflow, no cancellation)."""
    xp = k.xp
    u = -x * math.sqrt(0.5)
    near = xp.minimum(u, k.c(1.0))
    erfcx = xp.where(u >= 1, m.erfc_scaled(u), xp.exp(near * near) * m.erfc(near))
    return -0.5 * (x * x) + xp.log(erfcx) - math.log(2), math.sqrt(2 / math.pi) / erfcx


def _ndtri_from(backend: Any, k: _Float64, d: Any, q: Any, low: Any, high: Any, valid: Any) -> Any:
    xp = k.xp
    x = _inverse_normal(backend, k, d, q)
    x = xp.where(low, k.c(-math.inf), xp.where(high, k.c(math.inf), x))
    return xp.where(valid, x, k.c(math.nan))


@portable("ndtri")
def ndtri(backend: Any, p: Any) -> Any:
    """Φ⁻¹(p), the standard normal quantile: −inf at 0, inf at 1, nan outside [0, 1]."""
    k = _Float64(backend, p)
    (p,) = k.values
    xp = k.xp
    d = p - 0.5  # exact for p >= 1/4, where it is used
    q = xp.where(p < 0.5, p, 1 - p)  # 1 − p exact for p >= ½
    x = _ndtri_from(backend, k, d, q, p == 0, p == 1, (p >= 0) & (p <= 1))
    return k.out(xp.where(p == 0.5, k.c(0.0), x))


@portable("erfinv")
def erfinv(backend: Any, y: Any) -> Any:
    """erf⁻¹(y) = Φ⁻¹((1 + y)/2)/√2, with d = y/2 and q = (1 − |y|)/2 formed exactly: ±inf at ±1."""
    k = _Float64(backend, y)
    (y,) = k.values
    xp = k.xp
    x = _ndtri_from(backend, k, 0.5 * y, 0.5 * (1 - xp.abs(y)), y == -1, y == 1, (y >= -1) & (y <= 1))
    return k.out(xp.where(y == 0, y, x * math.sqrt(0.5)))


@portable("erfcinv")
def erfcinv(backend: Any, z: Any) -> Any:
    """erfc⁻¹(z) = −Φ⁻¹(z/2)/√2, with d = (z − 1)/2 and q = min(z, 2 − z)/2 formed exactly: inf at 0, −inf at 2."""
    k = _Float64(backend, z)
    (z,) = k.values
    xp = k.xp
    q = 0.5 * xp.where(z < 1, z, 2 - z)
    x = _ndtri_from(backend, k, 0.5 * (z - 1), q, z == 0, z == 2, (z >= 0) & (z <= 2))
    return k.out(xp.where(z == 1, k.c(-0.0), -x * math.sqrt(0.5)))


# ---------------------------------------------------------------------------------------------------------------
# P(a, x) and Q(a, x)
# ---------------------------------------------------------------------------------------------------------------
_SERIES_TERMS = 150  # P's series for x < a outside Temme's region: ratio x/(a + n) <= 0.7, or a <= 25
_FRACTION_TERMS = 150  # Q's continued fraction for x >= a, x > 1.1
_SMALL_X_TERMS = 30  # Q's series for x <= 1.1: terms below 1.1ⁿ/n!
_TEMME = (25, 25)  # Temme's expansion: a^(−k) for k < 25, each c_k(η) to η^24; used for a > 20, |x − a| < 0.3a


@functools.cache
def _temme_coefficients(terms: int = _TEMME[0], order: int = _TEMME[1]) -> tuple[tuple[float, ...], ...]:
    """d[k][n], the Taylor coefficients of c_k(η) (DLMF 8.12.9–8.12.11), exactly in rationals, then rounded.

    With λ − 1 = μ(η) = Σ aₙ ηⁿ (the inverse of η²/2 = μ − log(1 + μ); from μμ' = η(1 + μ)), 1/μ = 1/η + Σ mₙ ηⁿ,
    c₀ = Σ mₙ ηⁿ and c_k = (1/η) c'_{k−1} + (−1)ᵏ g_k/μ, where g_k are the coefficients of Γ*(a) ~ Σ g_k a^(−k):
    the 1/η parts cancel, so d[k][n] = (n + 2) d[k−1][n + 2] + (−1)ᵏ g_k mₙ.
    """
    size = order + 2 * terms + 2
    a = [Fraction(0), Fraction(1)]
    for n in range(2, size + 2):
        a.append((a[n - 1] - sum((n - i + 1) * a[i] * a[n - i + 1] for i in range(2, n))) / (n + 1))
    ratio = a[1:]  # μ/η = 1 + a₂η + a₃η² + ...
    inverse = [Fraction(1)]  # η/μ
    for n in range(1, size + 1):
        inverse.append(-sum(ratio[i] * inverse[n - i] for i in range(1, n + 1)))
    m = inverse[1:]  # 1/μ − 1/η = Σ mₙ ηⁿ
    g = _gamma_star_coefficients(terms)
    rows = [m[:size]]
    for j in range(1, terms):
        previous = rows[-1]
        sign = 1 if j % 2 == 0 else -1
        rows.append([(n + 2) * previous[n + 2] + sign * g[j] * m[n] for n in range(len(previous) - 2)])
    return tuple(tuple(float(c) for c in row[:order]) for row in rows)


def _gamma_star_coefficients(terms: int) -> list[Fraction]:
    """g_k with Γ*(a) ~ Σ g_k a^(−k): the exponential of Stirling's series Σ B_2j/(2j(2j − 1)) a^(1−2j)."""
    numbers = bernoulli(2 * terms + 2)
    log_series = [Fraction(0)] * (terms + 1)
    for j in range(1, terms // 2 + 2):
        if 2 * j - 1 <= terms:
            log_series[2 * j - 1] = numbers[2 * j] / (2 * j * (2 * j - 1))
    out = [Fraction(1)] + [Fraction(0)] * terms  # exp of a series s with s₀ = 0: n eₙ = Σ j sⱼ e_{n−j}
    for n in range(1, terms + 1):
        out[n] = sum(j * log_series[j] * out[n - j] for j in range(1, n + 1)) / n
    return out


def _gamma_prefactor(k: _Float64, a: Any, x: Any) -> Any:
    """xᵃ e^(−x) / Γ(a) for a, x > 0: a·exp(a log x − x − log Γ(1 + a)) below a = 1 (log Γ(a) would be large);
    exp(a log x − x − log Γ(a)) up to 10; from 10 on √(a/2π) e^(−a(μ − log(1 + μ)))/Γ*(a) with μ = (x − a)/a, whose
    exponent is formed without the cancellation of a log x against x."""
    xp = k.xp
    log_x = xp.log(x)
    small = a * xp.exp(a * log_x - x - _lgamma1p(k, a))
    middle = xp.exp(a * log_x - x - _lgamma(k, a))
    al = xp.maximum(a, k.c(10.0))
    large = xp.sqrt(al / (2 * math.pi)) * xp.exp(-al * _log1pmx_neg(k, x, al) - _log_gamma_star(k, al))
    return xp.where(a < 1, small, xp.where(a < 10, middle, large))


def _gamma_pq(backend: Any, k: _Float64, a: Any, x: Any) -> tuple[Any, Any]:
    """(P(a, x), Q(a, x)) for a, x > 0 finite, each relatively accurate (the smaller one computed directly)."""
    xp = k.xp
    one = k.c(1.0)
    prefactor = _gamma_prefactor(k, a, x)
    # P by its series Σ xⁿ/((a + 1)...(a + n)) times xᵃe^(−x)/Γ(a + 1) (x clamped: unused above a where it diverges).
    xs = xp.minimum(x, xp.maximum(a, k.c(1.1)))
    term, total = xp.ones_like(a), xp.ones_like(a)
    for n in range(1, _SERIES_TERMS):
        term = term * (xs / (a + n))
        total = total + term
    p_series = prefactor / a * total
    # Q by Legendre's continued fraction 1/(x + 1 − a − 1(1 − a)/(x + 3 − a − 2(2 − a)/(x + 5 − a − ...))),
    # evaluated from its tail (x clamped into its range, x >= a and x > 1.1).
    xf = xp.maximum(x, xp.maximum(a, k.c(1.1)))
    f = xf + (2 * _FRACTION_TERMS + 1) - a
    for n in range(_FRACTION_TERMS, 0, -1):
        f = xf + (2 * n - 1) - a - n * (n - a) / f
    q_fraction = _gamma_prefactor(k, a, xf) / f
    # Q for x <= 1.1 and small a: 1 − xᵃ/Γ(a + 1) − xᵃ/Γ(a) Σₙ₌₁ (−x)ⁿ/(n!(a + n)), the first part by expm1.
    xm = xp.minimum(x, k.c(1.1))
    log_xm = xp.log(xm)
    term, total = xp.ones_like(a), xp.zeros_like(a)
    for n in range(1, _SMALL_X_TERMS):
        term = term * (-xm / n)
        total = total + term / (a + n)
    e = a * log_xm - _lgamma1p(k, a)
    q_small = -xp.expm1(e) - a * xp.exp(e) * total
    # Temme's uniform expansion for large a near x = a: Q = erfc(η√(a/2))/2 + e^(−aη²/2)/√(2πa) Σ c_k(η) a^(−k).
    at = xp.maximum(a, k.c(20.0))
    xt = xp.clip(x, 0.7 * at, 1.3 * at)
    log1pmx = _log1pmx_neg(k, xt, at)
    eta = xp.sign(xt - at) * xp.sqrt(2 * log1pmx)
    table = _temme_coefficients()
    series = xp.zeros_like(a)
    for row in reversed(table):
        c = xp.zeros_like(a) + row[-1]
        for d in row[-2::-1]:
            c = c * eta + d
        series = series / at + c
    r = xp.exp(-at * log1pmx) / xp.sqrt(2 * math.pi * at) * series
    z = eta * xp.sqrt(0.5 * at)
    q_temme = 0.5 * backend.m.erfc(z) + r
    p_temme = 0.5 * backend.m.erfc(-z) - r
    # Choose per element.
    temme = (a > 20) & (xp.abs(x - a) < 0.3 * a)
    above = (x >= a) & (x > 1.1)
    small_x = (x <= 1.1) & (p_series > 0.5)
    p = xp.where(temme, p_temme, xp.where(above, one - q_fraction, xp.where(small_x, one - q_small, p_series)))
    q = xp.where(temme, q_temme, xp.where(above, q_fraction, xp.where(small_x, q_small, one - p_series)))
    return p, q


def _gamma_edges(k: _Float64, a: Any, x: Any, p: Any, q: Any, lower: bool) -> Any:
    """SciPy's values at the edges: nan for a < 0, x < 0, nan, a = x = 0 and a = x = inf; at a = 0, P = 1 (x > 0);
    at x = 0, P = 0; at x = inf, P = 1; at a = inf (x finite), P = 0."""
    xp = k.xp
    full, empty = (k.c(1.0), k.c(0.0)) if lower else (k.c(0.0), k.c(1.0))
    out = p if lower else q
    out = xp.where(x == math.inf, full, xp.where(a == math.inf, empty, out))
    out = xp.where(a == 0, full, xp.where(x == 0, empty, out))
    bad = xp.isnan(a) | xp.isnan(x) | (a < 0) | (x < 0) | ((a == 0) & (x == 0)) | (
        (a == math.inf) & (x == math.inf))
    return xp.where(bad, k.c(math.nan), out)


def _gamma_inputs(backend: Any, x: Any, a: Any) -> tuple[_Float64, Any, Any, Any, Any]:
    k = _Float64(backend, x, a)
    x, a = k.values
    xp = k.xp
    inner = (a > 0) & (x > 0) & (a < math.inf) & (x < math.inf)
    p, q = _gamma_pq(backend, k, xp.where(inner, a, k.c(1.0)), xp.where(inner, x, k.c(1.0)))
    return k, a, x, p, q


@portable("gammainc")
def gammainc(backend: Any, x: Any, a: Any = 1.5) -> Any:
    """P(a, x) = γ(a, x)/Γ(a), the regularized lower incomplete gamma function."""
    k, a, x, p, q = _gamma_inputs(backend, x, a)
    return k.out(_gamma_edges(k, a, x, p, q, lower=True))


@portable("gammaincc")
def gammaincc(backend: Any, x: Any, a: Any = 1.5) -> Any:
    """Q(a, x) = Γ(a, x)/Γ(a) = 1 − P(a, x), the regularized upper incomplete gamma function."""
    k, a, x, p, q = _gamma_inputs(backend, x, a)
    return k.out(_gamma_edges(k, a, x, p, q, lower=False))


# ---------------------------------------------------------------------------------------------------------------
# I_x(a, b) and Student's t CDF
# ---------------------------------------------------------------------------------------------------------------
_BETA_TERMS = 200  # pairs of the continued fraction's terms (d_2m, d_2m+1)


def _log_beta_prefactor(k: _Float64, a: Any, b: Any, x: Any, y: Any) -> Any:
    """log(xᵃ yᵇ / (a B(a, b))) with y = 1 − x. For a, b >= 10: with c = a + b, x₀ = a/c, y₀ = b/c,
    xᵃyᵇ/B(a, b) = Γ*(c)/(Γ*(a)Γ*(b)) √(ab/(2πc)) e^(−a D(x/x₀ − 1) − b D(y/y₀ − 1)), D(μ) = μ − log(1 + μ), free of
    the cancellation of a log x + b log y against log B; else log Γ's, with log Γ(b) − log Γ(a + b) written without
    cancellation when b is large (and likewise for a)."""
    xp = k.xp
    c = a + b
    # Both large.
    al, bl = xp.maximum(a, k.c(10.0)), xp.maximum(b, k.c(10.0))
    cl = al + bl
    both = (_log_gamma_star(k, cl) - _log_gamma_star(k, al) - _log_gamma_star(k, bl)
            + 0.5 * xp.log(al * bl / (2 * math.pi * cl))
            - al * _log1pmx_neg(k, x * cl, al) - bl * _log1pmx_neg(k, y * cl, bl) - xp.log(al))
    # Otherwise log(a B(a, b)) = log Γ(1 + a) + log Γ(b) − log Γ(a + b), the difference of the last two written
    # without cancellation when b is large; when a is large instead, log Γ(1 + a) − log Γ(a + b) likewise.
    log_a_beta = xp.where(b >= 10, _lgamma1p(k, a) + _log_gamma_ratio(k, bl, a),
                          xp.where(a >= 10, xp.log(al) + _lgamma(k, b) + _log_gamma_ratio(k, al, b),
                                   _lgamma1p(k, a) + _lgamma(k, b) - _lgamma(k, c)))
    # The smaller of x and y is taken as exact, the larger's logarithm as log1p of minus the smaller.
    log_x = xp.where(x <= 0.5, xp.log(x), xp.log1p(-y))
    log_y = xp.where(y <= 0.5, xp.log(y), xp.log1p(-x))
    mixed = a * log_x + b * log_y - log_a_beta
    return xp.where((a >= 10) & (b >= 10), both, mixed)


def _log_gamma_ratio(k: _Float64, large: Any, s: Any) -> Any:
    """log Γ(l) − log Γ(l + s) for l >= 10 and s > 0: −(l − ½) log(1 + s/l) − s log(l + s) + s + log Γ*(l) −
    log Γ*(l + s) by Stirling, without subtracting the two large logarithms."""
    xp = k.xp
    return (-(large - 0.5) * xp.log1p(s / large) - s * xp.log(large + s) + s
            + _log_gamma_star(k, large) - _log_gamma_star(k, large + s))


def _beta_fraction(k: _Float64, a: Any, b: Any, x: Any, y: Any) -> Any:
    """I_x(a, b) by DLMF 8.17.22, xᵃyᵇ/(aB(a, b)) / (1 + d₁/(1 + d₂/(1 + ...))) with
    d_2m+1 = −(a + m)(a + b + m)x/((a + 2m)(a + 2m + 1)), d_2m = m(b − m)x/((a + 2m − 1)(a + 2m)), evaluated from
    its tail (it converges fast for x below the mean (a + 1)/(a + b + 2))."""
    xp = k.xp
    t = xp.ones_like(a)
    for n in range(2 * _BETA_TERMS + 1, 0, -1):
        mm = n // 2
        if n % 2:
            d = -(a + mm) * (a + b + mm) * x / ((a + 2 * mm) * (a + 2 * mm + 1))
        else:
            d = mm * (b - mm) * x / ((a + 2 * mm - 1) * (a + 2 * mm))
        t = 1 + d / t
        t = xp.where(t == 0, k.c(1e-300), t)
    return xp.exp(_log_beta_prefactor(k, a, b, x, y)) / t


def _beta_pair(k: _Float64, a: Any, b: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """(I_x(a, b), 1 − I_x(a, b)) for a, b > 0 finite and 0 < x < 1, with y = 1 − x given exactly: the fraction on
    the side of the mean where it converges, the other by the symmetry I_x(a, b) = 1 − I_y(b, a)."""
    xp = k.xp
    swap = x * (a + b + 2) > a + 1
    a1, b1 = xp.where(swap, b, a), xp.where(swap, a, b)
    x1, y1 = xp.where(swap, y, x), xp.where(swap, x, y)
    direct = _beta_fraction(k, a1, b1, x1, y1)
    other = 1 - direct
    return xp.where(swap, other, direct), xp.where(swap, direct, other)


def _betainc(k: _Float64, a: Any, b: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """(I_x(a, b), 1 − I_x(a, b)) with SciPy's edges: 0 at x = 0 and 1 at x = 1; at a = 0, 1 (x > 0); at b = 0, 0
    (x < 1); at a = inf, 0 (x < 1), at b = inf, 1 (x > 0); nan outside a, b >= 0 and 0 <= x <= 1, and for a = b = 0
    or a = b = inf."""
    xp = k.xp
    inner = (a > 0) & (b > 0) & (a < math.inf) & (b < math.inf) & (x > 0) & (y > 0)
    safe = [xp.where(inner, v, k.c(0.5)) for v in (a, b, x, y)]
    i, j = _beta_pair(k, *safe)
    zero, one = k.c(0.0), k.c(1.0)
    for condition, value in (((b == 0) | (a == math.inf), zero), ((a == 0) | (b == math.inf), one),
                             (x == 0, zero), (y == 0, one)):
        i = xp.where(condition, value, i)
        j = xp.where(condition, 1 - value, j)
    bad = (xp.isnan(a) | xp.isnan(b) | xp.isnan(x) | (a < 0) | (b < 0) | (x < 0) | (x > 1)
           | ((a == 0) & (b == 0)) | ((a == math.inf) & (b == math.inf)))
    nan = k.c(math.nan)
    return xp.where(bad, nan, i), xp.where(bad, nan, j)


@portable("betainc")
def betainc(backend: Any, x: Any, a: Any = 1.5, b: Any = 2.5) -> Any:
    """I_x(a, b) = B(x; a, b)/B(a, b), the regularized incomplete beta function."""
    k = _Float64(backend, x, a, b)
    x, a, b = k.values
    return k.out(_betainc(k, a, b, x, 1 - x)[0])


@portable("stdtr")
def stdtr(backend: Any, x: Any, df: Any = 3.0) -> Any:
    """Student's t CDF with df degrees of freedom at t = x: P(T <= −|t|) = I_z(df/2, ½)/2 with z = df/(df + t²), and
    1 − z = t²/(df + t²) formed apart (the fraction needs both exactly); Φ(t) for df = inf; nan for df <= 0."""
    k = _Float64(backend, x, df)
    t, df = k.values
    xp = k.xp
    finite = (df > 0) & (df < math.inf)
    n = xp.where(finite, df, k.c(1.0))
    big = xp.abs(t) > 1e150  # t² would overflow: z = 0 there
    ts = xp.where(big, k.c(0.0), t)
    z = xp.where(big, k.c(0.0), n / (n + ts * ts))
    w = xp.where(big, k.c(1.0), ts * ts / (n + ts * ts))
    i, _ = _betainc(k, 0.5 * n, k.c(0.5), z, w)
    tail = 0.5 * i
    out = xp.where(t < 0, tail, 1 - tail)
    out = xp.where(df == math.inf, 0.5 * backend.m.erfc(-t * math.sqrt(0.5)), out)
    return k.out(xp.where((df > 0) & ~xp.isnan(t), out, k.c(math.nan)))
