"""The 3-D and remaining shape functionals (conv3d, conv_transpose3d, the 3-D, power-average and adaptive pools, max
unpooling, dropout3d, the *_with_indices forms): values, indices and gradients against PyTorch's functionals in
float64, dtypes in float32, gradients against central differences (order 2 for the linear ones), the N-d unfold
against a loop over windows, and clear errors for bad input. The layers are in the parity sweep (cases_3d.py)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import ops
from chainrule.errors import DomainError, ShapeError

RTOL, ATOL = 1e-10, 1e-12


def _torch_run(torch, name, arrays, args, kwargs, differentiated):
    xs = [torch.tensor(a, requires_grad=d) if a.dtype.kind == "f" else torch.tensor(a)
          for a, d in zip(arrays, differentiated, strict=True)]
    out = getattr(torch.nn.functional, name)(*xs, *args, **kwargs)
    return xs, out


def _compare(torch, name, arrays, args=(), kwargs=None, differentiated=None, seed=0):
    """F.name and torch.nn.functional.name on the same float64 arrays: outputs (and indices), and the gradients of
    Σ g·output for a random g."""
    kwargs = kwargs or {}
    differentiated = differentiated or [a.dtype.kind == "f" for a in arrays]
    xs_t, out_t = _torch_run(torch, name, arrays, args, kwargs, differentiated)
    xs = [cr.tensor(a, requires_grad=d) for a, d in zip(arrays, differentiated, strict=True)]
    out = getattr(F, name)(*xs, *args, **kwargs)
    outs, outs_t = (out, out_t) if isinstance(out_t, tuple) else ((out,), (out_t,))
    assert len(outs) == len(outs_t)
    for o, ot in zip(outs[1:], outs_t[1:], strict=True):  # indices
        np.testing.assert_array_equal(np.asarray(getattr(o, "data", o)), ot.numpy())
        assert np.asarray(getattr(o, "data", o)).dtype == np.int64
    np.testing.assert_allclose(outs[0].numpy(), outs_t[0].detach().numpy(), rtol=RTOL, atol=ATOL)
    if any(differentiated):
        g = np.random.default_rng(seed).standard_normal(tuple(outs_t[0].shape))
        (outs_t[0] * torch.tensor(g)).sum().backward()
        (outs[0] * g).sum().backward()
        for x, xt in zip(xs, xs_t, strict=True):
            if xt.requires_grad:
                np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=RTOL, atol=ATOL)
    return out


RNG = np.random.default_rng(7)


def _x(*shape):
    return RNG.standard_normal(shape)


CONV3D = [  # (input, weight, bias, kwargs)
    ((2, 3, 4, 5, 3), (4, 3, 2, 3, 2), True, {}),
    ((1, 4, 5, 4, 6), (2, 2, 3, 1, 2), False, {"stride": (2, 1, 3), "padding": (1, 0, 1), "dilation": (1, 2, 2),
                                              "groups": 2}),
    ((2, 2, 3, 4, 5), (3, 2, 2, 3, 3), True, {"padding": "same", "dilation": 2}),
    ((3, 4, 4, 4), (2, 3, 3, 3, 3), True, {"padding": "valid", "stride": 2}),  # one unbatched volume
]


@pytest.mark.parametrize(("shape", "weight", "bias", "kwargs"), CONV3D)
def test_conv3d_matches_torch(torch, shape, weight, bias, kwargs):
    arrays = [_x(*shape), _x(*weight)] + ([_x(weight[0])] if bias else [])
    args = () if bias else (None,)
    _compare(torch, "conv3d", arrays, args, kwargs)


CONV_TRANSPOSE3D = [
    ((2, 3, 2, 3, 2), (3, 2, 2, 2, 3), True, {}),
    ((1, 4, 3, 2, 3), (4, 1, 3, 2, 2), False, {"stride": (2, 3, 1), "padding": (1, 0, 1), "output_padding": (1, 2, 0),
                                              "groups": 2, "dilation": (1, 1, 2)}),
    ((2, 3, 3, 2), (2, 3, 2, 2, 2), True, {"stride": 2}),  # unbatched
]


@pytest.mark.parametrize(("shape", "weight", "bias", "kwargs"), CONV_TRANSPOSE3D)
def test_conv_transpose3d_matches_torch(torch, shape, weight, bias, kwargs):
    arrays = [_x(*shape), _x(*weight)] + ([_x(weight[1] * kwargs.get("groups", 1))] if bias else [])
    args = () if bias else (None,)
    _compare(torch, "conv_transpose3d", arrays, args, kwargs)


POOLS = [  # (function, input shape, positional arguments, keywords)
    ("max_pool3d", (2, 2, 5, 6, 4), (2,), {}),
    ("max_pool3d", (1, 2, 6, 5, 7), ((3, 2, 3), (2, 1, 2), (1, 1, 0)), {"dilation": (1, 2, 2), "ceil_mode": True,
                                                                       "return_indices": True}),
    ("max_pool3d", (2, 4, 5, 4), (2, 1), {"return_indices": True}),
    ("max_pool3d_with_indices", (1, 2, 4, 4, 4), (3, 2, 1), {}),
    ("max_pool2d_with_indices", (2, 5, 6), ((2, 3), 2, (1, 1)), {"ceil_mode": True}),
    ("max_pool1d_with_indices", (2, 3, 9), (3, 2, 1), {"dilation": 2}),
    ("avg_pool3d", (2, 2, 5, 6, 4), (2,), {}),
    ("avg_pool3d", (1, 2, 6, 5, 7), (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}),
    ("avg_pool3d", (2, 4, 5, 4), ((2, 3, 1), 1, (1, 1, 0)), {"divisor_override": 4}),
    ("adaptive_avg_pool3d", (2, 2, 5, 7, 4), ((2, 3, None),), {}),
    ("adaptive_avg_pool3d", (2, 3, 2, 3), (4,), {}),
    ("adaptive_max_pool3d", (2, 2, 5, 7, 4), ((2, 3, 3),), {"return_indices": True}),
    ("adaptive_max_pool3d", (2, 3, 2, 3), ((None, 4, 2),), {}),
    ("adaptive_max_pool3d_with_indices", (1, 2, 4, 5, 3), (2,), {}),
    ("adaptive_max_pool2d_with_indices", (2, 5, 7), ((3, 2),), {}),
    ("adaptive_max_pool1d_with_indices", (2, 3, 8), (3,), {}),
    ("lp_pool1d", (2, 3, 8), (2, 3), {}),
    ("lp_pool1d", (3, 9), (math.inf, 3, 2), {"ceil_mode": True}),
    ("lp_pool2d", (2, 2, 5, 6), (3, (2, 3), (1, 2)), {"ceil_mode": True}),
    ("lp_pool2d", (2, 4, 4), (-math.inf, 2), {}),
    ("lp_pool3d", (1, 2, 4, 4, 6), (2, (2, 2, 3)), {}),
    ("lp_pool3d", (2, 3, 5, 4), (1, 2, 1), {}),
]


@pytest.mark.parametrize(("name", "shape", "args", "kwargs"), POOLS, ids=[f"{p[0]}-{k}" for k, p in enumerate(POOLS)])
def test_pools_match_torch(torch, name, shape, args, kwargs):
    x = _x(*shape)
    if name.startswith("lp_pool") and args[0] == 3:  # an odd power of a negative sum is NaN in both: stay positive
        x = np.abs(x) + 0.1
    _compare(torch, name, [x], args, kwargs)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_unpool_inverts_max_pool_as_torch(torch, dims):
    """max_pool then max_unpool (its indices, default and given output sizes, overlapping windows whose maximum
    repeats): values equal PyTorch's (the last value written stays) and gradients too (a gather)."""
    rng = np.random.default_rng(dims)
    shape = (2, 3) + (7, 6, 5)[:dims]
    for kernel, stride, padding in ((2, None, 0), (3, 2, 1), (3, 1, 1)):
        x = np.round(rng.standard_normal(shape), 1)
        pooled_t, index_t = getattr(torch.nn.functional, f"max_pool{dims}d")(torch.tensor(x), kernel, stride, padding,
                                                                             return_indices=True)
        pooled, index = getattr(F, f"max_pool{dims}d")(cr.tensor(x), kernel, stride, padding, return_indices=True)
        np.testing.assert_array_equal(np.asarray(index), index_t.numpy())
        values = pooled_t.numpy() + rng.standard_normal(pooled_t.shape)  # distinct values at repeated indices
        default = tuple((m - 1) * (stride or kernel) + kernel - 2 * padding for m in pooled_t.shape[2:])
        for output_size in [list(shape[2:])] + ([None] if default == shape[2:] else []):
            _compare(torch, f"max_unpool{dims}d", [values, index_t.numpy()], (kernel, stride, padding),
                     {"output_size": output_size}, [True, False])
        del pooled


def test_max_unpool_with_repeated_indices_keeps_the_last_value_and_gathers_the_gradient():
    x = cr.tensor([[[1.0, 2.0, 3.0]]], requires_grad=True)
    out = F.max_unpool1d(x, np.array([[[1, 1, 0]]]), 2, output_size=[5])
    np.testing.assert_array_equal(out.numpy(), [[[3.0, 2.0, 0.0, 0.0, 0.0]]])
    out.backward(np.array([[[10.0, 20.0, 30.0, 40.0, 50.0]]]))
    np.testing.assert_array_equal(x.grad.numpy(), [[[20.0, 20.0, 10.0]]])


@pytest.mark.parametrize("name", ["conv3d", "conv_transpose3d", "avg_pool3d", "max_unpool3d"])
def test_linear_3d_ops_pass_gradcheck_to_order_two(name):
    """Central differences of the first and second derivatives (the ops are linear in x, bilinear with w)."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1, 2, 3, 3, 4))
    if name == "conv3d":
        w = rng.standard_normal((2, 2, 2, 2, 3))

        def f(x, w):
            return F.conv3d(x, w, stride=(1, 2, 1), padding=1, dilation=(2, 1, 1))
        args = (x, w)
    elif name == "conv_transpose3d":
        w = rng.standard_normal((2, 1, 2, 2, 2))

        def f(x, w):
            return F.conv_transpose3d(x, w, stride=(2, 1, 1), padding=(0, 1, 0), output_padding=(1, 0, 0))
        args = (x, w)
    elif name == "avg_pool3d":
        def f(x):
            return F.avg_pool3d(x, 2, 1, 1, ceil_mode=True, count_include_pad=False)
        args = (x,)
    else:
        i, j = np.meshgrid(np.arange(3), np.arange(3), indexing="ij")  # one tap of each 2×2 window of a 6×6 plane
        index = np.broadcast_to((2 * i + i % 2) * 6 + 2 * j + (j + 1) % 2, (1, 2, 1, 3, 3))

        def f(x):
            return F.max_unpool3d(x, index, (1, 2, 2))
        args = (rng.standard_normal((1, 2, 1, 3, 3)),)
    assert cr.gradcheck(f, *args)
    direction = [rng.standard_normal(np.shape(a)) for a in args]

    def scalar(*a):  # a second derivative: the gradient along a direction, differentiated again
        out = f(*a)
        return (out * out).sum()

    for i in range(len(args)):
        def slope(*a, i=i):
            return (cr.grad(scalar, argnums=i)(*a) * direction[i]).sum()
        assert cr.gradcheck(slope, *args)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_unfold_of_any_dimension_matches_a_loop_over_windows(dims):
    """ops.unfold of (N, C, *spatial) against windows cut one by one (rows (c, *offset), columns row-major), and
    fold as its adjoint: ⟨unfold(x), p⟩ = ⟨x, fold(p)⟩."""
    rng = np.random.default_rng(dims)
    shape = (2, 3) + (6, 5, 7)[:dims]
    kernel, stride, padding = (3, 2, 2)[:dims], (2, 1, 3)[:dims], (1, 0, 1)[:dims]
    x = rng.standard_normal(shape)
    padded = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding))
    counts = [(n + 2 * p - k) // s + 1 for n, k, s, p in zip(shape[2:], kernel, stride, padding, strict=True)]
    expected = np.zeros((2, 3 * math.prod(kernel), math.prod(counts)))
    for column, position in enumerate(itertools.product(*map(range, counts))):
        window = tuple(slice(o * s, o * s + k) for o, s, k in zip(position, stride, kernel, strict=True))
        expected[:, :, column] = padded[(slice(None), slice(None)) + window].reshape(2, -1)
    columns = ops.unfold(x, kernel, stride, padding)
    np.testing.assert_array_equal(columns.numpy(), expected)
    p = rng.standard_normal(expected.shape)
    folded = ops.fold(p, shape[2:], kernel, stride, padding).numpy()
    assert folded.shape == shape
    np.testing.assert_allclose(np.sum(expected * p), np.sum(x * folded), rtol=1e-12)


def test_float32_stays_float32():
    x = cr.tensor(np.ones((1, 2, 3, 4, 4), np.float32), requires_grad=True)
    w = np.ones((2, 2, 2, 2, 2), np.float32)
    outs = [F.conv3d(x, w), F.conv_transpose3d(x, w), F.max_pool3d(x, 2), F.avg_pool3d(x, 2),
            F.adaptive_avg_pool3d(x, 2), F.adaptive_max_pool3d(x, 2), F.lp_pool3d(x, 2, 2), F.lp_pool1d(x[0, 0], 2, 2),
            F.dropout3d(x, 0.5)]
    for out in outs:
        assert out.dtype == np.float32
        out.sum().backward()
        assert x.grad.dtype == np.float32


def test_dropout3d_drops_whole_channels():
    x = np.ones((4, 5, 2, 3, 2))
    out = F.dropout3d(x, 0.5, rng=np.random.default_rng(0)).numpy()
    per_channel = out.reshape(4, 5, -1)
    assert set(np.unique(per_channel)) == {0.0, 2.0}
    assert np.all(per_channel.min(axis=2) == per_channel.max(axis=2))  # a channel is kept or dropped as a whole
    np.testing.assert_array_equal(F.dropout3d(x, 0.5, training=False).numpy(), x)


def test_deprecated_upsample_functions_warn_and_interpolate(torch):
    x = _x(1, 2, 3, 4)
    for name, kwargs in (("upsample", {"scale_factor": 2, "mode": "bilinear"}), ("upsample_nearest", {"size": 5}),
                         ("upsample_bilinear", {"scale_factor": 2})):
        with pytest.warns(UserWarning, match="deprecated"):
            ours = getattr(F, name)(x, **kwargs).numpy()
        with pytest.warns(UserWarning, match="deprecated"):
            theirs = getattr(torch.nn.functional, name)(torch.tensor(x), **kwargs).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


BAD = [
    (lambda: F.conv3d(np.zeros((1, 2, 3, 3)), np.zeros((2, 2, 2, 2))), ShapeError, r"weight must be 5-D"),
    (lambda: F.conv3d(np.zeros((3, 3)), np.zeros((2, 2, 2, 2, 2))), ShapeError, r"5-D input.*\(3, 3\)"),
    (lambda: F.conv3d(np.zeros((1, 3, 3, 3, 3)), np.zeros((2, 2, 2, 2, 2))), ShapeError, r"3 channels.*expects 2"),
    (lambda: F.conv3d(np.zeros((1, 2, 3, 3, 3)), np.zeros((2, 2, 2, 2, 2)), stride=(1, 2)), TypeError,
     r"stride must be an int or 3 ints"),
    (lambda: F.max_pool3d(np.zeros((1, 1, 2, 4, 4)), 3), ShapeError, r"larger than the padded input"),
    (lambda: F.avg_pool3d(np.zeros((1, 1, 4, 4, 4)), 2, padding=2), DomainError, r"at most half the kernel"),
    (lambda: F.adaptive_max_pool3d(np.zeros((1, 1, 4, 4, 4)), (2, 2)), TypeError, r"output_size"),
    (lambda: F.max_unpool2d(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)), 2), TypeError, r"indices must be int"),
    (lambda: F.max_unpool2d(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 3), np.int64), 2), ShapeError,
     r"indices of shape \(1, 1, 2, 3\)"),
    (lambda: F.max_unpool2d(np.zeros((1, 1, 2, 2)), np.full((1, 1, 2, 2), 16), 2), ShapeError,
     r"index 16 is out of range for an output of 16"),
    (lambda: F.max_unpool1d(np.zeros((1, 1, 3)), np.zeros((1, 1, 3), np.int64), 2, output_size=[4]), ValueError,
     r"invalid output_size \[4\] \(dim 0 must be between 4 and 8"),
    (lambda: F.lp_pool2d(np.zeros((1, 1, 4, 4)), 0, 2), DomainError, r"norm_type must be a nonzero"),
    (lambda: F.dropout3d(np.zeros((2, 3)), 0.5), ShapeError, r"5-D \(N, C, \.\.\.\) or 4-D"),
    (lambda: cr.nn.ZeroPad3d((1, 2)), TypeError, r"6 ints \(left, right, top, bottom, front, back\)"),
    (lambda: cr.nn.ReflectionPad1d(2)(np.zeros((1, 1, 1, 2))), ShapeError, r"3-D \(N, C, \.\.\.\) input"),
    (lambda: cr.nn.LPPool1d(0, 2), ValueError, r"norm_type"),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD, ids=[str(k) for k in range(len(BAD))])
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
