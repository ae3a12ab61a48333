"""Bessel functions of real order on any Array API library: I_v (iv, ive, i0, i1), J_v and Y_v (jv, yv, j0, j1,
y0, y1), in float64 whatever the input (float32 comes back float32), for x >= 0 and SciPy's values elsewhere.

Every method below is evaluated on the whole array with a fixed number of steps, and ``xp.where`` picks the right
one per element; the order v is one number (a parameter of the rule), so the constants that depend on it (Γ(v+1),
the asymptotic coefficients, how far to recur) are computed once in Python. The methods, with v = μ + n:

* power series, x <= 2 (and I_v up to 30, where all its terms are positive);
* Hankel's asymptotic expansions for large x, their phase split as cos(x − φ) = cos x cos φ + sin x sin φ so that no
  rounding of x − φ enters;
* in between, for J: Miller's backward recurrence from order μ + N down to μ, normalised by the identity
  (x/2)^μ / Γ(μ+1) = J_μ + Σ_{k>=1} (μ + 2k) (μ+1)⋯(μ+k−1)/k! J_{μ+2k}; for I: the same recurrence gives the ratio
  I_v/I_μ (μ in [0, 1)), times I_μ from its series or expansion;
* Y at x <= 2: Temme's series for Y_μ, Y_{μ+1} (|μ| <= 1/2), whose limits at μ = 0 are exact; between 2 and the
  asymptotic region: Steed's method, p + iq = H'_μ/H_μ (H = J + iY) from its continued fraction, then
  Y_μ = (p J_μ − J'_μ)/q with J from Miller's recurrence; then Y_v by the forward recurrence (stable for Y), as J_v
  for large x (where the order is below x);
* negative orders: I_{−v} from its own series where the K_v part matters, else I_v; J_{−v} = cos(vπ) J_v −
  sin(vπ) Y_v, Y_{−v} = sin(vπ) J_v + cos(vπ) Y_v.

Accuracy (float64, against mpmath over wide grids, tests/test_portable_bessel.py), for |v| <= 60: I_v within 4e-15
relative; J_v and Y_v within 5e-15·√(J_v² + Y_v²), i.e. absolute near their zeros and within 5e-14 relative where
the value is at least a twentieth of that size (J_v also relatively below x = v, where it has no zeros). Above
|v| = 60 the forwards raise rather than run ever longer recurrences. Where SciPy's values are not the functions'
(I_v overflows at 710 in SciPy's i0, ive is nan beyond 1e300, Y_{−n−1/2}(0) is ±inf, j0 loses digits at 1e20),
these give the functions' values; at x = ±inf they give nan, as SciPy's (and PyTorch's i0, i1).
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any

from .registry import portable

MAX_ORDER = 60.0  # |v| above this raises NotImplementedError (the recurrences would grow with v)
SERIES_EDGE = 2.0  # J_v series and Temme's Y series below, Miller and Steed above
I_SERIES_EDGE = 30.0  # I_μ (μ < 2): the series below, the asymptotic expansion above
I_SERIES_TERMS = 75
SMALL_TERMS = 24  # (x/2)^(2k)/k!² at x = 2, k = 24: 1e-48
ASYMPTOTIC_TERMS = 40
RESCALE = 1e200  # Miller's recurrences are scaled down by 1e-200 whenever a value passes this

# 1/Γ(1 + z) = Σ c_k z^k (computed with mpmath to 40 digits): for Γ₁ and Γ₂ of Temme's method at |μ| <= 1/2,
# where the remainder is below 1e-18.
_RGAMMA_1P = (
    1.0, 0.57721566490153286061, -0.65587807152025388108, -0.042002635034095235529, 0.1665386113822914895,
    -0.042197734555544336748, -0.0096219715278769735621, 0.0072189432466630995424, -0.0011651675918590651121,
    -0.00021524167411495097282, 0.00012805028238811618615, -0.000020134854780788238656, -1.2504934821426706573e-6,
    1.1330272319816958824e-6, -2.0563384169776071035e-7, 6.1160951044814158179e-9, 5.0020076444692229301e-9,
    -1.1812745704870201446e-9, 1.0434267116911005105e-10, 7.782263439905071254e-12, -3.6968056186422057082e-12,
    5.100370287454475979e-13, -2.0583260535665067832e-14, -5.3481225394230179824e-15, 1.2267786282382607902e-15,
)


# -- The order: one real number, and the constants that depend on it (computed in Python). --------------------------
def _order(backend, name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise NotImplementedError(
            f"'{name}' on {backend.name} arrays takes the order v as one real number (a Python or NumPy scalar), not "
            f"{type(v).__name__} {getattr(v, 'shape', '')}; call it once per order, or move x with t.to(numpy)")
    v = float(v)
    if abs(v) > MAX_ORDER:
        raise NotImplementedError(
            f"'{name}' on {backend.name} arrays is implemented for orders |v| <= {MAX_ORDER:g}, not v = {v!r}; "
            "move x explicitly with t.to(numpy) for higher orders")
    return v


def _sinpi(v: float) -> float:
    """sin(πv), exactly 0 at integers and ±1 at half-integers."""
    r = math.fmod(v, 2.0)  # (exact)
    if r == int(r):
        return 0.0
    s = math.sin(math.pi * r)
    return math.copysign(1.0, s) if abs(r) % 1 == 0.5 else s


def _cospi(v: float) -> float:
    """cos(πv), exactly ±1 at integers and 0 at half-integers."""
    r = math.fmod(abs(v), 2.0)
    if r % 1 == 0.5:
        return 0.0
    return (1.0 if r == 0 else -1.0) if r == int(r) else math.cos(math.pi * r)


def _rgamma(z: float) -> float:
    """1/Γ(z), 0 at the poles."""
    if z <= 0 and z == int(z):
        return 0.0
    return 1.0 / math.gamma(z)


def _hankel_coefficients(v: float, terms: int) -> list[float]:
    """a_k(v) = (4v² − 1²)(4v² − 3²)⋯(4v² − (2k−1)²) / (k! 8^k), k = 0..terms−1."""
    out, a = [], 1.0
    for k in range(terms):
        out.append(a)
        a *= (4 * v * v - (2 * k + 1) ** 2) / ((k + 1) * 8)
    return out


@functools.cache
def _i_asymptotic_edge(v: float) -> tuple[float, int]:
    """(x₀, K): from x₀ on, I_v is e^x/√(2πx) Σ_{k<K} (−1)^k a_k(v)/x^k to 1e-17: its terms fall below 1e-17 (K
    stops at the smallest one), their sum cancels little (Σ|term| < 4 |Σ term|), and the part in e^(−x) that the
    expansion leaves out, e^(−2x) Σ |a_k|/x^k, is below 1e-17 too."""
    a = _hankel_coefficients(v, ASYMPTOTIC_TERMS)
    x = I_SERIES_EDGE
    while True:
        terms = [abs(c) / x ** k for k, c in enumerate(a)]
        smallest = min(range(len(terms)), key=terms.__getitem__)
        kept = terms[:smallest + 1]
        total = abs(sum(c * (-1 / x) ** k for k, c in enumerate(a[:smallest + 1])))
        if kept[-1] < 1e-17 and sum(kept) < 4 * total and math.exp(-2 * x) * sum(kept) < 1e-17:
            return x, smallest + 1
        x *= 1.1


def _miller_top(n: int, x_max: float) -> int:
    """The order (above μ) to start J's backward recurrence at, for orders up to n and x up to x_max: J_N(x) falls
    off only once N passes x, then about like e^(−(N−x)^(3/2)·const/√x)."""
    return int(max(n, x_max) + 10 * math.sqrt(x_max) + 30)


def _i_miller_top(n: int, x_max: float) -> int:
    """The same for I: I_N/I_n ≈ e^(−(N² − n²)/(2x)) for N below x, and the recurrence's error is about its square:
    N² − n² = 100 x_max makes it e^(−100)."""
    return int(math.sqrt(n * n + 100 * x_max) + 10)


# -- Array helpers. ---------------------------------------------------------------------------------------------------
def _inputs(backend, name: str, x):
    """x in float64 (arrays of the library), and the dtype to return in."""
    xp = backend.xp
    (x,) = backend._floats(x)
    if xp.isdtype(x.dtype, "complex floating"):
        raise NotImplementedError(f"'{name}' on {backend.name} arrays takes real x; complex x needs NumPy "
                                  "(move it explicitly with t.to(numpy))")
    return xp.astype(x, xp.float64), x.dtype


def _full(xp, like, value: float):
    return xp.full_like(like, value)


def _nonzero(xp, x):
    """x with its zeros replaced by 1 (the value at 0 is set apart; no method sees 0, tiny x stays as it is)."""
    return xp.where(x == 0, xp.ones_like(x), x)


def _half_power(xp, x, v: float):
    """(x/2)^v as x^v 2^(−v): exact for subnormal x too (where x/2 drops bits)."""
    return xp.pow(x, v) * 2.0 ** -v


def _horner(xp, coefficients, s):
    out = _full(xp, s, coefficients[-1])
    for c in coefficients[-2::-1]:
        out = out * s + c
    return out


# -- I_v. --------------------------------------------------------------------------------------------------------------
def _i_series(xp, x, v: float, terms: int, scaled: bool):
    """(x/2)^v Σ (x²/4)^k / (k! Γ(v+k+1)) [· e^(−x)], for x > 0; v not a negative integer. The sum is taken from
    1 (Γ(v+1) (x/2)^(−v) times it), then multiplied by its first term, which may overflow or underflow alone."""
    first = _half_power(xp, x, v) * _rgamma(v + 1)
    if scaled:
        first = first * xp.exp(-x)
    return first * _power_sum(xp, x * x / 4, v, terms)


def _power_sum(xp, q, v: float, terms: int):
    """Σ_{k<terms} q^k / (k! (v+1)(v+2)⋯(v+k))."""
    t = xp.ones_like(q)
    total = t
    for k in range(1, terms):
        t = t * q / (k * (k + v))
        total = total + t
    return total


def _i_asymptotic(xp, x, v: float, scaled: bool):
    """I_v(x) ≈ e^x/√(2πx) Σ (−1)^k a_k(v)/x^k, for x beyond _i_asymptotic_edge(v)."""
    a = [c * (-1) ** k for k, c in enumerate(_hankel_coefficients(v, _i_asymptotic_edge(v)[1]))]
    out = _horner(xp, a, 1 / x) / (xp.sqrt(x) * math.sqrt(2 * math.pi))  # (2πx overflows past x = 2.8e307)
    if scaled:
        return out
    half = xp.exp(x / 2)  # e^x in two halves: finite up to x = 713 as I_v itself
    return half * (half * out)


def _i_small_order(xp, x, v: float, scaled: bool):
    """I_v for 0 <= v < 2 (clamping each method into its own range keeps inf·0 out of the unused one)."""
    series = _i_series(xp, xp.clip(_nonzero(xp, x), 0.0, I_SERIES_EDGE), v, I_SERIES_TERMS, scaled)
    asymptotic = _i_asymptotic(xp, xp.clip(x, I_SERIES_EDGE, math.inf), v, scaled)
    return xp.where(x < I_SERIES_EDGE, series, asymptotic)


def _rescale_stride(top: int) -> int:
    """How many steps of a backward recurrence from ``top`` (x >= 2) may pass between rescalings: each step grows
    the values by at most top + 1, so that many steps stay below 1e100 (and RESCALE·1e100 below overflow)."""
    return max(1, int(100 / math.log10(top + 1)))


def _rescaling(xp, current):
    """1e-200 where |current| passed RESCALE, else 1."""
    return xp.where(xp.abs(current) > RESCALE, _full(xp, current, 1 / RESCALE), xp.ones_like(current))


def _i_ratio(xp, x, mu: float, n: int, top: int):
    """I_{μ+n}(x)/I_μ(x) by the backward recurrence I_{ν−1} = (2ν/x) I_ν + I_{ν+1} from ν = μ + top (x >= 2)."""
    after, current = xp.zeros_like(x), xp.ones_like(x)
    kept = xp.zeros_like(x)
    for j in range(top, 0, -1):
        if j == n:
            kept = current
        after, current = current, (2 * (mu + j) / x) * current + after
        if j % _rescale_stride(top) == 0:
            scale = _rescaling(xp, current)
            after, current, kept = after * scale, current * scale, kept * scale
    return current if n == 0 else kept / current


def _iv(backend, name, x, v, scaled=False):
    xp = backend.xp
    v = _order(backend, name, v)
    x, dtype = _inputs(backend, name, x)
    if math.isnan(v):
        return xp.astype(_full(xp, x, math.nan), dtype)
    size = xp.where(xp.isinf(x), xp.ones_like(x), xp.abs(x))  # (±inf gives nan, set below)
    if v < 0 and v == int(v):
        v = -v  # I_{−n} = I_n
    if v >= 0:
        out = _i_nonnegative(xp, size, v, scaled)
    else:
        out = _i_negative(xp, size, v, scaled)
    integer = v == int(v)
    # x < 0: (−1)^n I_n(|x|) for integer orders, nan otherwise (SciPy's values); x = 0: 1 for v = 0, 0 for v > 0, and
    # inf for negative non-integer v (nan when scaled, as SciPy's ive); ±inf: nan, as SciPy's.
    if integer:
        out = xp.where(x < 0, out * (-1) ** int(v), out)
    else:
        out = xp.where(x < 0, _full(xp, x, math.nan), out)
    at_zero = 1.0 if v == 0 else 0.0 if v > 0 else math.nan if scaled else math.inf
    out = xp.where(x == 0, _full(xp, x, at_zero), out)
    out = xp.where(xp.isinf(x), _full(xp, x, math.nan), out)
    return xp.astype(out, dtype)


def _i_nonnegative(xp, x, v: float, scaled: bool):
    if v < 2:
        return _i_small_order(xp, x, v, scaled)
    n = int(v)
    mu = v - n
    edge = _i_asymptotic_edge(v)[0]
    small = _i_series(xp, xp.clip(_nonzero(xp, x), 0.0, SERIES_EDGE), v, SMALL_TERMS, scaled)
    middle_x = xp.clip(x, SERIES_EDGE, edge)
    middle = _i_small_order(xp, middle_x, mu, scaled) * _i_ratio(xp, middle_x, mu, n, _i_miller_top(n, edge))
    large = _i_asymptotic(xp, xp.clip(x, edge, math.inf), v, scaled)
    return xp.where(x <= SERIES_EDGE, small, xp.where(x < edge, middle, large))


def _i_negative(xp, x, v: float, scaled: bool):
    """I_v for negative non-integer v: its own series while (2/π) sin(vπ) K_{|v|} matters, I_{|v|} from where it
    is below 1e-17 of I_{|v|} (found with Debye's estimate K_v/I_v ≈ π e^(−2vη), η = √(1+z²) + ln(z/(1+√(1+z²))),
    z = x/v, with a margin)."""
    order = -v
    edge = I_SERIES_EDGE
    while True:
        z = edge / order
        root = math.sqrt(1 + z * z)
        eta = root + math.log(z / (1 + root))
        if 2 * order * eta > math.log(math.pi * 1e17) + 5 and 2 * edge > math.log(math.pi * 1e17) + 5:
            break
        edge *= 1.1
    terms = int(edge / 2 + 10 * math.sqrt(edge) + order + 20)
    series = _i_series(xp, xp.clip(_nonzero(xp, x), 0.0, edge), v, terms, scaled)
    return xp.where(x < edge, series, _i_nonnegative(xp, x, order, scaled))


@portable("iv")
def iv(backend: Any, x: Any, v: Any = 1.5) -> Any:
    """I_v(x), the modified Bessel function of the first kind of real order v."""
    return _iv(backend, "iv", x, v)


@portable("ive")
def ive(backend: Any, x: Any, v: Any = 1.5) -> Any:
    """I_v(x) e^(−|x|), never overflowing."""
    return _iv(backend, "ive", x, v, scaled=True)


@portable("i0")
def i0(backend: Any, x: Any) -> Any:
    """I_0(x)."""
    return _iv(backend, "i0", x, 0.0)


@portable("i1")
def i1(backend: Any, x: Any) -> Any:
    """I_1(x)."""
    return _iv(backend, "i1", x, 1.0)


# -- J_v and Y_v. ------------------------------------------------------------------------------------------------------
def _j_series(xp, x, v: float):
    """(x/2)^v Σ (−x²/4)^k / (k! Γ(v+k+1)), for 0 < x <= 2 and v >= 0 (its terms fall from the first on)."""
    return _half_power(xp, x, v) * _rgamma(v + 1) * _power_sum(xp, -(x * x) / 4, v, SMALL_TERMS)


def _temme_gammas(mu: float) -> tuple[float, float]:
    """Γ₁(μ) = (1/Γ(1−μ) − 1/Γ(1+μ))/(2μ) and Γ₂(μ) = (1/Γ(1−μ) + 1/Γ(1+μ))/2 from 1/Γ(1+z) = Σ c_k z^k: Γ₁ is
    −Σ_{k odd} c_k μ^(k−1) and Γ₂ is Σ_{k even} c_k μ^k, with no cancellation as μ → 0."""
    odd = -sum(c * mu ** (k - 1) for k, c in enumerate(_RGAMMA_1P) if k % 2)
    even = sum(c * mu ** k for k, c in enumerate(_RGAMMA_1P) if k % 2 == 0)
    return odd, even


def _y_temme(xp, x, mu: float):
    """(Y_μ, Y_{μ+1}) for 0 < x <= 2, |μ| <= 1/2, by Temme's series: Y_μ = −Σ c_k g_k, Y_{μ+1} = −(2/x) Σ c_k h_k with
    c_k = (−x²/4)^k/k!, g_k = f_k + (2/μ) sin²(μπ/2) q_k, h_k = p_k − k g_k, p_k = p_{k−1}/(k−μ),
    q_k = q_{k−1}/(k+μ), f_k = (k f_{k−1} + p_{k−1} + q_{k−1})/(k² − μ²), and p₀ = (x/2)^(−μ) Γ(1+μ)/π,
    q₀ = (x/2)^μ Γ(1−μ)/π, f₀ = (2/π) (μπ/sin μπ) (cosh σ Γ₁(μ) + (sinh σ/σ) ln(2/x) Γ₂(μ)), σ = μ ln(2/x)."""
    gamma1, gamma2 = _temme_gammas(mu)
    ratio = 1.0 if mu == 0 else mu * math.pi / math.sin(mu * math.pi)
    sine2 = 0.0 if mu == 0 else 2 / mu * math.sin(mu * math.pi / 2) ** 2
    log2x = math.log(2) - xp.log(x)  # (2/x overflows for subnormal x)
    sigma = mu * log2x
    power = _half_power(xp, x, mu)  # e^(−σ), from pow: exact to an ulp, where exp(σ) would carry σ's rounding
    small = xp.abs(sigma) < 0.01
    safe = xp.where(small, _full(xp, x, 1.0), sigma)
    s2 = sigma * sigma
    sinhc = xp.where(small, 1 + s2 / 6 * (1 + s2 / 20 * (1 + s2 / 42)), (1 / power - power) / (2 * safe))
    f = (2 / math.pi) * ratio * ((1 / power + power) / 2 * gamma1 + sinhc * log2x * gamma2)
    p = (math.gamma(1 + mu) / math.pi) / power
    q = (math.gamma(1 - mu) / math.pi) * power
    c = xp.ones_like(x)
    g = f + sine2 * q
    y0, y1 = c * g, c * p  # h₀ = p₀
    quarter = -(x * x) / 4
    for k in range(1, SMALL_TERMS):
        f = (k * f + p + q) / (k * k - mu * mu)
        p = p / (k - mu)
        q = q / (k + mu)
        c = c * quarter / k
        g = f + sine2 * q
        y0 = y0 + c * g
        y1 = y1 + c * (p - k * g)
    return -y0, -2 * (y1 / x)  # (2/x overflows for subnormal x)


def _j_miller(xp, x, mu: float, n: int, top: int):
    """(J_μ, J_{μ+1}, J_{μ+n}) for x >= 2, |μ| <= 1/2, by the backward recurrence J_{ν−1} = (2ν/x) J_ν − J_{ν+1} from
    ν = μ + top, normalised by (x/2)^μ/Γ(μ+1) = J_μ + Σ_{k>=1} (μ+2k) e_k J_{μ+2k}, e₁ = 1,
    e_{k+1} = e_k (μ+k)/(k+1)."""
    weights, e = {}, 1.0
    for k in range(1, top // 2 + 1):
        weights[2 * k] = (mu + 2 * k) * e
        e *= (mu + k) / (k + 1)
    after, current = xp.zeros_like(x), xp.ones_like(x)
    kept, total, first = xp.zeros_like(x), xp.zeros_like(x), xp.zeros_like(x)
    for j in range(top, 0, -1):
        if j == n:
            kept = current
        if j == 1:
            first = current
        if j in weights:
            total = total + weights[j] * current
        after, current = current, (2 * (mu + j) / x) * current - after
        if j % _rescale_stride(top) == 0:
            scale = _rescaling(xp, current)
            after, current, kept, total, first = (after * scale, current * scale, kept * scale, total * scale,
                                                  first * scale)
    if n == 0:
        kept = current
    norm = _half_power(xp, x, mu) * _rgamma(mu + 1) / (total + current)
    return current * norm, first * norm, kept * norm


def _steed(xp, x, mu: float, terms: int):
    """p + iq = H'_μ/H_μ (H = J + iY) for x >= 2: −1/(2x) + i + (i/x) a₁/(b₁ + a₂/(b₂ + ⋯)) with a_k = (k − 1/2)² − μ²,
    b_k = 2(x + ik), by Lentz's method on (real, imaginary) pairs (b_k's imaginary part 2k keeps every
    denominator away from 0)."""

    def divide(ar, ai, br, bi):
        d = br * br + bi * bi
        return (ar * br + ai * bi) / d, (ai * br - ar * bi) / d

    fr, fi = 2 * x, _full(xp, x, 2.0)  # f = b₁
    cr, ci = fr, fi
    dr, di = xp.zeros_like(x), xp.zeros_like(x)
    for k in range(2, terms + 1):
        a = (k - 0.5) ** 2 - mu * mu
        br, bi = 2 * x, float(2 * k)
        dr, di = divide(_full(xp, x, 1.0), xp.zeros_like(x), br + a * dr, bi + a * di)  # D = 1/(b + aD)
        ur, ui = divide(_full(xp, x, a), xp.zeros_like(x), cr, ci)
        cr, ci = br + ur, bi + ui  # C = b + a/C
        gr, gi = cr * dr - ci * di, cr * di + ci * dr
        fr, fi = fr * gr - fi * gi, fr * gi + fi * gr
    tr, ti = divide(_full(xp, x, 0.25 - mu * mu), xp.zeros_like(x), fr, fi)  # T = a₁/f
    return -1 / (2 * x) - ti / x, 1 + tr / x


def _hankel(xp, x, mu: float):
    """(J_μ, Y_μ) for x >= the asymptotic edge: √(2/(πx)) (P cos ω − Q sin ω) and √(2/(πx)) (P sin ω + Q cos ω),
    ω = x − (μ/2 + 1/4)π, P = Σ (−1)^k a_{2k}/x^(2k), Q = Σ (−1)^k a_{2k+1}/x^(2k+1)."""
    a = _hankel_coefficients(mu, ASYMPTOTIC_TERMS)
    u = (1 / x) ** 2
    big_p = _horner(xp, [c * (-1) ** k for k, c in enumerate(a[0::2])], u)
    big_q = _horner(xp, [c * (-1) ** k for k, c in enumerate(a[1::2])], u) / x
    phase = mu / 2 + 0.25
    cos_phase, sin_phase = _cospi(phase), _sinpi(phase)
    cos_x, sin_x = xp.cos(x), xp.sin(x)
    cos_w = cos_x * cos_phase + sin_x * sin_phase
    sin_w = sin_x * cos_phase - cos_x * sin_phase
    scale = xp.sqrt(2 / (math.pi * x))
    return scale * (big_p * cos_w - big_q * sin_w), scale * (big_p * sin_w + big_q * cos_w)


def _recur_up(xp, x, mu: float, first, second, n: int):
    """C_{μ+n} from C_μ = first, C_{μ+1} = second by C_{ν+1} = (2ν/x) C_ν − C_{ν−1} (J or Y)."""
    if n == 0:
        return first
    for k in range(1, n):  # (once C overflows, it stays that infinity: no inf − inf)
        first, second = second, xp.where(xp.isinf(second), second, (2 * (mu + k) / x) * second - first)
    return second


def _jy_edge(v: float) -> float:
    """From where on J_v and Y_v come from Hankel's expansions at orders μ, μ + 1 and the forward recurrence: past
    25 (40 terms reach 1e-20) and past 2v (the order well below x, where the recurrence keeps J's accuracy)."""
    return max(25.0, 2 * v)


def _jy_nonnegative(xp, x, v: float, want_j: bool, want_y: bool):
    """(J_v(x), Y_v(x)) for x > 0 and v >= 0 (None for the one not wanted)."""
    n = math.floor(v + 0.5)
    mu = v - n  # in [−1/2, 1/2)
    edge = _jy_edge(v)
    small_x = xp.clip(_nonzero(xp, x), 0.0, SERIES_EDGE)
    middle_x = xp.clip(x, SERIES_EDGE, edge)
    large_x = xp.clip(x, edge, math.inf)
    j_mu, j_mu1, j_middle = _j_miller(xp, middle_x, mu, n, _miller_top(n, edge))
    hankel = _hankel(xp, large_x, mu), _hankel(xp, large_x, mu + 1)
    small, middle = x <= SERIES_EDGE, x < edge
    j = y = None
    if want_j:
        j_large = _recur_up(xp, large_x, mu, hankel[0][0], hankel[1][0], n)
        j = xp.where(small, _j_series(xp, small_x, v), xp.where(middle, j_middle, j_large))
    if want_y:
        y_small = _recur_up(xp, small_x, mu, *_y_temme(xp, small_x, mu), n)
        p, q = _steed(xp, middle_x, mu, 60)
        derivative = (mu / middle_x) * j_mu - j_mu1  # J'_μ
        y_mu = (p * j_mu - derivative) / q
        y_mu1 = (mu / middle_x) * y_mu - (q * j_mu + p * y_mu)  # Y_{μ+1} = (μ/x) Y_μ − Y'_μ
        y_middle = _recur_up(xp, middle_x, mu, y_mu, y_mu1, n)
        y_large = _recur_up(xp, large_x, mu, hankel[0][1], hankel[1][1], n)
        y = xp.where(small, y_small, xp.where(middle, y_middle, y_large))
    return j, y


def _jy(backend, name: str, x, v, want_j: bool):
    """J_v or Y_v at x, with SciPy's values at x <= 0 and ±inf."""
    xp = backend.xp
    v = _order(backend, name, v)
    x, dtype = _inputs(backend, name, x)
    if math.isnan(v):
        return xp.astype(_full(xp, x, math.nan), dtype)
    size = xp.where(xp.isinf(x), xp.ones_like(x), xp.abs(x))  # (±inf gives nan, set below)
    order = abs(v)
    integer = v == int(v)
    j, y = _jy_nonnegative(xp, size, order, want_j or (v < 0 and not integer), not want_j or (v < 0 and not integer))
    if v < 0:  # J_{−v} = cos(vπ) J_v − sin(vπ) Y_v, Y_{−v} = sin(vπ) J_v + cos(vπ) Y_v (v = |order| here)
        c, s = _cospi(order), _sinpi(order)
        if want_j:
            out = c * j if s == 0 else (j * c if c else 0) - s * y
        else:
            out = c * y if s == 0 else s * j + (y * c if c else 0)
    else:
        out = j if want_j else y
    if want_j:
        # x < 0: J_n(−x) = (−1)^n J_n(x) for integer orders, nan otherwise; J_v(0): 1 for v = 0, 0 for integer
        # orders and v > 0, ±inf (the sign of 1/Γ(v+1)) for negative non-integer v.
        if integer:
            out = xp.where(x < 0, out * (-1) ** int(order), out)
            at_zero = 1.0 if v == 0 else 0.0
        else:
            out = xp.where(x < 0, _full(xp, x, math.nan), out)
            at_zero = 0.0 if v > 0 else math.copysign(math.inf, _rgamma(v + 1))
    else:
        # Y_v: nan for x < 0; at 0, the limit: −inf for v >= 0, and for v < 0 that of cos(vπ) Y_|v| (−inf times the
        # sign of cos(vπ)), or of sin(vπ) J_|v|, which is 0, at half-integers (where SciPy gives ±inf).
        out = xp.where(x < 0, _full(xp, x, math.nan), out)
        at_zero = -math.inf if v >= 0 else -math.copysign(math.inf, _cospi(order)) if _cospi(order) else 0.0
    out = xp.where(x == 0, _full(xp, x, at_zero), out)
    out = xp.where(xp.isinf(x), _full(xp, x, math.nan), out)
    return xp.astype(out, dtype)


@portable("jv")
def jv(backend: Any, x: Any, v: Any = 1.5) -> Any:
    """J_v(x), the Bessel function of the first kind of real order v."""
    return _jy(backend, "jv", x, v, want_j=True)


@portable("yv")
def yv(backend: Any, x: Any, v: Any = 1.5) -> Any:
    """Y_v(x), the Bessel function of the second kind of real order v."""
    return _jy(backend, "yv", x, v, want_j=False)


@portable("j0")
def j0(backend: Any, x: Any) -> Any:
    """J_0(x)."""
    return _jy(backend, "j0", x, 0.0, want_j=True)


@portable("j1")
def j1(backend: Any, x: Any) -> Any:
    """J_1(x)."""
    return _jy(backend, "j1", x, 1.0, want_j=True)


@portable("y0")
def y0(backend: Any, x: Any) -> Any:
    """Y_0(x)."""
    return _jy(backend, "y0", x, 0.0, want_j=False)


@portable("y1")
def y1(backend: Any, x: Any) -> Any:
    """Y_1(x)."""
    return _jy(backend, "y1", x, 1.0, want_j=False)
