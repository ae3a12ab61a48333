"""Conv1d, Conv2d (groups, dilation, padding="same"), AvgPool2d and AdaptiveAvgPool2d against PyTorch 2.13 with
the same weights: outputs, input gradients and parameter gradients, float64 and float32; and central differences."""

from __future__ import annotations

import numpy as np
import pytest
from test_nn_normalization import TOL, _same_weights, _step

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
    ours, theirs = make(np.dtype(dtype)), make_t(torch).to(getattr(torch, dtype))
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    _same_weights(torch, ours, theirs)
    x = np.random.default_rng(len(name)).standard_normal(shape).astype(dtype)
    _step(torch, ours, theirs, x, TOL[dtype], 0)


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
    (lambda: nn.AdaptiveAvgPool2d(4)(np.ones((1, 1, 3, 3))), cr.ShapeError, "at least"),
])
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error, match=words):
        call()
