"""PyTorch's Tensor methods (chainrule/torch_methods.py) against torch==2.13: the same call on both, values and
gradients in float64 and float32, then central differences of chainrule's gradient in float64; edge cases and
error messages after."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

RNG = np.random.default_rng(20)


def normal(*shape):
    return RNG.standard_normal(shape)


def positive(*shape):
    return RNG.uniform(0.5, 2.0, shape)


def unit(*shape):
    return RNG.uniform(0.05, 0.95, shape)


def spd(n=3, batch=()):
    a = RNG.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


class CR:
    """What a case needs from a library: constants (index tensors, masks) made in it."""

    name = "cr"

    @staticmethod
    def t(values):
        return cr.tensor(values)


class Torch:
    name = "torch"

    @staticmethod
    def t(values):
        return torch.tensor(values)


I = np.array  # index arrays, written inline below

# (id, f(L, *inputs), inputs): inputs are float arrays that get gradients; L makes constants in the library.
CASES = [
    ("add alpha", lambda L, a, b: a.add(b, alpha=2.5), [normal(3, 4), normal(4)]),
    ("add number", lambda L, a: a.add(3.0), [normal(3)]),
    ("sub alpha", lambda L, a, b: a.sub(b, alpha=-0.5), [normal(3, 4), normal(3, 1)]),
    ("subtract", lambda L, a, b: a.subtract(b), [normal(3), normal(3)]),
    ("mul", lambda L, a, b: a.mul(b), [normal(2, 3), normal(3)]),
    ("multiply", lambda L, a, b: a.multiply(b), [normal(2, 3), normal(2, 3)]),
    ("div", lambda L, a, b: a.div(b), [normal(2, 3), positive(3)]),
    ("divide", lambda L, a, b: a.divide(b), [normal(4), positive(4)]),
    ("div trunc", lambda L, a, b: a.div(b, rounding_mode="trunc") + a, [normal(6) * 4, positive(6)]),
    ("div floor", lambda L, a, b: a.div(b, rounding_mode="floor") * b, [normal(6) * 4, positive(6)]),
    ("true_divide", lambda L, a, b: a.true_divide(b), [normal(4), positive(4)]),
    ("neg", lambda L, a: a.neg(), [normal(3)]),
    ("negative", lambda L, a: a.negative() * a, [normal(3)]),
    ("positive", lambda L, a: a.positive() * a, [normal(3)]),
    ("maximum", lambda L, a, b: a.maximum(b), [normal(5), normal(5)]),
    ("minimum", lambda L, a, b: a.minimum(b), [normal(5), normal(5)]),
    ("clamp_min", lambda L, a: a.clamp_min(0.1), [normal(7)]),
    ("clamp_max", lambda L, a: a.clamp_max(0.1), [normal(7)]),
    ("amax all", lambda L, a: a.amax(), [normal(3, 4)]),
    ("amax dim", lambda L, a: a.amax(1), [normal(3, 4)]),
    ("amax dims keepdim", lambda L, a: a.amax((0, 2), keepdim=True), [normal(2, 3, 4)]),
    ("amax ties", lambda L, a: a.amax(1), [I([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])]),
    ("amin dim", lambda L, a: a.amin(-1, True), [normal(3, 4)]),
    ("aminmax", lambda L, a: a.aminmax(), [normal(3, 4)]),
    ("aminmax dim", lambda L, a: a.aminmax(dim=0, keepdim=True), [normal(3, 4)]),
    ("mm", lambda L, a, b: a.mm(b), [normal(3, 4), normal(4, 2)]),
    ("mv", lambda L, a, b: a.mv(b), [normal(3, 4), normal(4)]),
    ("bmm", lambda L, a, b: a.bmm(b), [normal(2, 3, 4), normal(2, 4, 5)]),
    ("addmm", lambda L, c, a, b: c.addmm(a, b), [normal(3, 2), normal(3, 4), normal(4, 2)]),
    ("addmm scaled", lambda L, c, a, b: c.addmm(a, b, beta=0.5, alpha=-2), [normal(2), normal(3, 4), normal(4, 2)]),
    ("addmm beta 0", lambda L, c, a, b: c.addmm(a, b, beta=0) + c.sum(), [normal(3, 2), normal(3, 4), normal(4, 2)]),
    ("addmv", lambda L, c, a, b: c.addmv(a, b, beta=2, alpha=3), [normal(3), normal(3, 4), normal(4)]),
    ("addbmm", lambda L, c, a, b: c.addbmm(a, b, alpha=0.5), [normal(3, 5), normal(2, 3, 4), normal(2, 4, 5)]),
    ("baddbmm", lambda L, c, a, b: c.baddbmm(a, b, beta=-1), [normal(2, 3, 5), normal(2, 3, 4), normal(2, 4, 5)]),
    ("addr", lambda L, c, a, b: c.addr(a, b, beta=2, alpha=0.5), [normal(3, 2), normal(3), normal(2)]),
    ("addcmul", lambda L, c, a, b: c.addcmul(a, b, value=0.3), [normal(3, 4), normal(3, 4), normal(4)]),
    ("addcdiv", lambda L, c, a, b: c.addcdiv(a, b, value=-2), [normal(3, 4), normal(3, 4), positive(3, 4)]),
    ("inner", lambda L, a, b: a.inner(b), [normal(2, 4), normal(3, 4)]),
    ("inner vectors", lambda L, a, b: a.inner(b), [normal(4), normal(4)]),
    ("outer", lambda L, a, b: a.outer(b), [normal(3), normal(4)]),
    ("ger", lambda L, a, b: a.ger(b), [normal(3), normal(2)]),
    ("vdot", lambda L, a, b: a.vdot(b), [normal(5), normal(5)]),
    ("kron", lambda L, a, b: a.kron(b), [normal(2, 3), normal(2, 2)]),
    ("cross", lambda L, a, b: a.cross(b, dim=1), [normal(4, 3), normal(4, 3)]),
    ("cross default dim", lambda L, a, b: a.cross(b), [normal(3, 2), normal(3, 2)]),
    ("chunk", lambda L, a: [c * (i + 1) for i, c in enumerate(a.chunk(3, 1))], [normal(2, 7)]),
    ("chunk fewer", lambda L, a: [c * (i + 1) for i, c in enumerate(a.chunk(4))], [normal(5)]),
    ("split size", lambda L, a: [c * (i + 1) for i, c in enumerate(a.split(2, dim=1))], [normal(2, 5)]),
    ("split sizes", lambda L, a: [c * (i + 1) for i, c in enumerate(a.split([1, 3, 0, 1]))], [normal(5, 2)]),
    ("tensor_split n", lambda L, a: [c * (i + 1) for i, c in enumerate(a.tensor_split(3))], [normal(7)]),
    ("tensor_split idx", lambda L, a: [c * (i + 1) for i, c in enumerate(a.tensor_split([1, 4, 2], dim=1))],
     [normal(2, 6)]),
    ("unbind", lambda L, a: [c * (i + 1) for i, c in enumerate(a.unbind(1))], [normal(2, 3)]),
    ("hsplit", lambda L, a: [c * (i + 1) for i, c in enumerate(a.hsplit(2))], [normal(3, 4)]),
    ("vsplit", lambda L, a: [c * (i + 1) for i, c in enumerate(a.vsplit([1, 3]))], [normal(4, 2)]),
    ("dsplit", lambda L, a: [c * (i + 1) for i, c in enumerate(a.dsplit(2))], [normal(2, 2, 4)]),
    ("expand", lambda L, a: a.expand(2, 3, 4), [normal(3, 1)]),
    ("expand -1", lambda L, a: a.expand(-1, 4) * 2, [normal(3, 1)]),
    ("expand tuple", lambda L, a: a.expand((2, 3)), [normal(3)]),
    ("expand_as", lambda L, a, b: a.expand_as(b) * b, [normal(1, 4), normal(3, 4)]),
    ("view_as", lambda L, a, b: a.view_as(b) * b, [normal(12), normal(3, 4)]),
    ("reshape_as", lambda L, a, b: a.reshape_as(b) + b, [normal(2, 6), normal(3, 4)]),
    ("type_as", lambda L, a, b: a.float().type_as(b) * b, [normal(3), normal(3)]),
    ("sum_to_size", lambda L, a: a.sum_to_size(3, 1), [normal(2, 3, 4)]),
    ("sum_to_size tuple", lambda L, a: a.sum_to_size((1, 4)), [normal(3, 4)]),
    ("flip", lambda L, a: a.flip(0, 2), [normal(2, 3, 4)]),
    ("flip list", lambda L, a: a.flip([1]), [normal(2, 3)]),
    ("fliplr", lambda L, a: a.fliplr(), [normal(2, 3)]),
    ("flipud", lambda L, a: a.flipud(), [normal(4)]),
    ("roll", lambda L, a: a.roll(2), [normal(2, 3)]),
    ("roll dims", lambda L, a: a.roll((1, -1), (0, 1)), [normal(3, 4)]),
    ("rot90", lambda L, a: a.rot90(), [normal(2, 3)]),
    ("rot90 k dims", lambda L, a: a.rot90(3, [1, 2]), [normal(2, 3, 4)]),
    ("movedim", lambda L, a: a.movedim(0, -1), [normal(2, 3, 4)]),
    ("movedim tuple", lambda L, a: a.movedim((0, 1), (2, 0)), [normal(2, 3, 4)]),
    ("moveaxis", lambda L, a: a.moveaxis(1, 0), [normal(2, 3)]),
    ("swapdims", lambda L, a: a.swapdims(0, 2), [normal(2, 3, 4)]),
    ("narrow", lambda L, a: a.narrow(1, 1, 2), [normal(3, 4)]),
    ("narrow negative", lambda L, a: a.narrow(0, -2, 2), [normal(3, 4)]),
    ("select", lambda L, a: a.select(1, -1), [normal(3, 4)]),
    ("unflatten", lambda L, a: a.unflatten(1, (2, -1)), [normal(3, 6)]),
    ("repeat_interleave", lambda L, a: a.repeat_interleave(2), [normal(2, 3)]),
    ("repeat_interleave dim", lambda L, a: a.repeat_interleave(L.t([1, 0, 3]), dim=1), [normal(2, 3)]),
    ("tile", lambda L, a: a.tile(2, 1, 2), [normal(2, 3)]),
    ("tile short", lambda L, a: a.tile((2,)), [normal(2, 3)]),
    ("t", lambda L, a: a.t(), [normal(2, 3)]),
    ("t 1-D", lambda L, a: a.t() * 2, [normal(3)]),
    ("mT", lambda L, a: a.mT, [normal(2, 3, 4)]),
    ("mH", lambda L, a: a.mH, [normal(3, 4)]),
    ("H", lambda L, a: a.H, [normal(3, 4)]),
    ("adjoint", lambda L, a: a.adjoint(), [normal(2, 3, 4)]),
    ("contiguous", lambda L, a: a.contiguous() * 2, [normal(3)]),
    ("gather", lambda L, a: a.gather(1, L.t([[0, 0, 2], [1, 2, 1]])), [normal(2, 3)]),
    ("gather dim0 smaller", lambda L, a: a.gather(0, L.t([[2, 0], [1, 1]])), [normal(3, 4)]),
    ("take_along_dim", lambda L, a: a.take_along_dim(L.t([[0], [2]]), 1), [normal(2, 3)]),
    ("take_along_dim flat", lambda L, a: a.take_along_dim(L.t([5, 0, 0])), [normal(2, 3)]),
    ("take_along_dim broadcast", lambda L, a: a.take_along_dim(L.t([[[1, 0]]]), 2), [normal(2, 3, 4)]),
    ("scatter src", lambda L, a, s: a.scatter(1, L.t([[2, 0], [1, 2]]), s), [normal(2, 3), normal(2, 2)]),
    ("scatter value", lambda L, a: a.scatter(0, L.t([[1, 0, 1]]), 7.5), [normal(2, 3)]),
    ("scatter_add", lambda L, a, s: a.scatter_add(0, L.t([[1, 0, 1], [1, 1, 0]]), s), [normal(2, 3), normal(2, 3)]),
    ("index_select", lambda L, a: a.index_select(1, L.t([2, 0, 2])), [normal(2, 3)]),
    ("index_add", lambda L, a, s: a.index_add(0, L.t([1, 0, 1]), s, alpha=2), [normal(2, 3), normal(3, 3)]),
    ("masked_fill", lambda L, a: a.masked_fill(L.t([True, False, True]), -1.5), [normal(2, 3)]),
    ("masked_fill tensor", lambda L, a, v: a.masked_fill(L.t([[True], [False]]), v), [normal(2, 3), normal()]),
    ("masked_select", lambda L, a: a.masked_select(L.t([[True, False, True], [False, False, True]])),
     [normal(2, 3)]),
    ("masked_select broadcast", lambda L, a: a.masked_select(L.t([[True], [False], [True]])), [normal(3)]),
    ("where", lambda L, a, b: a.where(L.t([True, False, True]), b), [normal(2, 3), normal(3)]),
    ("tril", lambda L, a: a.tril(), [normal(3, 4)]),
    ("tril batch k", lambda L, a: a.tril(-1), [normal(2, 3, 3)]),
    ("triu", lambda L, a: a.triu(1), [normal(4, 3)]),
    ("diag vector", lambda L, a: a.diag(1), [normal(3)]),
    ("diag matrix", lambda L, a: a.diag(-1), [normal(3, 4)]),
    ("diagflat", lambda L, a: a.diagflat(), [normal(2, 2)]),
    ("diag_embed", lambda L, a: a.diag_embed(), [normal(2, 3)]),
    ("diag_embed offset dims", lambda L, a: a.diag_embed(-1, 0, 2), [normal(2, 3)]),
    ("sort", lambda L, a: a.sort(dim=1), [normal(3, 4)]),
    ("sort descending", lambda L, a: a.sort(dim=0, descending=True), [normal(3, 4)]),
    ("sort stable ties", lambda L, a: a.sort(stable=True, descending=True),
     [I([[1.0, 2.0, 1.0, 2.0, 0.0], [3.0, 3.0, 3.0, 1.0, 1.0]])]),
    ("msort", lambda L, a: a.msort(), [normal(4, 2)]),
    ("topk", lambda L, a: a.topk(2), [normal(3, 5)]),
    ("topk smallest dim0", lambda L, a: a.topk(3, dim=0, largest=False), [normal(4, 2)]),
    ("kthvalue", lambda L, a: a.kthvalue(2, 1), [normal(3, 5)]),
    ("kthvalue keepdim", lambda L, a: a.kthvalue(3, 0, True), [normal(4, 2)]),
    ("median all", lambda L, a: a.median(), [normal(3, 4)]),
    ("median dim", lambda L, a: a.median(1), [normal(3, 4)]),
    ("median dim odd keepdim", lambda L, a: a.median(0, keepdim=True), [normal(5, 2)]),
    ("mode", lambda L, a: a.mode(1), [I([[1.0, 2.0, 2.0, 3.0, 1.0], [5.0, 4.0, 4.0, 5.0, 4.0]])]),
    ("cummax", lambda L, a: a.cummax(1), [normal(3, 5)]),
    ("cummax ties", lambda L, a: a.cummax(0), [I([1.0, 3.0, 2.0, 3.0, 0.0, 4.0])]),
    ("cummin", lambda L, a: a.cummin(0), [normal(4, 3)]),
    ("logcumsumexp", lambda L, a: a.logcumsumexp(1), [normal(3, 5) * 10]),
    ("logcumsumexp far apart", lambda L, a: a.logcumsumexp(0), [I([-1000.0, 0.0, 1000.0, 0.5])]),
    ("norm", lambda L, a: a.norm(), [normal(3, 4)]),
    ("norm p dim", lambda L, a: a.norm(3, 1), [normal(3, 4)]),
    ("norm p 1 dims keepdim", lambda L, a: a.norm(1, (0, 2), keepdim=True), [normal(2, 3, 4)]),
    ("norm inf", lambda L, a: a.norm(math.inf, 0), [normal(3, 4)]),
    ("norm fro dims", lambda L, a: a.norm("fro", (1, 2)), [normal(2, 3, 4)]),
    ("norm nuc", lambda L, a: a.norm("nuc"), [normal(3, 4)]),
    ("dist", lambda L, a, b: a.dist(b), [normal(3, 4), normal(4)]),
    ("dist p", lambda L, a, b: a.dist(b, 1.5), [normal(3, 4), normal(3, 4)]),
    ("renorm", lambda L, a: a.renorm(2, 0, 1.5), [normal(3, 4)]),
    ("renorm p1 dim1", lambda L, a: a.renorm(1, 1, 2.0), [normal(3, 4)]),
    ("lerp", lambda L, a, b: a.lerp(b, 0.3), [normal(5), normal(5)]),
    ("lerp large weight", lambda L, a, b: a.lerp(b, 0.8), [normal(5), normal(5)]),
    ("lerp tensor weight", lambda L, a, b, w: a.lerp(b, w), [normal(6), normal(6), RNG.uniform(-0.5, 1.5, 6)]),
    ("nan_to_num", lambda L, a: (a / a.new_tensor([0.0, 1.0, 0.0, 2.0])).nan_to_num(posinf=9.0),
     [I([0.0, 1.5, -2.0, 3.0])]),
    ("square", lambda L, a: a.square(), [normal(4)]),
    ("rsqrt", lambda L, a: a.rsqrt(), [positive(4)]),
    ("reciprocal", lambda L, a: a.reciprocal(), [positive(4)]),
    ("exp2", lambda L, a: a.exp2(), [normal(4)]),
    ("logaddexp", lambda L, a, b: a.logaddexp(b), [normal(4) * 10, normal(4)]),
    ("logit", lambda L, a: a.logit(), [unit(5)]),
    ("logit eps", lambda L, a: a.logit(0.2), [I([0.1, 0.3, 0.5, 0.85, 0.95])]),
    ("erf", lambda L, a: a.erf(), [normal(4)]),
    ("erfc", lambda L, a: a.erfc(), [normal(4)]),
    ("erfinv", lambda L, a: a.erfinv(), [RNG.uniform(-0.9, 0.9, 4)]),
    ("lgamma", lambda L, a: a.lgamma(), [positive(4) * 3]),
    ("digamma", lambda L, a: a.digamma(), [positive(4) * 3]),
    ("i0", lambda L, a: a.i0(), [normal(4)]),
    ("sinc", lambda L, a: a.sinc(), [normal(4)]),
    ("xlogy", lambda L, a, b: a.xlogy(b), [normal(4), positive(4)]),
    ("xlogy zero", lambda L, a, b: a.xlogy(b), [I([0.0, 1.0, 0.0]), I([2.0, 3.0, 0.5])]),
    ("hypot", lambda L, a, b: a.hypot(b), [normal(4), normal(4)]),
    ("atan2", lambda L, a, b: a.atan2(b), [normal(4), normal(4)]),
    ("arctan2", lambda L, a, b: a.arctan2(b), [normal(4), normal(4)]),
    ("asinh", lambda L, a: a.asinh(), [normal(4)]),
    ("acosh", lambda L, a: a.acosh(), [positive(4) + 1]),
    ("atanh", lambda L, a: a.atanh(), [RNG.uniform(-0.9, 0.9, 4)]),
    ("deg2rad", lambda L, a: a.deg2rad(), [normal(4) * 100]),
    ("rad2deg", lambda L, a: a.rad2deg(), [normal(4)]),
    ("frac", lambda L, a: a.frac(), [normal(6) * 5]),
    ("fix trunc floor ceil", lambda L, a: a.fix() + a.trunc() * 2 + a.floor() * 3 + a.ceil() * 5 + a,
     [normal(6) * 5]),
    ("half", lambda L, a: a.half().double() * a, [normal(5)]),
    ("cov", lambda L, a: a.cov(), [normal(3, 6)]),
    ("cov vector", lambda L, a: a.cov(correction=0), [normal(6)]),
    ("cov aweights", lambda L, a, w: a.cov(aweights=w), [normal(2, 5), positive(5)]),
    ("cov both weights", lambda L, a, w: a.cov(correction=2, fweights=L.t([1, 2, 1, 3, 1]), aweights=w),
     [normal(2, 5), positive(5)]),
    ("corrcoef", lambda L, a: a.corrcoef(), [normal(3, 6)]),
    ("det", lambda L, a: a.det(), [normal(2, 3, 3)]),
    ("logdet", lambda L, a: a.logdet(), [spd(3)]),
    ("slogdet", lambda L, a: a.slogdet(), [normal(3, 3)]),
    ("inverse", lambda L, a: a.inverse(), [spd(3)]),
    ("pinverse", lambda L, a: a.pinverse(), [normal(3, 2)]),
    ("matrix_power", lambda L, a: a.matrix_power(3), [normal(3, 3)]),
    ("matrix_power -2", lambda L, a: a.matrix_power(-2), [spd(3)]),
    ("cholesky", lambda L, a: (a + a.mT).cholesky(), [spd(3) / 2]),
    ("cholesky upper", lambda L, a: (a + a.mT).cholesky(upper=True), [spd(3, (2,)) / 2]),
    ("qr", lambda L, a: a.qr(), [normal(4, 3)]),
    ("qr complete square", lambda L, a: a.qr(some=False), [normal(3, 3)]),
    ("svd values", lambda L, a: a.svd()[1], [normal(4, 3)]),
    ("svd", lambda L, a: _signless_svd(a), [normal(4, 3)]),
]


def _signless_svd(a):
    """U, S, V up to the signs LAPACK chooses: each column of U and V is one sign choice, made jointly."""
    u, s, v = a.svd()
    return (u * a.new_tensor([1.0, 2.0, 3.0])) @ v.mT, u * u.sum(0), v * v.sum(0), s


def _outputs(out):
    return list(out) if isinstance(out, tuple | list) else [out]


def _run(lib, f, arrays, dtype):
    if lib is CR:
        xs = [cr.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    else:
        xs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    outs = _outputs(f(lib, *xs))
    weights = np.random.default_rng(3)
    loss = None
    for o in outs:
        if o.dtype not in (np.float32, np.float64, torch.float32, torch.float64):
            continue
        w = weights.standard_normal(tuple(o.shape)).astype(dtype)  # drawn for every float output, in both
        if o.requires_grad:
            term = (o * (cr.tensor(w) if lib is CR else torch.tensor(w))).sum()
            loss = term if loss is None else loss + term
    if loss is not None:
        loss.backward()
    values = [o.detach().numpy() if lib is Torch else o.numpy() for o in outs]
    grads = [None if x.grad is None else x.grad.numpy() for x in xs]
    return values, grads


TOLERANCE = {np.float64: dict(rtol=1e-12, atol=1e-13), np.float32: dict(rtol=2e-5, atol=2e-6)}


# Where torch is the less accurate one, measured: its float32 logcumsumexp gradient is 2e-5 off next to a far larger
# element (its float64 result, rounded, is the reference then), and its trigamma (digamma's gradient) is 4e-10 off
# in float64, where ours agrees with mpmath to 3e-16 (test_digamma_against_mpmath).
FLOAT64_REFERENCE = {"logcumsumexp far apart"}
MPMATH_REFERENCE = {"digamma"}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name, f, arrays", CASES, ids=[c[0] for c in CASES])
def test_values_and_gradients_equal_torch(name, f, arrays, dtype):
    if name in MPMATH_REFERENCE:
        pytest.skip("torch is the less accurate reference here: see test_digamma_against_mpmath")
    ours, grads = _run(CR, f, arrays, dtype)
    theirs, their_grads = _run(Torch, f, arrays, np.float64 if name in FLOAT64_REFERENCE else dtype)
    if name in FLOAT64_REFERENCE:
        theirs = [t.astype(dtype) if t.dtype.kind == "f" else t for t in theirs]
        their_grads = [None if g is None else g.astype(dtype) for g in their_grads]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape, name
        assert a.dtype == b.dtype, (name, a.dtype, b.dtype)
        if a.dtype.kind in "iub":
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, **TOLERANCE[dtype])
    for g, h, x in zip(grads, their_grads, arrays, strict=True):
        g = np.zeros(x.shape, dtype) if g is None else g
        h = np.zeros(x.shape, dtype) if h is None else h
        assert g.dtype == dtype
        np.testing.assert_allclose(g, h, **TOLERANCE[dtype])


NOT_SMOOTH = {"type_as", "half", "nan_to_num", "div trunc", "div floor", "fix trunc floor ceil", "frac", "logit eps",
              "renorm", "renorm p1 dim1", "amax ties", "cummax ties", "mode", "sort stable ties", "norm inf",
              "xlogy zero"}


@pytest.mark.parametrize("name, f, arrays", [c for c in CASES if c[0] not in NOT_SMOOTH],
                         ids=[c[0] for c in CASES if c[0] not in NOT_SMOOTH])
def test_gradients_match_central_differences(name, f, arrays):
    weights = np.random.default_rng(5)

    def loss(*xs):
        total = 0.0
        for o in _outputs(f(CR, *xs)):
            if o.dtype.kind == "f":  # gradcheck's evaluations record no graph: every float output counts
                total = total + (o * weights.standard_normal(o.shape)).sum()
        return total

    def fixed_weights(*xs):  # the same weights at every evaluation
        nonlocal weights
        weights = np.random.default_rng(5)
        return loss(*xs)

    assert cr.gradcheck(fixed_weights, *[cr.tensor(a) for a in arrays], eps=1e-6, atol=1e-6, rtol=1e-5)


def test_every_method_is_installed_and_none_replaced_numpys():
    """The methods exist, and the names Tensor already had (NumPy's meaning) kept their functions."""
    import chainrule.torch_methods as tm

    for name in tm._METHODS:
        assert getattr(cr.Tensor, name) is tm._METHODS[name]
    t = cr.tensor([[3.0, 1.0], [2.0, 5.0]])
    np.testing.assert_array_equal(t.max(0).numpy(), [3.0, 5.0])  # values only, as NumPy
    np.testing.assert_array_equal(t.transpose(1, 0).numpy(), t.numpy().T)
    assert t.std().item() == pytest.approx(np.std(t.numpy()))  # ddof=0
    np.testing.assert_array_equal(t.repeat(2).numpy(), np.repeat(t.numpy(), 2))  # NumPy's repeat, not torch's


def test_sort_needs_a_keyword_that_says_which_sort():
    t = cr.tensor([3.0, 1.0, 2.0], requires_grad=True)
    for call in (lambda: t.sort(), lambda: t.sort(0), lambda: t.sort(axis=0), lambda: t.sort(kind="stable")):
        with pytest.raises(TypeError, match=r"NumPy's a.sort\(\) sorts in place.*cnp.sort"):
            call()
    values, indices = t.sort(dim=0)
    assert values.tolist() == [1.0, 2.0, 3.0] and indices.tolist() == [1, 2, 0]
    np.testing.assert_array_equal(cnp.sort(t).numpy(), values.numpy())


def test_queries_and_casts_equal_torch():
    for data in (normal(2, 3), normal(2, 3).astype(np.float32), np.arange(6, dtype=np.int64).reshape(2, 3),
                 np.array([True, False]), np.arange(3, dtype=np.uint8), np.zeros((0, 2))):
        t, tt = cr.tensor(data), torch.tensor(data)
        assert t.is_floating_point() == tt.is_floating_point()
        assert t.is_complex() == tt.is_complex() and t.is_signed() == tt.is_signed()
        assert t.dim() == t.ndimension() == tt.dim() and t.nelement() == tt.nelement()
        assert t.element_size() == tt.element_size() and t.itemsize == tt.itemsize and t.nbytes == tt.nbytes
        assert t.contiguous() is t and t.is_contiguous()
        for cast in ("bool", "int", "long", "short", "half", "float", "double"):
            ours, theirs = getattr(t, cast)(), getattr(tt, cast)()
            assert ours.dtype == theirs.numpy().dtype, cast
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert t.count_nonzero().item() == tt.count_nonzero().item()
    t = cr.tensor(normal(3, 4))
    np.testing.assert_array_equal(t.count_nonzero(1).numpy(), torch.tensor(t.numpy()).count_nonzero(1).numpy())
    assert t.count_nonzero(1).dtype == np.int64
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    assert x.half().requires_grad and not x.long().requires_grad


def test_predicates_and_comparisons_equal_torch():
    data = np.array([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan, 1e-9])
    other = np.array([0.0, 0.0, 1.5 + 1e-6, 2.0, np.inf, 3.0, np.nan, 0.0])
    t, tt, u, uu = cr.tensor(data), torch.tensor(data), cr.tensor(other), torch.tensor(other)
    for name in ("isfinite", "isinf", "isnan", "isposinf", "isneginf", "isreal", "signbit"):
        ours = getattr(t, name)()
        assert ours.dtype == np.bool_ and not ours.requires_grad
        np.testing.assert_array_equal(ours.numpy(), getattr(tt, name)().numpy(), err_msg=name)
    for name in ("eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal"):
        np.testing.assert_array_equal(getattr(t, name)(u).numpy(), getattr(tt, name)(uu).numpy(), err_msg=name)
        np.testing.assert_array_equal(getattr(t, name)(1.5).numpy(), getattr(tt, name)(1.5).numpy(), err_msg=name)
    for kwargs in ({}, {"equal_nan": True}, {"rtol": 0, "atol": 1e-8}):
        np.testing.assert_array_equal(t.isclose(u, **kwargs).numpy(), tt.isclose(uu, **kwargs).numpy())
        assert t.allclose(u, **kwargs) == tt.allclose(uu, **kwargs)
        finite = cr.tensor(data[:4])
        assert finite.allclose(finite + 1e-9, **kwargs) == torch.tensor(data[:4]).allclose(
            torch.tensor(data[:4]) + 1e-9, **kwargs)
    assert t.equal(t) is tt.equal(tt) is False  # NaN
    assert cr.tensor([1.0, 2.0]).equal(cr.tensor([1.0, 2.0])) is True
    assert cr.tensor([1.0, 2.0]).equal(cr.tensor([[1.0, 2.0]])) is False


def test_new_tensors_as_torch():
    t, tt = cr.tensor(normal(2).astype(np.float32)), torch.tensor(normal(2).astype(np.float32))
    for ours, theirs in ((t.new_zeros(2, 3), tt.new_zeros(2, 3)), (t.new_ones((3,)), tt.new_ones((3,))),
                         (t.new_full((2, 2), 1.5), tt.new_full((2, 2), 1.5)),
                         (t.new_tensor([[1, 2]]), tt.new_tensor([[1, 2]])),
                         (t.new_zeros(2, dtype=np.int64), tt.new_zeros(2, dtype=torch.int64))):
        assert ours.dtype == theirs.numpy().dtype
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert t.new_empty(3, 2).shape == (3, 2) and t.new_empty(3).dtype == np.float32
    leaf = t.new_zeros(3, requires_grad=True)
    assert leaf.is_leaf and leaf.requires_grad
    source = cr.tensor([1.0, 2.0], requires_grad=True)
    copy = t.new_tensor(source)
    assert not copy.requires_grad and copy.dtype == np.float32


def test_unique_bincount_histc_equal_torch():
    data = np.array([[3, 1, 2], [1, 3, 3]])
    t, tt = cr.tensor(data), torch.tensor(data)
    values, inverse, counts = t.unique(return_inverse=True, return_counts=True)
    expected = tt.unique(return_inverse=True, return_counts=True)
    for a, b in zip((values, inverse, counts), expected, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(t.unique().numpy(), tt.unique().numpy())
    rows = t.unique(dim=1, return_inverse=True)
    for a, b in zip(rows, tt.unique(dim=1, return_inverse=True), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(cr.NoDerivativeError, match=r"unique has no derivative.*detach"):
        cr.tensor([1.0, 1.0], requires_grad=True).unique()

    labels = np.array([0, 3, 1, 3, 3])
    t, tt = cr.tensor(labels), torch.tensor(labels)
    np.testing.assert_array_equal(t.bincount().numpy(), tt.bincount().numpy())
    np.testing.assert_array_equal(t.bincount(minlength=7).numpy(), tt.bincount(minlength=7).numpy())
    w = normal(5)
    ours, theirs = t.bincount(cr.tensor(w, requires_grad=True)), tt.bincount(torch.tensor(w))
    assert ours.dtype == theirs.numpy().dtype
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-15)
    assert cr.gradcheck(lambda w: (t.bincount(w) * cr.tensor([1.0, 2.0, 3.0, 4.0])).sum(), cr.tensor(w))
    with pytest.raises(ValueError, match="non-negative"):
        cr.tensor([1, -1]).bincount()

    x = normal(50)
    for kwargs in ({}, {"bins": 7}, {"bins": 4, "min": -1, "max": 1}):
        for dtype in (np.float64, np.float32):
            ours, theirs = cr.tensor(x.astype(dtype)).histc(**kwargs), torch.tensor(x.astype(dtype)).histc(**kwargs)
            assert ours.dtype == theirs.numpy().dtype
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_edge_cases_equal_torch():
    cases = [
        (lambda x: x.median(), np.array([2.0, np.nan, 1.0, 3.0])),
        (lambda x: x.median(0).values, np.array([[2.0, 1.0], [np.nan, 0.0], [1.0, 5.0]])),
        (lambda x: x.median(0).indices, np.array([[2.0, 1.0], [np.nan, 0.0], [1.0, 5.0]])),
        (lambda x: x.sort(dim=0).values, np.array([2.0, np.nan, -np.inf, 1.0])),
        (lambda x: x.sort(dim=0, descending=True).indices, np.array([2.0, np.nan, -np.inf, 1.0])),
        (lambda x: x.topk(2).indices, np.array([2.0, np.nan, 5.0, 1.0])),
        (lambda x: x.cummax(0).values, np.array([1.0, np.nan, 5.0, 1.0])),
        (lambda x: x.cummax(0).indices, np.array([1.0, np.nan, 5.0, np.nan])),
        (lambda x: x.cummin(0).indices, np.array([3.0, 1.0, 1.0, 0.5, 0.5])),
        (lambda x: x.split(2)[0], np.zeros((0, 3))),
        (lambda x: len(x.split(2)), np.zeros((0, 3))),
        (lambda x: len(x.chunk(3)), np.zeros(2)),
        (lambda x: x.amax(()), np.array([[1.0, 4.0]])),
        (lambda x: x.nan_to_num(), np.array([np.nan, np.inf, -np.inf, 1.0])),
        (lambda x: x.nan_to_num(nan=1.0, neginf=-2.0), np.array([np.nan, np.inf, -np.inf, 1.0])),
        (lambda x: x.logdet(), np.array([[0.0, 1.0], [1.0, 0.0]])),
        (lambda x: x.logdet(), np.zeros((2, 2))),
        (lambda x: x.tensor_split(5)[4], np.arange(3.0)),
        (lambda x: x.gather(0, x.long() * 0), np.array(2.0)),
        (lambda x: x.topk(0).values, np.arange(3.0)),
        (lambda x: x.median(), np.array(4.0)),
        (lambda x: x.mode(0).values, np.array([2.0, np.nan, np.nan, 1.0])),
        (lambda x: x.logcumsumexp(0), np.array([-np.inf, 0.0, -np.inf])),
        (lambda x: x.renorm(2, 0, 0.0), normal(2, 3)),
        (lambda x: x.norm(0), np.array([0.0, 2.0, -1.0])),
        (lambda x: x.logit(), np.array([0.0, 1.0, 0.5])),
        (lambda x: x.corrcoef(), np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]])),
    ]
    for k, (f, data) in enumerate(cases):
        ours, theirs = f(cr.tensor(data)), f(torch.tensor(data))
        if isinstance(ours, int):
            assert ours == theirs, k
            continue
        assert ours.shape == tuple(theirs.shape), k
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-15, equal_nan=True, err_msg=f"case {k}")


def test_norm_of_zero_has_torchs_zero_gradient():
    for p in (2, 1, 3, "fro"):
        t, tt = cr.tensor(np.zeros(3), requires_grad=True), torch.zeros(3, dtype=torch.float64, requires_grad=True)
        t.norm(p).backward()
        tt.norm(p).backward()
        np.testing.assert_array_equal(t.grad.numpy(), tt.grad.numpy())


def test_second_derivatives_equal_torch():
    a, b = normal(3, 4), normal(3, 4)

    def second(lib, f):
        x = (cr.tensor if lib is CR else lambda v: torch.tensor(v, requires_grad=True))(a)
        if lib is CR:
            x.requires_grad_()
        y = f(x).sum()
        (g,) = (cr.grad(lambda v: f(v).sum())(x),) if lib is CR else torch.autograd.grad(y, x, create_graph=True)
        if lib is CR:
            x2 = cr.tensor(a, requires_grad=True)
            g = cr.grad(lambda v: f(v).sum())
            return cr.grad(lambda v: (g(v) * cr.tensor(b)).sum())(x2).numpy()
        (h,) = torch.autograd.grad((g * torch.tensor(b)).sum(), x)
        return h.numpy()

    for f in (lambda x: x.logcumsumexp(1), lambda x: x.norm(3, 1), lambda x: x.topk(2).values ** 3,
              lambda x: x.lerp(x.square(), 0.7), lambda x: x.cov(), lambda x: x.rsqrt().abs().renorm(2, 1, 1.0)):
        np.testing.assert_allclose(second(CR, f), second(Torch, f), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("call, error, message", [
    (lambda t: t.mm(cr.tensor(normal(2, 2))), cr.ShapeError, r"mm: shapes \(3, 4\) and \(2, 2\) cannot be"),
    (lambda t: t.mv(cr.tensor(normal(4, 1))), cr.ShapeError, "mv: vec must be 1-D"),
    (lambda t: t.bmm(t), cr.ShapeError, "bmm: self must be 3-D"),
    (lambda t: t.addmm(cr.tensor(normal(3, 4)), cr.tensor(normal(4, 5))), cr.ShapeError, "does not broadcast"),
    (lambda t: t.split([1, 1]), cr.ShapeError, "add up to 3"),
    (lambda t: t.chunk(0), ValueError, "chunks must be a positive int"),
    (lambda t: t.expand(3, 5), cr.ShapeError, "only dims of size 1 expand"),
    (lambda t: t.expand(-1, 3, 4), cr.ShapeError, "-1 is not allowed"),
    (lambda t: t.sum_to_size(2, 4), cr.ShapeError, "does not expand"),
    (lambda t: t.gather(1, cr.tensor([[0, 4]])), IndexError, "index 4 is out of bounds for dimension 1 with size 4"),
    (lambda t: t.gather(1, cr.tensor([0, 1])), cr.ShapeError, "index has 1 dims but the tensor has 2"),
    (lambda t: t.gather(1, cr.tensor([[0.0]])), TypeError, "must hold integers"),
    (lambda t: t.gather(1, cr.tensor(np.zeros((4, 1), int))), cr.ShapeError, "larger than the tensor's"),
    (lambda t: t.scatter(1, cr.tensor([[0]]), cr.tensor(normal(1))), cr.ShapeError, "src of shape"),
    (lambda t: t.scatter(1, cr.tensor([[0]]), 1.0, reduce="add"), ValueError, "reduce='add' is not supported"),
    (lambda t: t.index_select(0, cr.tensor([[0]])), cr.ShapeError, "index must be 1-D"),
    (lambda t: t.index_add(0, cr.tensor([0]), cr.tensor(normal(2, 4))), cr.ShapeError, r"expected \(1, 4\)"),
    (lambda t: t.masked_fill(cr.tensor([1.0, 0.0]), 0), TypeError, "mask must be a bool tensor"),
    (lambda t: t.masked_fill(cr.tensor(np.ones((2, 3, 4), bool)), 0), cr.ShapeError, "does not broadcast"),
    (lambda t: t.narrow(1, 3, 2), IndexError, "do not fit dim 1 of size 4"),
    (lambda t: t.select(0, 3), IndexError, "index 3 is out of bounds for dimension 0 with size 3"),
    (lambda t: t.unflatten(1, (3, -1)), cr.ShapeError, "do not multiply to 4"),
    (lambda t: t.topk(5), ValueError, r"k must be an int in \[0, 4\]"),
    (lambda t: t.kthvalue(0), ValueError, r"k must be an int in \[1, 4\]"),
    (lambda t: t.diag_embed(0, 1, 1), cr.ShapeError, "the same dim"),
    (lambda t: t[:2].cross(t[:2]), cr.ShapeError, "no dimension of size 3"),
    (lambda t: t.norm("bad"), ValueError, "p must be a number"),
    (lambda t: t.norm("nuc", 0), cr.ShapeError, "needs two dims"),
    (lambda t: t.rot90(1, (0,)), cr.ShapeError, "two dims"),
    (lambda t: t.t().t().reshape(1, 3, 4).t(), cr.ShapeError, "at most 2 dims"),
    (lambda t: t.reshape(-1).H, cr.ShapeError, "expects a matrix"),
    (lambda t: t.reshape(-1).mT, cr.ShapeError, "at least 2 dims"),
    (lambda t: t.reshape(-1).fliplr(), cr.ShapeError, "fliplr: the tensor must be"),
    (lambda t: t.dsplit(2), cr.ShapeError, "at least 3 dims"),
    (lambda t: t.div(2, rounding_mode="round"), ValueError, "rounding_mode must be"),
    (lambda t: t.renorm(2, 0, -1), cr.DomainError, "maxnorm non-negative"),
    (lambda t: t.repeat_interleave(cr.tensor([1, 2])), cr.ShapeError, "2 repeats for dim 0 of size 12"),
    (lambda t: t.cov(aweights=cr.tensor(normal(3))), ValueError, "aweights must be a 1-D tensor of 4"),
])
def test_bad_input_names_the_method_and_what_was_expected(call, error, message):
    with pytest.raises(error, match=message):
        call(cr.tensor(normal(3, 4), requires_grad=True))


def test_scatter_with_a_repeated_index_keeps_the_last_write():
    x, src = cr.tensor(np.zeros(3), requires_grad=True), cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.scatter(0, cr.tensor([2, 0, 2]), src)
    assert y.tolist() == [2.0, 0.0, 3.0]
    (y * cr.tensor([10.0, 20.0, 30.0])).sum().backward()
    assert x.grad.tolist() == [0.0, 20.0, 0.0] and src.grad.tolist() == [0.0, 10.0, 30.0]


def test_special_functions_name_scipy_when_it_is_missing(monkeypatch):
    import chainrule.torch_methods as tm

    def missing(name):
        raise KeyError(name)

    monkeypatch.setattr(tm, "lookup", missing)
    with pytest.raises(cr.MissingDependencyError, match=r"Tensor.lgamma needs SciPy.*chainrule\[scipy\]"):
        cr.tensor([1.0]).lgamma()


def test_digamma_against_mpmath():
    mpmath = pytest.importorskip("mpmath")
    x = positive(6) * 3
    t = cr.tensor(x, requires_grad=True)
    y = t.digamma()
    y.sum().backward()
    np.testing.assert_allclose(y.numpy(), [float(mpmath.digamma(v)) for v in x], rtol=1e-15)
    np.testing.assert_allclose(t.grad.numpy(), [float(mpmath.psi(1, v)) for v in x], rtol=1e-15)
    np.testing.assert_allclose(y.numpy(), torch.tensor(x).digamma().numpy(), rtol=1e-14)  # values: torch agrees


def test_scatter_reads_the_leading_block_of_a_larger_src():
    """torch 2.13's backward fails for a src larger than the index (ScatterBackward0 returns the index's shape), so
    the gradient is held to central differences; the values to torch's."""
    x, src, index = normal(2, 3), normal(3, 4), np.array([[2, 0], [1, 2]])
    ours = cr.tensor(x).scatter(1, cr.tensor(index), cr.tensor(src))
    np.testing.assert_array_equal(ours.numpy(), torch.tensor(x).scatter(1, torch.tensor(index), torch.tensor(src)))
    added = cr.tensor(x).scatter_add(1, cr.tensor(index), cr.tensor(src))
    np.testing.assert_allclose(added.numpy(), torch.tensor(x).scatter_add(1, torch.tensor(index), torch.tensor(src)),
                               rtol=1e-15)
    w = normal(2, 3)
    for name in ("scatter", "scatter_add"):
        assert cr.gradcheck(lambda a, s, name=name: (getattr(a, name)(1, cr.tensor(index), s) * w).sum(), cr.tensor(x),
                            cr.tensor(src), atol=1e-7, rtol=1e-6)


def test_lerp_is_exact_at_its_ends_as_torchs():
    """From end when |weight| >= 1/2: weight 1 gives end itself (self + (end - self) may be an ulp off)."""
    a, b = normal(200) * 1e3, normal(200)  # end small next to self: self + (end − self) loses end's low bits
    for weight in (0.0, 0.2, 0.5, 0.9, 1.0):
        ours = cr.tensor(a).lerp(cr.tensor(b), weight).numpy()  # torch's kernel may fuse the multiply-add: an ulp
        np.testing.assert_allclose(ours, torch.tensor(a).lerp(torch.tensor(b), weight).numpy(), rtol=3e-16, atol=0)
    np.testing.assert_array_equal(cr.tensor(a).lerp(cr.tensor(b), 1.0).numpy(), b)
    np.testing.assert_array_equal(cr.tensor(a).lerp(cr.tensor(b), 0.0).numpy(), a)


@pytest.mark.parametrize("n", [9, 64, 65, 1000, 20_000])
def test_logcumsumexp_of_long_slices_matches_torch_in_blocks(n):
    """Slices longer than one block (8) go through the carried block totals: the values and the gradient equal
    torch's and a direct n² prefix logsumexp (for n <= 1000), also across blocks of very different sizes."""
    rng = np.random.default_rng(n)
    x = rng.standard_normal((2, n)) * 30
    x[0, n // 2:] -= 800  # later blocks far below the carry, then far above it
    x[1, n // 2:] += 800
    w = rng.standard_normal((2, n))
    t, tt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = t.logcumsumexp(1)
    (y * cr.tensor(w)).sum().backward()
    yt = torch.logcumsumexp(tt, 1)
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-14, atol=0)
    scale = np.max(np.abs(tt.grad.numpy()))
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=0, atol=1e-11 * scale)
    if n <= 1000:
        prefix = np.where(np.tril(np.ones((n, n), bool)), x[:, None, :], -np.inf)
        top = prefix.max(-1, keepdims=True)
        direct = np.log(np.exp(prefix - top).sum(-1)) + top[..., 0]
        np.testing.assert_allclose(y.numpy(), direct, rtol=1e-14, atol=0)
