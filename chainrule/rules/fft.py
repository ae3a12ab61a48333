"""Discrete Fourier transforms: fftn, ifftn, rfftn, irfftn and the zero-padding/cropping they apply first.

Conventions as in arrays.py: ``x`` the input, ``y`` the output, ``g`` the upstream gradient. Parameters arrive
resolved by ``chainrule.numpy.fft``: ``s`` the transform's length along each of ``axes`` (non-negative, distinct) and
``norm`` one of "backward", "ortho", "forward". The one-dimensional and two-dimensional functions are these with one
or two axes.

Every transform is linear (irfftn over the reals), so forward mode applies the transform to the tangent. Gradients
are covectors, no conjugation (HIPS autograd's and JAX's convention): the DFT matrix F is symmetric, so the vjp of
``fftn`` is ``fftn`` of g with the same norm, then cropped or zero-padded back to x's shape (the transpose of the
padding or cropping that ``s`` asked for). ``rfftn`` is the first ``n//2 + 1`` outputs of ``fftn`` of a real input:
its vjp pads g with zeros to ``n`` first, and the engine keeps the real part for the real x. ``irfftn`` reads each
spectrum as Hermitian: y = Re(Σ_k w_k x_k e^{2πijk/n}) / n along the last axis, with w_k = 2 except w_0 = 1 (and
w_{n/2} = 1 for even n), so its vjp is ``w · ifftn(g)`` over the first ``n//2 + 1`` entries.
"""

from __future__ import annotations

import numpy as np

from .registry import LINEAR, Rule, Sample, lookup, register


def _resize(x, sizes, axes):
    """x cropped, or padded with zeros at the end, to ``sizes`` along ``axes``."""
    x = np.asarray(x)
    crop, pad = [slice(None)] * x.ndim, [(0, 0)] * x.ndim
    for a, n in zip(axes, sizes, strict=True):
        crop[a], pad[a] = slice(0, n), (0, max(0, n - x.shape[a]))
    x = x[tuple(crop)]
    return np.pad(x, pad) if any(after for _, after in pad) else x


def _sizes(x, axes) -> tuple[int, ...]:
    return tuple(np.shape(x)[a] for a in axes)


def _resized(g, x, axes, m):
    """g brought back to x's lengths along ``axes`` (the transpose of the forward's crop or pad)."""
    sizes = _sizes(x, axes)
    return g if _sizes(g, axes) == sizes else m.apply_rule(lookup("fft_resize"), [g], {"sizes": sizes, "axes": axes})


def _transform(name, g, axes, norm, m):
    """The c2c transform ``name`` of g along ``axes`` at g's own lengths."""
    return m.apply_rule(lookup(name), [g], {"s": _sizes(g, axes), "axes": axes, "norm": norm})


def _hermitian_weights(n: int, h: int, axis: int, ndim: int) -> list:
    """w_k of irfft along ``axis``: 1 for k = 0 (and k = n/2 when n is even), 2 for the other k < h; as nested lists
    of shape (h, 1, ..., 1), which broadcast along ``axis`` (``m.constant`` makes them an array)."""
    w = [1.0 if k == 0 or 2 * k == n else 2.0 for k in range(h)]
    for _ in range(ndim - axis - 1):
        w = [[v] for v in w]
    return w


def _vjp_c2c(name):
    def vjp(g, x, y, m, s, axes, norm):
        return _resized(_transform(name, g, axes, norm, m), x, axes, m)

    return vjp


def _vjp_rfftn(g, x, y, m, s, axes, norm):
    padded = m.apply_rule(lookup("fft_resize"), [g], {"sizes": s[-1:], "axes": axes[-1:]})
    return _resized(_transform("fftn", padded, axes, norm, m), x, axes, m)


def _vjp_irfftn(g, x, y, m, s, axes, norm):
    n, h = s[-1], s[-1] // 2 + 1
    spectrum = _transform("ifftn", g, axes, norm, m)  # g real, so this is complex
    last = axes[-1]
    if h != n:
        spectrum = m.apply_rule(lookup("fft_resize"), [spectrum], {"sizes": (h,), "axes": (last,)})
    weights = m.constant(_hermitian_weights(n, h, last, len(np.shape(g))), g)  # in g's (real) dtype
    return _resized(spectrum * weights, x, axes, m)


_SAMPLES = (
    Sample(((6,),), {"s": (6,), "axes": (0,), "norm": "backward"}),
    Sample(((3, 4),), {"s": (5, 3), "axes": (0, 1), "norm": "ortho"}),
    Sample(((4, 5),), {"s": (4,), "axes": (0,), "norm": "forward"}),
)

register(
    Rule(
        name="fft_resize",
        forward=_resize,
        kind=LINEAR,
        arity=1,
        vjps=(lambda g, x, y, m, sizes, axes: _resized(g, x, axes, m),),
        shape_only=("x",),
        text=("crop or zero-pad g back",),
        tex=(r"\operatorname{resize}^{T}",),
        display=r"\operatorname{resize}(x)",
        samples=(Sample(((5, 3),), {"sizes": (3, 4), "axes": (0, 1)}),),
    )
)
register(
    Rule(
        name="fftn",
        forward=lambda x, s, axes, norm: np.fft.fftn(x, s, axes, norm),
        kind=LINEAR,
        arity=1,
        vjps=(_vjp_c2c("fftn"),),
        shape_only=("x",),
        text=("fftn(g), resized to x",),
        tex=(r"F^{T} g = F g",),
        display=r"\mathcal{F}(x)",
        samples=_SAMPLES,
    )
)
register(
    Rule(
        name="ifftn",
        forward=lambda x, s, axes, norm: np.fft.ifftn(x, s, axes, norm),
        kind=LINEAR,
        arity=1,
        vjps=(_vjp_c2c("ifftn"),),
        shape_only=("x",),
        text=("ifftn(g), resized to x",),
        tex=(r"F^{-T} g = F^{-1} g",),
        display=r"\mathcal{F}^{-1}(x)",
        samples=_SAMPLES,
    )
)
register(
    Rule(
        name="rfftn",
        forward=lambda x, s, axes, norm: np.fft.rfftn(x, s, axes, norm),
        kind=LINEAR,
        arity=1,
        vjps=(_vjp_rfftn,),
        shape_only=("x",),
        text=("fftn(g zero-padded to n), resized to x",),
        tex=(r"F^{T} P^{T} g",),
        display=r"\mathcal{F}_{r}(x)",
        samples=_SAMPLES,
    )
)
register(
    Rule(
        name="irfftn",
        forward=lambda x, s, axes, norm: np.fft.irfftn(x, s, axes, norm),
        kind=LINEAR,
        arity=1,
        vjps=(_vjp_irfftn,),
        shape_only=("x",),
        text=("w * ifftn(g)[: n//2 + 1], resized to x",),
        tex=(r"w \odot F^{-1} g",),
        display=r"\mathcal{F}_{r}^{-1}(x)",
        samples=_SAMPLES,
    )
)
