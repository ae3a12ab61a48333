"""More of chainrule.numpy (issue 10): order statistics and NaN reductions, builders, float decompositions,
interpolation, convolution, polynomials, user-function mappers and cnp.linalg's lstsq, cond, multi_dot,
tensorsolve, tensorinv. Values against NumPy's own, gradients against PyTorch and central differences (first and
second order), jvp against vjp, float32 kept, and the conventions at ties and kinks."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_jvp_matches_vjp

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.errors import NoDerivativeError

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

RNG = np.random.default_rng(7)
A = RNG.standard_normal((3, 5))  # distinct values: no ties in the order statistics
B = RNG.standard_normal((4, 6))
V = RNG.standard_normal(5)
W = RNG.standard_normal(3)
SPD = A[:, :3] @ A[:, :3].T + 3 * np.eye(3)
NAN = A.copy()
NAN[0, 1] = NAN[2, 3] = NAN[2, 4] = np.nan  # row 2 keeps 3 values (an odd count), row 0 keeps 4


def _joined(outs):
    """Several outputs as one flat array (NumPy's or a Tensor)."""
    return cnp.concatenate([cnp.ravel(o) for o in outs])


def _grad(leaf):
    """The gradient of a leaf; zeros of its dtype when none reached it."""
    return np.zeros(leaf.shape, leaf.dtype) if leaf.grad is None else leaf.grad.data


def _t_nan_free(a, fill):
    return torch.where(torch.isnan(a), torch.tensor(fill, dtype=a.dtype), a)


def _t_correlate(a, v, mode):
    """NumPy's correlate modes from torch's conv1d (a cross-correlation), padding N − 1 for 'full'."""
    m, n = a.shape[0], v.shape[0]
    full = torch.nn.functional.conv1d(a[None, None], v[None, None], padding=n - 1)[0, 0]
    k, length = min(m, n), max(m, n)
    if mode == "full":
        return full
    if mode == "valid":
        return full[k - 1:k - 1 + length - k + 1]
    start = (k - 1) // 2 if m >= n else (k - 1) - (k - 1) // 2
    return full[start:start + length]


def _t_nanvar(a, axis, ddof):
    """Written out with masks (torch.nansum's gradient through a NaN square is NaN for the whole row)."""
    kept = ~torch.isnan(a)
    count = kept.sum(axis, keepdim=True)
    clean = torch.where(kept, a, 0.0)
    mean = clean.sum(axis, keepdim=True) / count
    return torch.where(kept, (clean - mean) ** 2, 0.0).sum(axis) / (count.squeeze(axis) - ddof)


def _t_nanquantile(a, q):
    """torch.quantile of each row's non-NaN values (torch.nanquantile passes no gradient to a row holding a NaN)."""
    return torch.stack([torch.quantile(row[~torch.isnan(row)], q) for row in a])


def _t_vander(x, n, increasing=False):
    powers = torch.stack([x**k for k in range(n)], 1)  # (torch.vander's backward fails on an in-place update)
    return powers if increasing else powers.flip(1)


def _t_cond(a, p):
    """‖a‖·‖a⁻¹‖ (torch.linalg.cond's backward for these p fails on an in-place update)."""
    return torch.linalg.matrix_norm(a, p) * torch.linalg.matrix_norm(torch.linalg.inv(a), p)


def _t_interp(x, xp, fp):
    """Linear interpolation written directly: on [xp[j], xp[j+1]) fp[j] + (x − xp[j])·slope; fp[0] / fp[-1] outside."""
    j = torch.clamp(torch.searchsorted(xp.detach(), x.detach(), right=True) - 1, 0, xp.shape[0] - 2)
    inside = fp[j] + (x - xp[j]) * (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    return torch.where(x < xp[0], fp[0], torch.where(x >= xp[-1], fp[-1], inside))


XP = np.array([-1.0, 0.2, 0.9, 2.0])
FP = np.array([0.5, -1.0, 2.0, 0.3])
XS = np.array([-2.0, -0.5, 0.4, 1.3, 1.9, 3.0])  # off the knots, some outside [xp[0], xp[-1]]

# name: (chainrule function, torch function or None, inputs)
CASES = {
    "copy": (cnp.copy, torch.clone, (A,)),
    "ptp": (lambda a: cnp.ptp(a, axis=1), lambda a: a.amax(1) - a.amin(1), (A,)),
    "nanmax": (lambda a: cnp.nanmax(a, axis=1), lambda a: _t_nan_free(a, -np.inf).amax(1), (NAN,)),
    "nanmin_keepdims": (lambda a: cnp.nanmin(a, axis=0, keepdims=True),
                        lambda a: _t_nan_free(a, np.inf).amin(0, keepdim=True), (NAN,)),
    "nanprod": (lambda a: cnp.nanprod(a, axis=1), lambda a: _t_nan_free(a, 1.0).prod(1), (NAN,)),
    "nancumsum": (lambda a: cnp.nancumsum(a, axis=1), lambda a: _t_nan_free(a, 0.0).cumsum(1), (NAN,)),
    "nancumprod": (cnp.nancumprod, lambda a: _t_nan_free(a, 1.0).reshape(-1).cumprod(0), (NAN,)),
    "nanvar": (lambda a: cnp.nanvar(a, axis=1, ddof=1), lambda a: _t_nanvar(a, 1, 1), (NAN,)),
    "nanstd": (lambda a: cnp.nanstd(a, axis=1), lambda a: _t_nanvar(a, 1, 0).sqrt(), (NAN,)),
    "median_odd": (lambda a: cnp.median(a, axis=1), lambda a: torch.median(a, 1).values, (A,)),
    "median_even": (lambda a: cnp.median(a, axis=1), lambda a: torch.quantile(a, 0.5, 1), (B,)),
    "median_all": (cnp.median, lambda a: torch.median(a), (A,)),
    "nanmedian": (lambda a: cnp.nanmedian(a[1:], axis=1), lambda a: torch.nanmedian(a[1:], 1).values, (NAN,)),
    "quantile": (lambda a: cnp.quantile(a, [0.1, 0.5, 0.83], axis=1),
                 lambda a: torch.quantile(a, torch.tensor([0.1, 0.5, 0.83], dtype=a.dtype), 1), (B,)),
    "quantile_keepdims": (lambda a: cnp.quantile(a, 0.3, axis=0, keepdims=True),
                          lambda a: torch.quantile(a, 0.3, 0, keepdim=True), (B,)),
    "percentile_all": (lambda a: cnp.percentile(a, 62.5), lambda a: torch.quantile(a, 0.625), (B,)),
    "nanquantile": (lambda a: cnp.nanquantile(a, 0.4, axis=1), lambda a: _t_nanquantile(a, 0.4), (NAN,)),
    "nanpercentile": (lambda a: cnp.nanpercentile(a, [20, 75], axis=1),
                      lambda a: _t_nanquantile(a, torch.tensor([0.2, 0.75], dtype=a.dtype)).T, (NAN,)),
    "diagflat": (lambda v: cnp.diagflat(v, -1), lambda v: torch.diagflat(v, -1), (A[:2, :2],)),
    "block": (lambda a, b: cnp.block([[a, b], [b, a]]),
              lambda a, b: torch.cat([torch.cat([a, b], 1), torch.cat([b, a], 1)], 0), (A, A[::-1])),
    "block_1d": (lambda v, w: cnp.block([v, w, v]), lambda v, w: torch.cat([v, w, v]), (V, W)),
    "meshgrid_xy": (lambda v, w: _joined(cnp.meshgrid(v, w)),
                    lambda v, w: torch.cat([g.reshape(-1) for g in torch.meshgrid(v, w, indexing="xy")]), (V, W)),
    "meshgrid_ij": (lambda v, w: _joined(cnp.meshgrid(v, w, w, indexing="ij")),
                    lambda v, w: torch.cat([g.reshape(-1) for g in torch.meshgrid(v, w, w, indexing="ij")]), (V, W)),
    "broadcast_arrays": (lambda a, v: _joined(cnp.broadcast_arrays(a, v)),
                         lambda a, v: torch.cat([g.reshape(-1) for g in torch.broadcast_tensors(a, v)]), (A, V)),
    "float_power": (cnp.float_power, torch.float_power, (np.abs(A) + 0.5, A)),
    "copysign": (cnp.copysign, torch.copysign, (A, A[::-1])),
    "interp": (cnp.interp, _t_interp, (XS, XP, FP)),
    "trapezoid": (lambda y: cnp.trapezoid(y, dx=0.3), lambda y: torch.trapezoid(y, dx=0.3), (A,)),
    "trapezoid_x": (lambda y, x: cnp.trapezoid(y, x, axis=0), lambda y, x: torch.trapezoid(y, x, dim=0),
                    (A, np.cumsum(np.abs(W)))),
    "trapezoid_x_nd": (cnp.trapezoid, torch.trapezoid, (A, np.cumsum(np.abs(A), axis=1))),
    "polyval": (cnp.polyval, lambda p, x: p[0] * x**2 + p[1] * x + p[2], (W, V)),
    "vander": (lambda v: cnp.vander(v, 4), lambda v: _t_vander(v, 4), (V,)),
    "vander_increasing": (lambda v: cnp.vander(v, increasing=True), lambda v: _t_vander(v, 5, True), (V,)),
    "logspace": (lambda a, b: cnp.logspace(a, b, 4),
                 lambda a, b: 10 ** (a + (b - a) * torch.arange(4.0, dtype=a.dtype)[:, None] / 3), (W, W[::-1])),
    "logspace_base_axis": (lambda a, b: cnp.logspace(a, b, 5, endpoint=False, base=2.0, axis=1),
                           lambda a, b: (2 ** (a + (b - a) * torch.arange(5.0, dtype=a.dtype)[:, None] / 5)).T,
                           (W, W + 1)),
    "geomspace": (lambda a, b: cnp.geomspace(a, b, 5),
                  lambda a, b: a * (b / a) ** (torch.arange(5.0, dtype=a.dtype)[:, None] / 4),
                  (np.abs(W) + 1, np.abs(V[:3]) + 3)),
    "geomspace_negative": (lambda a, b: cnp.geomspace(a, b, 4, axis=1),
                           lambda a, b: (a * (b / a) ** (torch.arange(4.0, dtype=a.dtype)[:, None] / 3)).T,
                           (-np.abs(W) - 1, -np.abs(W) - 4)),
    "modf": (lambda x: _joined(cnp.modf(x)), lambda x: torch.cat([torch.frac(x).reshape(-1), x.trunc().reshape(-1)]),
             (A * 4,)),
    "divmod": (lambda a, b: _joined(cnp.divmod(a, b)),
               lambda a, b: torch.cat([torch.div(a, b, rounding_mode="floor").reshape(-1),
                                       torch.remainder(a, b).reshape(-1)]), (A * 4, np.abs(A[::-1]) + 0.5)),
    "frexp": (lambda x: cnp.frexp(x)[0], lambda x: torch.frexp(x).mantissa, (A * 37,)),
    "ldexp": (lambda x: cnp.ldexp(x, np.arange(-2, 3)), lambda x: x * 2.0 ** torch.arange(-2.0, 3.0), (A,)),
    "multi_dot": (lambda a, b, c, d: cnp.linalg.multi_dot([a, b, c, d]),
                  lambda a, b, c, d: torch.linalg.multi_dot([a, b, c, d]), (V[:3], A, B[:, :5].T, B[0, :4])),
    "lstsq": (lambda a, b: cnp.linalg.lstsq(a, b)[0], lambda a, b: torch.linalg.lstsq(a, b).solution,
              (A.T, B[:, :5].T)),
    "lstsq_residuals": (lambda a, b: cnp.linalg.lstsq(a, b)[1],
                        lambda a, b: ((b - a @ torch.linalg.lstsq(a, b).solution) ** 2).sum(0), (A.T, V)),
    "lstsq_singular_values": (lambda a, b: cnp.linalg.lstsq(a, b)[3], lambda a, b: torch.linalg.svdvals(a),
                              (A.T, V)),
    "cond": (cnp.linalg.cond, torch.linalg.cond, (SPD,)),
    "cond_minus_2": (lambda a: cnp.linalg.cond(a, -2), lambda a: torch.linalg.cond(a, -2), (A[:, :3],)),
    "cond_fro": (lambda a: cnp.linalg.cond(a, "fro"), lambda a: _t_cond(a, "fro"), (A[:, :3],)),
    "cond_1": (lambda a: cnp.linalg.cond(a, 1), lambda a: _t_cond(a, 1), (A[:, :3],)),
    "tensorsolve": (cnp.linalg.tensorsolve, torch.linalg.tensorsolve,
                    (RNG.standard_normal((2, 3, 6)) + np.eye(6).reshape(2, 3, 6) * 3, W[:2, None] * V[:3])),
    "tensorinv": (cnp.linalg.tensorinv, torch.linalg.tensorinv,
                  (RNG.standard_normal((4, 3, 12)) + np.eye(12).reshape(4, 3, 12) * 3,)),
    "apply_along_axis": (lambda a: cnp.apply_along_axis(lambda r: r[:2] * cnp.sum(r), 1, a),
                         lambda a: a[:, :2] * a.sum(1, keepdim=True), (A,)),
    "apply_along_axis_0": (lambda a: cnp.apply_along_axis(lambda c: cnp.dot(c, c), 0, a),
                           lambda a: (a * a).sum(0), (A,)),
    "piecewise": (lambda x: cnp.piecewise(x, [x < -0.3, x > 0.5], [lambda v: v**2, lambda v: 3 * v, lambda v: -v]),
                  lambda x: torch.where(x < -0.3, x**2, torch.where(x > 0.5, 3 * x, -x)), (A,)),
    "vectorize": (lambda a, b: cnp.vectorize(lambda s, t: cnp.sin(s) * t if s > 0 else t * t)(a, b),
                  lambda a, b: torch.where(a > 0, torch.sin(a) * b, b * b), (A, V)),
}
for _mode in ("full", "same", "valid"):
    for _m, _n in ((5, 3), (3, 5), (4, 4)):
        CASES[f"correlate_{_mode}_{_m}{_n}"] = (lambda a, v, mode=_mode: cnp.correlate(a, v, mode),
                                                lambda a, v, mode=_mode: _t_correlate(a, v, mode), (V[:_m], B[0, :_n]))
        CASES[f"convolve_{_mode}_{_m}{_n}"] = (
            lambda a, v, mode=_mode: cnp.convolve(a, v, mode),
            lambda a, v, mode=_mode, m=_m, n=_n: _t_correlate(*((a, v.flip(0)) if m >= n else (v, a.flip(0))), mode),
            (V[:_m], B[0, :_n]),
        )

# Functions piecewise linear or with jumps in their second derivative's reach: first order only.
FIRST_ORDER_ONLY = {"divmod"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients(name):
    function, reference, inputs = CASES[name]
    expected = np.asarray(function(*inputs))  # no Tensor among the inputs: NumPy's own answer
    assert not isinstance(function(*inputs), cr.Tensor)
    weights = RNG.standard_normal(expected.shape)
    leaves = [cr.tensor(x, requires_grad=True) for x in inputs]
    out = function(*leaves)
    assert isinstance(out, cr.Tensor) and out.dtype == expected.dtype
    np.testing.assert_allclose(out.data, expected, rtol=1e-13, atol=1e-14)
    cr.sum(out * weights).backward()
    ts = [torch.tensor(np.array(x), requires_grad=True) for x in inputs]
    (reference(*ts) * torch.tensor(weights)).sum().backward()
    for leaf, t in zip(leaves, ts, strict=True):  # torch leaves None where the gradient is zero (copysign's sign)
        expected_grad = np.zeros(t.shape) if t.grad is None else np.nan_to_num(t.grad.numpy())
        np.testing.assert_allclose(_grad(leaf), expected_grad, rtol=1e-11, atol=1e-12)
    assert cr.gradcheck(lambda *xs: cr.sum(function(*xs) * weights), *inputs)
    if name not in FIRST_ORDER_ONLY:
        grad_function = cr.grad(lambda *xs: cr.sum(function(*xs) * weights))
        u = np.cos(np.arange(np.size(inputs[0]))).reshape(np.shape(inputs[0]))
        assert cr.gradcheck(lambda *xs: cr.sum(grad_function(*xs) * u), *inputs)


@pytest.mark.parametrize("name", ["quantile", "nanvar", "interp", "correlate_same_35", "lstsq", "cond", "geomspace",
                                  "polyval", "block", "piecewise", "tensorinv", "frexp"])
def test_jvp_agrees_with_vjp(name):
    function, _, inputs = CASES[name]
    assert_jvp_matches_vjp(function, inputs, RNG)


@pytest.mark.parametrize("name", ["ptp", "nanmax", "nanvar", "median_even", "quantile_keepdims", "nanquantile",
                                  "copysign", "interp", "trapezoid", "correlate_full_53", "vander", "modf", "frexp",
                                  "ldexp", "meshgrid_xy", "polyval"])
def test_float32_stays_float32_as_numpy(name):
    function, _, inputs = CASES[name]
    inputs32 = [np.asarray(x, np.float32) for x in inputs]
    expected = np.asarray(function(*inputs32))
    leaves = [cr.tensor(x, requires_grad=True) for x in inputs32]
    out = function(*leaves)
    assert out.dtype == expected.dtype
    np.testing.assert_allclose(out.data, expected, rtol=1e-6, atol=1e-6)
    cr.sum(out).backward()
    assert all(_grad(leaf).dtype == np.float32 for leaf in leaves)


QUANTILE_METHODS = ["linear", "lower", "higher", "nearest", "midpoint", "hazen", "weibull", "median_unbiased",
                    "normal_unbiased", "interpolated_inverted_cdf"]


@pytest.mark.parametrize("method", QUANTILE_METHODS)
@pytest.mark.parametrize("axis", [None, 1, (0, 1), -2])
def test_quantile_methods_and_axes_give_numpys_values_exactly(method, axis):
    q = [0.0, 0.05, 0.37, 0.5, 0.999, 1.0]
    for function, data in ((cnp.quantile, B), (cnp.nanquantile, NAN), (cnp.percentile, B)):
        qq = np.multiply(q, 100) if function is cnp.percentile else q
        expected = function(data, qq, axis=axis, method=method, keepdims=axis == 1)
        out = function(cr.tensor(data, requires_grad=True), qq, axis=axis, method=method, keepdims=axis == 1)
        np.testing.assert_array_equal(out.data, expected)
        assert out.shape == expected.shape and out.dtype == expected.dtype
    # the gradient of a quantile is (1 − γ, γ) on the two order statistics around it: it sums to 1 per quantile
    g = cr.grad(lambda a: cnp.sum(cnp.quantile(a, 0.37, axis=axis, method=method)))(B)
    assert np.isclose(g.sum(), np.size(np.quantile(B, 0.37, axis=axis)), rtol=1e-14)


def test_median_and_nan_functions_follow_numpy_on_nans_and_sizes():
    for data in (NAN, np.full((2, 3), np.nan), RNG.standard_normal((2, 701))):  # 701: NumPy's large nanmedian path
        for function in (cnp.median, cnp.nanmedian, cnp.nanmax, cnp.nanmin, cnp.nanvar, cnp.nanstd, cnp.nanprod,
                         cnp.ptp):
            with np.errstate(all="ignore"), pytest.warns(RuntimeWarning) if np.isnan(data).all() and function in (
                    cnp.nanmedian, cnp.nanmax, cnp.nanmin, cnp.nanvar, cnp.nanstd) else _no_warning():
                expected = function(data, axis=1)
            with np.errstate(all="ignore"):
                out = function(cr.tensor(data, requires_grad=True), axis=1)
            np.testing.assert_array_equal(out.data, expected)


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_ties_median_gives_one_element_nanmax_shares_evenly():
    x = np.array([2.0, 1.0, 2.0, 3.0, 2.0])
    # median of [1, 2, 2, 2, 3]: sort's stable order puts the 2s at positions 1, 2, 3 in order of appearance; the
    # middle one (position 2) is x[2], which alone receives the gradient (torch.median also picks one element).
    np.testing.assert_array_equal(cr.grad(lambda a: cnp.median(a))(x), [0.0, 0.0, 1.0, 0.0, 0.0])
    torch_grad = torch.tensor(x, requires_grad=True)
    torch.median(torch_grad).backward()
    assert torch_grad.grad.sum() == 1.0 and torch_grad.grad[[1, 3]].sum() == 0.0
    # nanmax over tied maxima: max's convention, an even share
    y = np.array([3.0, np.nan, 3.0, 1.0])
    np.testing.assert_array_equal(cr.grad(lambda a: cnp.nanmax(a))(y), [0.5, 0.0, 0.5, 0.0])
    np.testing.assert_array_equal(cr.grad(lambda a: cnp.ptp(a))(np.array([1.0, 4.0, 1.0])), [-0.5, 1.0, -0.5])


def test_heaviside_has_zero_gradient_in_x_and_passes_h_where_x_is_zero():
    x = np.array([-1.5, 0.0, 2.0, 0.0, np.nan])
    h = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    out = cnp.heaviside(cr.tensor(x, requires_grad=True), cr.tensor(h, requires_grad=True))
    np.testing.assert_array_equal(out.data, np.heaviside(x, h))
    gx, gh = cr.grad(lambda a, b: cnp.sum(cnp.heaviside(a, b) * np.arange(1.0, 6.0)), argnums=(0, 1))(x, h)
    np.testing.assert_array_equal(gx, np.zeros(5))
    np.testing.assert_array_equal(gh, [0.0, 2.0, 0.0, 4.0, 0.0])
    assert np.heaviside(cr.tensor(x[:4], requires_grad=True), 0.5).dtype == np.float64  # through __array_ufunc__


def test_interp_gradients_in_x_and_xp_have_closed_forms():
    # inside [xp[j], xp[j+1]): dy/dx = slope_j; dy/dxp[j] = slope·(x − xp[j+1])/(xp[j+1] − xp[j]), dy/dxp[j+1] =
    # −slope·(x − xp[j])/(xp[j+1] − xp[j]); outside, dy/dx = 0
    gx, gxp, gfp = cr.grad(lambda x, xp, fp: cnp.sum(cnp.interp(x, xp, fp)), argnums=(0, 1, 2))(XS, XP, FP)
    slopes = np.diff(FP) / np.diff(XP)
    j = np.clip(np.searchsorted(XP, XS, side="right") - 1, 0, 2)
    inside = (XP[0] <= XS) & (XP[-1] >= XS)
    np.testing.assert_allclose(gx, np.where(inside, slopes[j], 0.0), rtol=1e-14)
    expected_xp = np.zeros(4)
    for x, k, ok in zip(XS, j, inside, strict=True):
        if ok:
            h = XP[k + 1] - XP[k]
            expected_xp[k] += slopes[k] * (x - XP[k + 1]) / h
            expected_xp[k + 1] -= slopes[k] * (x - XP[k]) / h
    np.testing.assert_allclose(gxp, expected_xp, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(gfp.sum(), XS.size, rtol=1e-14)  # the weights on fp sum to one per point
    # period, left/right and a knot: NumPy's values
    for kwargs in ({"period": 2.5}, {"left": -9.0, "right": 7.0}):
        np.testing.assert_array_equal(cnp.interp(cr.tensor(XS), XP, cr.tensor(FP), **kwargs).data,
                                      np.interp(XS, XP, FP, **kwargs))
    np.testing.assert_array_equal(cnp.interp(cr.tensor(XP), XP, cr.tensor(FP)).data, FP)


def test_frexp_mantissa_gradient_is_two_to_minus_e_and_ldexp_is_exact_at_extremes():
    x = np.array([3.0, -0.1, 1e-310, 5e300, 0.0, np.inf])
    mantissa, exponent = cnp.frexp(cr.tensor(x, requires_grad=True))
    expected_m, expected_e = np.frexp(x)
    np.testing.assert_array_equal(mantissa.data, expected_m)
    np.testing.assert_array_equal(exponent.data, expected_e)
    normal = [0, 1, 3, 4]  # (1e-310's 2^-e, 2^1030, overflows)
    g = cr.grad(lambda a: cnp.sum(cnp.frexp(a)[0]))(x[normal])
    np.testing.assert_array_equal(g, np.ldexp(1.0, -expected_e[normal]))
    e = np.array([0, 1000, -1070, 3])
    np.testing.assert_array_equal(cnp.ldexp(cr.tensor(x[:4]), e).data, np.ldexp(x[:4], e))
    np.testing.assert_array_equal(cnp.modf(cr.tensor([np.inf, -2.5]))[0].data, [0.0, -0.5])


def test_lstsq_returns_numpys_tuple_and_refuses_rank_deficient_input():
    x, residuals, rank, s = cnp.linalg.lstsq(cr.tensor(A.T, requires_grad=True), B[:, :5].T)
    ex, er, erank, es = np.linalg.lstsq(A.T, B[:, :5].T)
    np.testing.assert_allclose(x.data, ex, rtol=1e-13)
    np.testing.assert_allclose(residuals.data, er, rtol=1e-13)
    np.testing.assert_allclose(s.data, es, rtol=1e-14)
    assert rank == erank == 3
    assert cnp.linalg.lstsq(cr.tensor(A), W)[1].shape == np.linalg.lstsq(A, W)[1].shape == (0,)  # m < n
    deficient = np.outer(V, V[:3])
    with pytest.raises(NoDerivativeError, match="rank 1 < 3"):
        cnp.linalg.lstsq(cr.tensor(deficient, requires_grad=True), V)


def test_matrix_rank_is_numpys_answer_and_cond_of_a_singular_matrix_is_numpys():
    t = cr.tensor(np.outer(V, V), requires_grad=True)
    assert cnp.linalg.matrix_rank(t) == np.linalg.matrix_rank(t) == 1
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    for p in (None, 1, "fro", -2):
        np.testing.assert_array_equal(cnp.linalg.cond(cr.tensor(singular, requires_grad=True), p).data,
                                      np.linalg.cond(singular, p))


def test_numpys_own_calls_on_tensors_reach_these_functions():
    t = cr.tensor(V, requires_grad=True)
    calls = [
        lambda a: np.median(a), lambda a: np.nanpercentile(a, 30), lambda a: np.ptp(a), lambda a: np.copy(a),
        lambda a: np.convolve(a, [1.0, 2.0]), lambda a: np.trapezoid(a), lambda a: np.interp(a, XP, FP),
        lambda a: np.float_power(np.abs(a), 1.5), lambda a: np.copysign(a, -1.0), lambda a: np.ldexp(a, 3),
        lambda a: np.frexp(a)[0], lambda a: np.modf(a)[0], lambda a: np.divmod(a, 0.3)[1],
        lambda a: np.linalg.multi_dot([a, np.ones((5, 2)), np.ones(2)]), lambda a: np.polyval(a, 0.5),
        lambda a: np.vander(a)[0], lambda a: np.meshgrid(a, a)[1], lambda a: np.block([a, a]),
        lambda a: np.broadcast_arrays(a, np.ones((2, 1)))[0], lambda a: np.diagflat(a),
        lambda a: np.apply_along_axis(np.sum, 0, a), lambda a: np.nancumsum(a),
    ]
    for call in calls:
        out = call(t)
        assert isinstance(out, cr.Tensor) and out.requires_grad
        np.testing.assert_allclose(out.data, call(V), rtol=1e-14)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda t: cnp.quantile(t, 0.5, method="inverted_cdf"), ValueError, "method='inverted_cdf' is not supported"),
    (lambda t: cnp.quantile(t, 1.5), ValueError, r"in \[0, 1\]"),
    (lambda t: cnp.percentile(t, 150), ValueError, r"percentiles in \[0, 100\]"),
    (lambda t: cnp.quantile(t, t), TypeError, "q requires grad"),
    (lambda t: cnp.median(t, out=np.empty(())), TypeError, "out= is not supported"),
    (lambda t: cnp.quantile(t, 0.5, weights=np.ones(5)), TypeError, "'weights' is not supported"),
    (lambda t: cnp.convolve(t, t, mode="middle"), ValueError, "mode must be 'full', 'same' or 'valid'"),
    (lambda t: cnp.meshgrid(t, indexing="yx"), ValueError, "indexing must be 'xy' or 'ij'"),
    (lambda t: cnp.block([[t], t]), ValueError, "nested to different depths"),
    (lambda t: cnp.vectorize(lambda r: r, signature="(n)->(n)")(t), TypeError, "signature"),
    (lambda t: cnp.geomspace(t, 0.0), cr.DomainError, "cannot include zero"),
    (lambda t: cnp.ldexp(t, 1.5), TypeError, "x2 must hold integers"),
    (lambda t: cnp.piecewise(t, [t > 0], []), ValueError, "1 conditions but 0 functions"),
    (lambda t: cnp.linalg.multi_dot([t]), ValueError, "at least two arrays"),
])
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call(cr.tensor(V, requires_grad=True))


def test_the_new_names_are_in_the_coverage_table():
    from chainrule.numpy import coverage

    rows = {f"{label}.{name}": what for label, name, what in coverage.rows()}
    for name in ("median", "quantile", "nanpercentile", "interp", "convolve", "trapezoid", "block", "frexp"):
        assert f"cnp.{name}" in rows and not rows[f"cnp.{name}"].startswith("see its docstring"), name
    for name in ("lstsq", "cond", "multi_dot", "tensorsolve", "tensorinv"):
        assert f"cnp.linalg.{name}" in rows, name
