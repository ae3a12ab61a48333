"""Conv1d, Conv2d (groups, dilation, padding="same"), AvgPool2d and AdaptiveAvgPool2d against PyTorch 2.13 with
the same weights: outputs, input gradients and parameter gradients, float64 and float32; and central differences."""

from __future__ import annotations

import numpy as np
import pytest
from test_nn_normalization import TOL, _layer_agrees

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

LAYERS = {  # name -> (ours(dtype), theirs(torch), input shape)
    "Conv2d-groups": (lambda d: nn.Conv2d(4, 6, 3, groups=2, dtype=d), lambda t: t.nn.Conv2d(4, 6, 3, groups=2),
                      (2, 4, 7, 6)),
    "Conv2d-depthwise": (lambda d: nn.Conv2d(3, 3, (2, 3), padding=1, groups=3, bias=False, dtype=d),
                         lambda t: t.nn.Conv2d(3, 3, (2, 3), padding=1, groups=3, bias=False), (2, 3, 5, 5)),
    "Conv2d-dilation": (lambda d: nn.Conv2d(2, 3, 3, stride=2, padding=2, dilation=(2, 3), dtype=d),
                        lambda t: t.nn.Conv2d(2, 3, 3, stride=2, padding=2, dilation=(2, 3)), (2, 2, 9, 10)),
    "Conv2d-same-even": (lambda d: nn.Conv2d(2, 3, (2, 4), padding="same", dtype=d),
                         lambda t: t.nn.Conv2d(2, 3, (2, 4), padding="same"), (2, 2, 5, 6)),
    "Conv2d-same-dilated": (lambda d: nn.Conv2d(2, 4, 3, padding="same", dilation=2, groups=2, dtype=d),
                            lambda t: t.nn.Conv2d(2, 4, 3, padding="same", dilation=2, groups=2), (1, 2, 6, 7)),
    "Conv2d-reflect": (lambda d: nn.Conv2d(2, 3, (3, 2), padding=(2, 1), dilation=(1, 2), padding_mode="reflect",
                                           dtype=d),
                       lambda t: t.nn.Conv2d(2, 3, (3, 2), padding=(2, 1), dilation=(1, 2), padding_mode="reflect"),
                       (1, 2, 5, 6)),
    "Conv2d-replicate-same": (lambda d: nn.Conv2d(2, 4, (2, 3), padding="same", padding_mode="replicate", dtype=d),
                              lambda t: t.nn.Conv2d(2, 4, (2, 3), padding="same", padding_mode="replicate"),
                              (1, 2, 5, 6)),
    "Conv2d-circular": (lambda d: nn.Conv2d(2, 2, 3, stride=2, padding=2, groups=2, padding_mode="circular", dtype=d),
                        lambda t: t.nn.Conv2d(2, 2, 3, stride=2, padding=2, groups=2, padding_mode="circular"),
                        (2, 2, 7, 5)),
    "Conv1d-circular": (lambda d: nn.Conv1d(2, 3, 3, padding=2, padding_mode="circular", dtype=d),
                        lambda t: t.nn.Conv1d(2, 3, 3, padding=2, padding_mode="circular"), (2, 2, 5)),
    "Conv1d": (lambda d: nn.Conv1d(3, 4, 3, dtype=d), lambda t: t.nn.Conv1d(3, 4, 3), (2, 3, 8)),
    "Conv1d-all": (lambda d: nn.Conv1d(4, 2, 4, stride=2, padding=3, dilation=2, groups=2, dtype=d),
                   lambda t: t.nn.Conv1d(4, 2, 4, stride=2, padding=3, dilation=2, groups=2), (2, 4, 11)),
    "Conv1d-same": (lambda d: nn.Conv1d(2, 2, 4, padding="same", dtype=d),
                    lambda t: t.nn.Conv1d(2, 2, 4, padding="same"), (3, 2, 7)),
    "AvgPool2d": (lambda d: nn.AvgPool2d(2), lambda t: t.nn.AvgPool2d(2), (2, 3, 6, 5)),
    "AvgPool2d-pad": (lambda d: nn.AvgPool2d(3, stride=2, padding=1), lambda t: t.nn.AvgPool2d(3, 2, 1),
                      (2, 2, 7, 6)),
    "AvgPool2d-nocount": (lambda d: nn.AvgPool2d((3, 2), stride=1, padding=1, count_include_pad=False),
                          lambda t: t.nn.AvgPool2d((3, 2), 1, 1, count_include_pad=False), (1, 2, 5, 4)),
    "AdaptiveAvgPool2d": (lambda d: nn.AdaptiveAvgPool2d(2), lambda t: t.nn.AdaptiveAvgPool2d(2), (2, 3, 6, 4)),
    "AdaptiveAvgPool2d-uneven": (lambda d: nn.AdaptiveAvgPool2d((3, 4)), lambda t: t.nn.AdaptiveAvgPool2d((3, 4)),
                                 (2, 2, 7, 5)),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_agrees_with_torch(torch, name, dtype):
    make, make_t, shape = LAYERS[name]
    x = np.random.default_rng(len(name)).standard_normal(shape).astype(dtype)
    _layer_agrees(torch, make(np.dtype(dtype)), make_t(torch).to(getattr(torch, dtype)), x, TOL[dtype])


POOLING = [  # kernel, stride, padding, dilation, ceil_mode, input (H, W); chosen so no window is all padding
    (2, None, 0, 1, False, (6, 7)), (3, 2, 1, 1, False, (7, 6)), (3, 2, 1, 1, True, (8, 6)),
    ((3, 2), (2, 1), (1, 0), (2, 1), False, (9, 5)), (2, 2, 1, 2, True, (7, 8)), ((2, 3), (3, 2), 0, 1, True, (8, 7)),
    (3, 3, 1, 1, True, (10, 11)), ((1, 3), (2, 3), (0, 1), (1, 2), True, (5, 9)),
]


@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode, size", POOLING)
def test_max_pool2d_arguments_agree_with_torch(torch, kernel, stride, padding, dilation, ceil_mode, size):
    rng = np.random.default_rng(7)
    x = np.round(rng.standard_normal((2, 3) + size), 1)  # rounded: ties, where the gradient's choice shows
    xt = torch.tensor(x, requires_grad=True)
    out_t, index_t = torch.nn.functional.max_pool2d(xt, kernel, stride, padding, dilation, ceil_mode, True)
    g = rng.standard_normal(tuple(out_t.shape))
    out_t.backward(torch.tensor(g))
    xc = cr.tensor(x, requires_grad=True)
    layer = nn.MaxPool2d(kernel, stride, padding, dilation, return_indices=True, ceil_mode=ceil_mode)
    out, index = layer(xc)
    out.backward(g)
    np.testing.assert_array_equal(out.numpy(), out_t.detach().numpy())
    np.testing.assert_array_equal(index, index_t.numpy())
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-15, atol=1e-15)  # overlaps add up


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("divisor_override", [None, 5])
@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode, size",
                         [case for case in POOLING if case[3] == 1])
def test_avg_pool2d_arguments_agree_with_torch(torch, kernel, stride, padding, dilation, ceil_mode, size,
                                               count_include_pad, divisor_override):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3) + size)
    xt = torch.tensor(x, requires_grad=True)
    out_t = torch.nn.functional.avg_pool2d(xt, kernel, stride, padding, ceil_mode, count_include_pad,
                                           divisor_override)
    g = rng.standard_normal(tuple(out_t.shape))
    out_t.backward(torch.tensor(g))
    xc = cr.tensor(x, requires_grad=True)
    out = nn.AvgPool2d(kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)(xc)
    out.backward(g)
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-14, atol=1e-15)


def test_pooling_with_every_argument_agrees_with_central_differences():
    x = np.random.default_rng(9).standard_normal((1, 2, 7, 6))
    assert cr.gradcheck(lambda x: F.max_pool2d(x, (3, 2), 2, 1, (1, 2), True), x)
    assert cr.gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, True, False), x)
    assert cr.gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, True, True, 4), x)


X = np.random.default_rng(3).standard_normal((1, 4, 5, 6))
W = np.random.default_rng(4).standard_normal((4, 2, 2, 3))


@pytest.mark.parametrize("f", [
    lambda x, w: F.conv2d(x, w, None, 1, "same", (2, 1), 2),
    lambda x, w: F.conv2d(x, w, None, 2, 1, 2, 2),
    lambda x, w: F.conv1d(x[:, :, 0], w[:, :, 0], None, 1, 2, 2, 2),
    lambda x, w: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False) * w.sum(),
    lambda x, w: F.adaptive_avg_pool2d(x, (2, 4)) * w.sum(),
], ids=["same-dilated-groups", "strided-dilated-groups", "conv1d", "avg_pool2d", "adaptive"])
def test_functional_forms_agree_with_central_differences(f):
    weights = np.random.default_rng(0).standard_normal(np.shape(f(cr.tensor(X), cr.tensor(W))))
    assert cr.gradcheck(lambda x, w: f(x, w) * weights, cr.tensor(X), cr.tensor(W), atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("call, error, words", [
    (lambda: nn.Conv2d(4, 6, 3, groups=4), cr.DomainError, "groups"),
    (lambda: nn.Conv2d(4, 6, 3, stride=2, padding="same"), cr.DomainError, "stride 1"),
    (lambda: nn.Conv2d(4, 6, 3, padding="full"), ValueError, "same"),
    (lambda: nn.Conv1d(2, 2, 3)(np.ones((1, 2, 5, 5))), cr.ShapeError, "length"),
    (lambda: nn.AdaptiveAvgPool2d(4)(np.ones((3, 3))), cr.ShapeError, "expects"),
    (lambda: nn.MaxPool2d(2, padding=2), cr.DomainError, "half the kernel"),
    (lambda: nn.Conv2d(1, 1, 3, padding_mode="mirror"), ValueError, "padding_mode"),
    (lambda: nn.Conv2d(1, 1, 3, padding=3, padding_mode="reflect")(np.ones((1, 1, 3, 3))), cr.ShapeError, "reflect"),
    (lambda: nn.AvgPool2d(3, padding=2), cr.DomainError, "half the kernel"),
    (lambda: F.max_pool2d(np.ones((1, 1, 2, 2)), 3, dilation=2, padding=1), cr.ShapeError, "larger than"),
    (lambda: F.avg_pool2d(np.ones((1, 1, 4, 4)), 2, divisor_override=0), cr.DomainError, "divisor_override"),
    (lambda: F.max_pool2d(np.ones((1, 1, 4, 4), complex), 2), TypeError, "real numbers"),
])
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error, match=words):
        call()
