"""Primitives of neural-network layers: ``erf`` and the exact ``gelu`` (elementwise), and ``normalize``, the core
of layer, group and batch normalization, (x − mean) / √(var + ε) over some axes.

Same naming as the rest of the table: ``x`` the input, ``y`` the output, ``g`` the upstream gradient, ``t`` a
tangent, ``m`` the math namespace. ``normalize`` is one entry rather than a composition of mean, var and sqrt: one
node in explanations, and its Jacobian takes a short closed form (below) instead of the five nodes' chain.
"""

from __future__ import annotations

import math
import threading

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
    display=r"\operatorname{erf} x", samples=UNARY_SAMPLES, supports_complex=True,
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


# GELU's tanh form (PyTorch's approximate="tanh"), ½x(1 + tanh u) with u = √(2/π)(x + 0.044715x³), as one rule:
# one node, where the composition makes nine on the MLP's largest arrays. With t = tanh u,
# d/dx = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²).
GELU_CUBIC = 0.044715
GELU_CUBIC_3 = 3 * GELU_CUBIC
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _gelu_tanh(x):
    if type(x) is not np.ndarray or x.ndim == 0 or x.dtype.kind != "f":
        return 0.5 * x * (1 + np.tanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x)))
    u = x * x  # in place from here: one temporary for the whole formula
    u *= GELU_CUBIC
    u += 1
    u *= x
    u *= SQRT_2_OVER_PI
    np.tanh(u, out=u)
    u += 1
    u *= x
    u *= 0.5
    return u


def d_gelu_tanh(x, y, m):
    if m is numpy_math and type(x) is np.ndarray and x.ndim and x.dtype.kind == "f":
        return _d_gelu_tanh_arrays(x, m)
    t = m.tanh(SQRT_2_OVER_PI * x * (1 + GELU_CUBIC * (x * x)))
    return 0.5 * (1 + t) + INV_SQRT_2PI * x * (1 - t * t) * (1 + GELU_CUBIC_3 * (x * x))


def _d_gelu_tanh_arrays(x, m):
    """``d_gelu_tanh`` on arrays (m is numpy_math), in place in three temporaries (the formula's own temporaries on
    the MLP's largest arrays cost twice the time)."""
    t = x * x
    square = t.copy()
    t *= GELU_CUBIC
    t += 1
    t *= x
    t *= SQRT_2_OVER_PI
    m.tanh(t, out=t)
    second = t * t  # ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²) as (t² − 1)·x·(−c), exactly, then ½(1 + t) added
    second -= 1
    second *= x
    second *= -INV_SQRT_2PI
    square *= GELU_CUBIC_3
    square += 1
    second *= square
    t += 1
    t *= 0.5
    t += second
    return t


register(Rule(
    name="gelu_tanh", forward=_gelu_tanh, kind=ELEMENTWISE, arity=1, args=("x",), derivatives=(d_gelu_tanh,),
    expression=lambda x, m: x * (1 + m.tanh(m.sqrt(2 / m.pi) * (x + x * x * x * 44715 / 1000000))) / 2,
    # The constants as exact fractions (0.044715 = 8943/200000), so the symbolic checks compare them exactly.
    text=("(1 + tanh(sqrt(2/pi)*(x + 8943*x**3/200000)))/2"
          " + x*(1 - tanh(sqrt(2/pi)*(x + 8943*x**3/200000))**2)*(1 + 26829*x**2/200000)/sqrt(2*pi)",),
    tex=(r"\frac{1 + \tanh(\sqrt{\frac{2}{\pi}} (x + \frac{8943}{200000} x^3))}{2} + \frac{x (1 - \tanh^{2}("
         r"\sqrt{\frac{2}{\pi}} (x + \frac{8943}{200000} x^3))) (1 + \frac{26829}{200000} x^2)}{\sqrt{2 \pi}}",),
    display=r"\frac{x}{2}\left(1 + \tanh\left(\sqrt{2/\pi}\,(x + 0.044715 x^3)\right)\right)",
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


# ---------------------------------------------------------------------------------------------------------------
# lstm(x, W, h, c): a whole LSTM layer's recurrence in one node. x (L, N, 4H) holds the input projections of every
# step (W_ih x_t + b_ih + b_hh, computed before as one product), W (4H, H) is W_hh, h and c (N, H) the initial
# state. Per step z = x_t + h W^T, gates i, f, o = σ(z_i, z_f, z_o), g = tanh(z_g) (PyTorch's order i, f, g, o),
# c' = f c + i g, h' = o tanh(c'). The output packs every step's state: y (L, N, 2H) = [h_t, c_t].
#
# One node instead of about fifteen per time step: the loop over time runs in NumPy without recording, and the
# backward pass (backpropagation through time) recomputes all the gates from y with one product, then walks back
# through time with one product per step; W's gradient is one product at the end. σ(z) is written ½ + ½ tanh(z/2):
# one transcendental, stable for any z.
# ---------------------------------------------------------------------------------------------------------------
def _sigmoid_tanh(z, m):
    return 0.5 + 0.5 * m.tanh(0.5 * z)


def _lstm(x, weight, h, c):
    size = weight.shape[1]
    # One buffer per call: [h, c] of every step (the output, a view), then what the backward pass reads again,
    # gates i, f, g, o and tanh(c) of every step. The output's base holds them as long as the output lives, as
    # PyTorch's LSTM keeps its gates (see _lstm_saved); nothing else refers to the buffer.
    buffer = np.empty(x.shape[:-1] + (7 * size,), dtype=np.result_type(x, weight, h, c))
    states, gates, tanh_c = buffer[..., :2 * size], buffer[..., 2 * size:6 * size], buffer[..., 6 * size:]
    transposed = np.ascontiguousarray(weight.T)  # BLAS runs h @ W^T faster from a contiguous copy
    # One tanh of (z_i/2, z_f/2, z_g, z_o/2) gives g = tanh(z_g) and, for i, f, o, σ(z) = ½ + ½ tanh(z/2).
    halves = np.full(4 * size, 0.5, dtype=buffer.dtype)
    halves[2 * size:3 * size] = 1
    for t in range(x.shape[0]):
        z = h @ transposed
        z += x[t]
        z *= halves
        a = np.tanh(z, out=gates[t])
        for sigmoid in (a[:, :2 * size], a[:, 3 * size:]):
            sigmoid *= 0.5
            sigmoid += 0.5
        i, f, g, o = a[:, :size], a[:, size:2 * size], a[:, 2 * size:3 * size], a[:, 3 * size:]
        c = np.multiply(f, c, out=states[t, :, size:])
        c += i * g
        h = np.multiply(o, np.tanh(c, out=tanh_c[t]), out=states[t, :, :size])
    return states


def _lstm_saved(y, size):
    """The gates and tanh(c) that ``_lstm`` kept beside its output ``y``, or None (y a Tensor, or another array)."""
    base = y.base if type(y) is np.ndarray else None
    if type(base) is not np.ndarray or base.shape != y.shape[:-1] + (7 * size,) or y.strides != base.strides:
        return None
    return base[..., 2 * size:6 * size], base[..., 6 * size:]


def _lstm_gates(x, weight, h, c, y, m):
    """Every step's previous h and c, and gates i, f, g, o (each (L, N, H)), recomputed from the output."""
    size = np.shape(weight)[1]
    h_prev = m.concatenate([m.expand_dims(h, 0), y[:-1, :, :size]], axis=0)
    c_prev = m.concatenate([m.expand_dims(c, 0), y[:-1, :, size:]], axis=0)
    z = x + m.matmul(h_prev, m.swapaxes(weight, -1, -2))
    i, f, o = (_sigmoid_tanh(z[..., k * size:(k + 1) * size], m) for k in (0, 1, 3))
    return h_prev, c_prev, (i, f, m.tanh(z[..., 2 * size:3 * size]), o)


class _LastBackward:
    """The four vjps of ``lstm`` share one pass back through time: the last one computed, per thread, found by the
    identity of the upstream gradient and the output it was computed for (held only until the next lstm backward)."""

    def __init__(self) -> None:
        self.local = threading.local()

    def get(self, g, y):
        entry = getattr(self.local, "entry", None)
        return entry[2] if entry is not None and entry[0] is g and entry[1] is y else None

    def put(self, g, y, result) -> None:
        self.local.entry = (g, y, result)


_LSTM_BACKWARD = _LastBackward()


def _lstm_backward(g, x, weight, h, c, y, m):
    """(∂/∂x, h_prev, ∂/∂h, ∂/∂c): backpropagation through time, from the last step to the first."""
    found = _LSTM_BACKWARD.get(g, y)
    if found is not None:
        return found
    size = np.shape(weight)[1]
    saved = _lstm_saved(y, size) if m is numpy_math and type(g) is np.ndarray else None
    if saved is not None:
        result = numpy_math.lstm_backward_saved(g, h, c, weight, y, *saved)
        _LSTM_BACKWARD.put(g, y, result)
        return result
    h_prev, c_prev, (i, f, gate, o) = _lstm_gates(x, weight, h, c, y, m)
    tanh_c = m.tanh(y[..., size:])
    through_h = o * (1 - tanh_c * tanh_c)  # ∂h_t/∂c_t
    local = (gate * i * (1 - i), c_prev * f * (1 - f), i * (1 - gate * gate), tanh_c * o * (1 - o))
    g_h, g_c = g[..., :size], g[..., size:]
    dz = [None] * np.shape(x)[0]
    dh = dc = None  # what step t + 1 sends back to h_t and c_t
    for t in range(len(dz) - 1, -1, -1):
        step = (t, Ellipsis)  # (an index that names every axis, as the Array API asks)
        dh = g_h[step] if dh is None else g_h[step] + dh
        dc = g_c[step] + dh * through_h[step] if dc is None else g_c[step] + dh * through_h[step] + dc
        dz[t] = m.concatenate([dc * local[0][step], dc * local[1][step], dc * local[2][step], dh * local[3][step]],
                              axis=-1)
        dh = m.matmul(dz[t], weight)
        dc = dc * f[step]
    result = (m.stack(dz, axis=0), h_prev, dh, dc)
    _LSTM_BACKWARD.put(g, y, result)
    return result


def _lstm_vjp_weight(g, x, weight, h, c, y, m):
    dz, h_prev, _, _ = _lstm_backward(g, x, weight, h, c, y, m)
    flat = m.reshape(dz, (-1, np.shape(dz)[-1]))
    return m.matmul(m.swapaxes(flat, 0, 1), m.reshape(h_prev, (-1, np.shape(h_prev)[-1])))


def _lstm_jvp(ts, x, weight, h, c, y, m):
    """Tangents forward through time: dz_t = t_x + dh W^T + h t_W^T; dc' = df c + f dc + di g + i dg;
    dh' = do tanh(c') + o (1 − tanh² c') dc'."""
    size = np.shape(weight)[1]
    h_prev, c_prev, (i, f, gate, o) = _lstm_gates(x, weight, h, c, y, m)
    tanh_c = m.tanh(y[..., size:])
    t_x, t_w, dh, dc = ts
    dz_all = t_x + m.matmul(h_prev, m.swapaxes(t_w, -1, -2))
    out = []
    for t in range(np.shape(x)[0]):
        step = (t, Ellipsis)
        dz = dz_all[step] + m.matmul(dh, m.swapaxes(weight, -1, -2))
        di, df, dg, do = (dz[..., k * size:(k + 1) * size] for k in range(4))
        dc = (df * (f[step] * (1 - f[step])) * c_prev[step] + f[step] * dc + di * (i[step] * (1 - i[step])) * gate[step]
              + i[step] * (dg * (1 - gate[step] * gate[step])))
        dh = do * (o[step] * (1 - o[step])) * tanh_c[step] + o[step] * (1 - tanh_c[step] * tanh_c[step]) * dc
        out.append(m.concatenate([dh, dc], axis=-1))
    return m.stack(out, axis=0)


register(Rule(
    name="lstm", forward=_lstm, kind=GENERAL, arity=4, args=("x", "W", "h", "c"),
    vjps=(lambda g, x, weight, h, c, y, m: _lstm_backward(g, x, weight, h, c, y, m)[0],
          _lstm_vjp_weight,
          lambda g, x, weight, h, c, y, m: _lstm_backward(g, x, weight, h, c, y, m)[2],
          lambda g, x, weight, h, c, y, m: _lstm_backward(g, x, weight, h, c, y, m)[3]),
    jvp=_lstm_jvp,
    text=("dz_t, back through time", "sum_t dz_t^T h_(t-1)", "dz_0 @ W", "dc_0 * f_0"),
    tex=(r"\delta z_t = [\delta c_t\, g_t i_t(1-i_t),\ \delta c_t\, c_{t-1} f_t(1-f_t),\ \delta c_t\, i_t(1-g_t^2),"
         r"\ \delta h_t \tanh(c_t)\, o_t(1-o_t)]",
         r"\sum_t \delta z_t^{T} h_{t-1}", r"\delta z_0 W", r"\delta c_0 f_0"),
    display=r"h_t = o_t \tanh c_t,\ c_t = f_t c_{t-1} + i_t g_t",
    samples=(Sample(((3, 2, 8), (8, 2), (2, 2), (2, 2))), Sample(((4, 1, 4), (4, 1), (1, 1), (1, 1)))),
    note="x holds W_ih x_t + b for every step; the output packs [h_t, c_t] of every step; gate order i, f, g, o",
))
