"""Primitives of neural-network layers: ``erf`` and the exact ``gelu`` (elementwise), and ``normalize``, the core
of layer, group and batch normalization, (x − mean) / √(var + ε) over some axes.

Same naming as the rest of the table: ``x`` the input, ``y`` the output, ``g`` the upstream gradient, ``t`` a
tangent, ``m`` the math namespace. ``normalize`` is one entry rather than a composition of mean, var and sqrt: one
node in explanations, and its Jacobian takes a short closed form (below) instead of the five nodes' chain.
"""

from __future__ import annotations

import math

import numpy as np

from . import numpy_math
from .elementwise import UNARY_SAMPLES
from .registry import ELEMENTWISE, GENERAL, Rule, Sample, register

SQRT_HALF = math.sqrt(0.5)  # 1/√2
INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)  # the standard normal density's factor
TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


register(Rule(
    name="erf", forward=numpy_math.erf, kind=ELEMENTWISE, arity=1, args=("x",),
    derivatives=(lambda x, y, m: TWO_OVER_SQRT_PI * m.exp(-(x * x)),), expression=lambda x, m: m.erf(x),
    text=("2*exp(-x**2)/sqrt(pi)",), tex=(r"\frac{2}{\sqrt{\pi}} e^{-x^2}",),
    display=r"\operatorname{erf} x", samples=UNARY_SAMPLES,
))


def _gelu(x):
    return x * (0.5 + 0.5 * numpy_math.erf(x * SQRT_HALF))


def d_gelu(x, y, m):
    # GELU(x) = x Φ(x), so GELU'(x) = Φ(x) + x φ(x) with Φ the standard normal CDF and φ its density.
    return 0.5 + 0.5 * m.erf(x * SQRT_HALF) + x * m.exp(-0.5 * (x * x)) * INV_SQRT_2PI


register(Rule(
    name="gelu", forward=_gelu, kind=ELEMENTWISE, arity=1, args=("x",), derivatives=(d_gelu,),
    expression=lambda x, m: x * (1 + m.erf(x / m.sqrt(2))) / 2,
    text=("(1 + erf(x/sqrt(2)))/2 + x*exp(-x**2/2)/sqrt(2*pi)",),
    tex=(r"\frac{1 + \operatorname{erf}(\frac{x}{\sqrt{2}})}{2} + \frac{x e^{-\frac{x^2}{2}}}{\sqrt{2 \pi}}",),
    display=r"x\,\Phi(x) = \frac{x}{2}\left(1 + \operatorname{erf}\frac{x}{\sqrt 2}\right)",
    samples=UNARY_SAMPLES, domain=(-3.0, 3.0),
))


# ---------------------------------------------------------------------------------------------------------------
# normalize(x, axis, eps) = (x − μ) / √(σ² + ε), μ and σ² (biased) over ``axis``. With r = 1/√(σ² + ε) and n the
# count over ``axis``, its Jacobian is r (I − 11ᵀ/n − y yᵀ/n): symmetric, so the vjp and the jvp are one formula.
# ---------------------------------------------------------------------------------------------------------------
def _normalize(x, axis, eps):
    centered = x - np.mean(x, axis=axis, keepdims=True)
    variance = np.mean(centered * centered, axis=axis, keepdims=True)
    centered *= 1 / np.sqrt(variance + eps)
    return centered


def _inverse_std(x, axis, eps, m):
    centered = x - m.mean(x, axis=axis, keepdims=True)
    return 1 / m.sqrt(m.mean(centered * centered, axis=axis, keepdims=True) + eps)


def _normalize_map(v, x, y, m, axis, eps):
    """r (v − mean(v) − y·mean(v·y)): the Jacobian applied to v (a cotangent or a tangent)."""
    projected = v - m.mean(v, axis=axis, keepdims=True) - y * m.mean(v * y, axis=axis, keepdims=True)
    return projected * _inverse_std(x, axis, eps, m)


register(Rule(
    name="normalize", forward=_normalize, kind=GENERAL, batchable=True, arity=1, args=("x",),
    vjps=(lambda g, x, y, m, axis, eps: _normalize_map(g, x, y, m, axis, eps),),
    jvp=lambda ts, x, y, m, axis, eps: _normalize_map(ts[0], x, y, m, axis, eps),
    text=("(g - mean(g) - y*mean(g*y))/sqrt(var(x) + eps)",),
    tex=(r"\frac{g - \bar g - y\,\overline{g y}}{\sqrt{\sigma^2 + \epsilon}}",),
    display=r"\frac{x - \bar x}{\sqrt{\sigma^2 + \epsilon}}",
    samples=(Sample(((3, 5),), {"axis": (1,), "eps": 1e-5}), Sample(((2, 3, 4),), {"axis": (1, 2), "eps": 0.1}),
             Sample(((4, 3, 2),), {"axis": (0, 2), "eps": 1e-5})),
    note="the variance is the biased one (divided by n), as layer, group and batch normalization use",
))
