"""Parity cases of the 3-D layers and the remaining shape layers (chainrule/nn/layers_3d.py), merged into the sweep of
tests/nn/test_parity_sweep.py: several argument combinations each, unbatched input where PyTorch takes it."""

from __future__ import annotations

import math

import numpy as np
from parity import FIXED, Arg, Case, X

C = Case


def IDX(*shape: int, kernel: tuple, stride: tuple, padding: tuple, plane: tuple) -> Arg:
    """Indices as a max pooling with ``kernel``, ``stride`` and ``padding`` returns them for a pooled output of
    ``shape`` (N, C, *positions) or (C, *positions): one random tap inside the input of each window, flattened in an
    output ``plane`` (the unpooled size). Non-overlapping windows give distinct indices."""
    dims = len(kernel)

    def make(rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
        lead, positions = shape[:-dims], shape[-dims:]
        coordinates = []
        for axis in range(dims):
            start = np.arange(positions[axis]) * stride[axis] - padding[axis]
            low, high = np.maximum(start, 0), np.minimum(start + kernel[axis], plane[axis])
            pick = rng.integers(0, 2**31, lead + positions) % (high - low).reshape(
                (-1,) + (1,) * (dims - 1 - axis))
            coordinates.append(pick + low.reshape((-1,) + (1,) * (dims - 1 - axis)))
        return np.ravel_multi_index(tuple(coordinates), plane).astype(np.int64)
    return Arg(make, grad=False)


CASES_3D: dict[str, list[Case]] = {
    "Conv3d": [C("Conv3d", (2, 3, 2), inputs=(X(2, 2, 4, 3, 5),)),
               C("Conv3d", (4, 2, (2, 1, 3)), {"stride": (2, 1, 2), "padding": (1, 0, 2), "dilation": (1, 2, 1),
                                               "groups": 2, "bias": False}, inputs=(X(1, 4, 5, 5, 6),)),
               C("Conv3d", (2, 2, 3), {"padding": "same", "padding_mode": "reflect"}, inputs=(X(2, 4, 3, 5),)),
               C("Conv3d", (2, 3, (2, 3, 2)), {"padding": "same", "dilation": (1, 1, 2)}, inputs=(X(1, 2, 3, 4, 5),)),
               C("Conv3d", (2, 3, 2), {"padding": 1, "padding_mode": "circular"}, inputs=(X(1, 2, 3, 3, 4),)),
               C("Conv3d", (2, 3, (1, 2, 2)), {"padding": (0, 1, 1), "padding_mode": "replicate"},
                 inputs=(X(0, 2, 3, 3, 3),))],
    "ConvTranspose3d": [C("ConvTranspose3d", (3, 2, 2), inputs=(X(2, 3, 2, 3, 4),)),
                        C("ConvTranspose3d", (4, 2, (2, 3, 2)), {"stride": (2, 1, 3), "padding": (1, 0, 1),
                                                                 "output_padding": (1, 0, 2), "groups": 2,
                                                                 "dilation": (2, 1, 1), "bias": False},
                          inputs=(X(1, 4, 3, 3, 2),)),
                        C("ConvTranspose3d", (2, 3, 2), {"stride": 2}, inputs=(X(2, 3, 2, 2),))],
    "MaxPool3d": [C("MaxPool3d", (2,), inputs=(X(2, 2, 4, 5, 4),)),
                  C("MaxPool3d", ((3, 2, 2), (2, 1, 2), (1, 0, 1), (1, 2, 1)),
                    {"ceil_mode": True, "return_indices": True}, inputs=(X(1, 2, 6, 5, 5),)),
                  C("MaxPool3d", (3, 2, 1), {"return_indices": True}, inputs=(X(2, 5, 4, 6),))],
    "AvgPool3d": [C("AvgPool3d", (2,), inputs=(X(2, 2, 4, 5, 4),)),
                  C("AvgPool3d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False},
                    inputs=(X(1, 2, 6, 5, 7),)),
                  C("AvgPool3d", ((2, 1, 3),), {"stride": 1, "padding": (1, 0, 1), "divisor_override": 5},
                    inputs=(X(2, 4, 3, 5),)),
                  C("AvgPool3d", (2,), {"ceil_mode": True}, inputs=(X(1, 1, 5, 3, 4),))],
    "AdaptiveAvgPool3d": [C("AdaptiveAvgPool3d", ((2, 3, 2),), inputs=(X(2, 2, 5, 7, 4),)),
                          C("AdaptiveAvgPool3d", ((None, 2, 3),), inputs=(X(2, 4, 5, 7),)),
                          C("AdaptiveAvgPool3d", (1,), inputs=(X(1, 2, 3, 3, 3),)),
                          C("AdaptiveAvgPool3d", ((4, 5, 3),), inputs=(X(1, 2, 3, 3, 2),))],
    "AdaptiveMaxPool3d": [C("AdaptiveMaxPool3d", ((2, 3, 2),), inputs=(X(2, 2, 5, 7, 4),)),
                          C("AdaptiveMaxPool3d", ((None, 2, 3),), {"return_indices": True}, inputs=(X(2, 4, 5, 7),)),
                          C("AdaptiveMaxPool3d", ((4, 3, 2),), {"return_indices": True},
                            inputs=(X(1, 2, 3, 2, 3),))],
    "BatchNorm3d": [C("BatchNorm3d", (3,), inputs=(X(2, 3, 2, 3, 2),)),
                    C("BatchNorm3d", (3,), {"momentum": None, "affine": False}, inputs=(X(2, 3, 2, 2, 2),)),
                    C("BatchNorm3d", (3,), {"track_running_stats": False, "eps": 1e-3}, inputs=(X(1, 3, 2, 2, 3),))],
    "InstanceNorm3d": [C("InstanceNorm3d", (3,), inputs=(X(2, 3, 2, 3, 2),)),
                       C("InstanceNorm3d", (3,), {"affine": True, "track_running_stats": True, "momentum": 0.2},
                         inputs=(X(2, 3, 2, 3, 3),)),
                       C("InstanceNorm3d", (3,), inputs=(X(3, 2, 2, 3),))],
    "Dropout3d": [C("Dropout3d", (), inputs=(X(2, 3, 2, 2, 2),), mode="eval"),
                  C("Dropout3d", (0.0,), inputs=(X(3, 2, 2, 2),)),
                  C("Dropout3d", (1.0,), inputs=(X(2, 3, 2, 2, 2),), mode="train")],
    "LPPool1d": [C("LPPool1d", (2, 3), inputs=(X(2, 3, 8),)),
                 C("LPPool1d", (1.5, 3, 2), {"ceil_mode": True}, inputs=(FIXED(np.abs(np.random.default_rng(1)
                                                                              .standard_normal((2, 3, 8))) + 0.1,
                                                                              grad=True),)),
                 C("LPPool1d", (math.inf, 2), inputs=(X(3, 7),)),
                 C("LPPool1d", (1, 2, 1), inputs=(X(2, 2, 5),))],
    "LPPool2d": [C("LPPool2d", (2, 2), inputs=(X(2, 3, 4, 6),)),
                 C("LPPool2d", (3, (2, 3), (1, 2)), {"ceil_mode": True},
                   inputs=(FIXED(np.random.default_rng(2).uniform(0.2, 2.0, (1, 2, 5, 6)), grad=True),)),
                 C("LPPool2d", (-math.inf, 2), inputs=(X(2, 4, 4),))],
    "LPPool3d": [C("LPPool3d", (2, 2), inputs=(X(2, 2, 4, 4, 4),)),
                 C("LPPool3d", (1.5, (2, 1, 3), (1, 2, 2), True),
                   inputs=(FIXED(np.random.default_rng(3).uniform(0.2, 2.0, (1, 2, 3, 5, 6)), grad=True),)),
                 C("LPPool3d", (math.inf, 2), inputs=(X(2, 4, 4, 4),))],
    "MaxUnpool1d": [C("MaxUnpool1d", (2,), inputs=(X(2, 3, 4), IDX(2, 3, 4, kernel=(2,), stride=(2,), padding=(0,),
                                                                    plane=(8,)))),
                    C("MaxUnpool1d", (3, 3, 1), inputs=(X(2, 3, 4), IDX(2, 3, 4, kernel=(3,), stride=(3,),
                                                                         padding=(1,), plane=(11,))),
                      call={"output_size": (2, 3, 11)}),
                    C("MaxUnpool1d", (2,), inputs=(X(3, 4), IDX(3, 4, kernel=(2,), stride=(2,), padding=(0,),
                                                                plane=(8,))))],
    "MaxUnpool2d": [C("MaxUnpool2d", (2,), inputs=(X(2, 2, 3, 3), IDX(2, 2, 3, 3, kernel=(2, 2), stride=(2, 2),
                                                                      padding=(0, 0), plane=(6, 6)))),
                    C("MaxUnpool2d", ((2, 3), (2, 3), (0, 1)),
                      inputs=(X(1, 2, 3, 2), IDX(1, 2, 3, 2, kernel=(2, 3), stride=(2, 3), padding=(0, 1),
                                                 plane=(6, 4)))),
                    C("MaxUnpool2d", (2,), inputs=(X(2, 3, 3), IDX(2, 3, 3, kernel=(2, 2), stride=(2, 2),
                                                                   padding=(0, 0), plane=(7, 7))),
                      call={"output_size": (7, 7)})],
    "MaxUnpool3d": [C("MaxUnpool3d", (2,), inputs=(X(1, 2, 2, 2, 2), IDX(1, 2, 2, 2, 2, kernel=(2, 2, 2),
                                                                         stride=(2, 2, 2), padding=(0, 0, 0),
                                                                         plane=(4, 4, 4)))),
                    C("MaxUnpool3d", ((1, 2, 2), (1, 2, 2)),
                      inputs=(X(2, 1, 3, 2, 2), IDX(2, 1, 3, 2, 2, kernel=(1, 2, 2), stride=(1, 2, 2),
                                                    padding=(0, 0, 0), plane=(3, 4, 4)))),
                    C("MaxUnpool3d", (2,), inputs=(X(2, 2, 2, 2), IDX(2, 2, 2, 2, kernel=(2, 2, 2), stride=(2, 2, 2),
                                                                      padding=(0, 0, 0), plane=(5, 4, 4))),
                      call={"output_size": [5, 4, 4]})],
    "ZeroPad1d": [C("ZeroPad1d", ((1, 2),), inputs=(X(2, 3, 4),)), C("ZeroPad1d", (2,), inputs=(X(3, 4),)),
                  C("ZeroPad1d", ((0, 3),), inputs=(X(2, 2, 2, 3),))],
    "ZeroPad3d": [C("ZeroPad3d", ((1, 0, 2, 1, 0, 1),), inputs=(X(1, 2, 3, 3, 2),)),
                  C("ZeroPad3d", (1,), inputs=(X(2, 2, 3, 2),))],
    "ConstantPad1d": [C("ConstantPad1d", ((1, 2), 3.5), inputs=(X(2, 3, 4),)),
                      C("ConstantPad1d", (2, -1.0), inputs=(X(3, 4),)),
                      C("ConstantPad1d", ((-1, 2), 0.5), inputs=(X(2, 3, 4),))],
    "ConstantPad3d": [C("ConstantPad3d", ((1, 0, 2, 1, 0, 1), 2.0), inputs=(X(1, 2, 3, 3, 2),)),
                      C("ConstantPad3d", (1, -0.5), inputs=(X(2, 2, 3, 2),))],
    "ReflectionPad1d": [C("ReflectionPad1d", ((1, 2),), inputs=(X(2, 3, 4),)),
                        C("ReflectionPad1d", (3,), inputs=(X(3, 4),))],
    "ReflectionPad3d": [C("ReflectionPad3d", ((1, 0, 2, 1, 0, 1),), inputs=(X(1, 2, 3, 3, 2),)),
                        C("ReflectionPad3d", (1,), inputs=(X(2, 3, 3, 2),))],
    "ReplicationPad1d": [C("ReplicationPad1d", ((1, 2),), inputs=(X(2, 3, 4),)),
                         C("ReplicationPad1d", (3,), inputs=(X(3, 2),))],
    "ReplicationPad3d": [C("ReplicationPad3d", ((1, 0, 2, 1, 0, 3),), inputs=(X(1, 2, 3, 3, 2),)),
                         C("ReplicationPad3d", (1,), inputs=(X(2, 3, 3, 2),))],
    "CircularPad1d": [C("CircularPad1d", ((1, 2),), inputs=(X(2, 3, 4),)),
                      C("CircularPad1d", (3,), inputs=(X(3, 4),))],
    "CircularPad3d": [C("CircularPad3d", ((1, 0, 2, 1, 0, 1),), inputs=(X(1, 2, 3, 3, 2),)),
                      C("CircularPad3d", (1,), inputs=(X(2, 3, 3, 2),))],
    "Softmax2d": [C("Softmax2d", inputs=(X(2, 3, 4, 2),)), C("Softmax2d", inputs=(X(3, 2, 4),))],
    "UpsamplingNearest2d": [C("UpsamplingNearest2d", (), {"scale_factor": 2}, inputs=(X(2, 3, 2, 3),)),
                            C("UpsamplingNearest2d", ((5, 4),), inputs=(X(1, 2, 3, 2),)),
                            C("UpsamplingNearest2d", (), {"size": 7}, inputs=(X(1, 2, 3, 4),))],
    "UpsamplingBilinear2d": [C("UpsamplingBilinear2d", (), {"scale_factor": 2}, inputs=(X(2, 3, 2, 3),)),
                             C("UpsamplingBilinear2d", ((5, 4),), inputs=(X(1, 2, 3, 2),)),
                             C("UpsamplingBilinear2d", (), {"scale_factor": (1.5, 2.0)}, inputs=(X(1, 1, 4, 3),))],
}

MORE_CASES_3D = [  # arguments of the forward call, ties and repeated indices
    C("ConvTranspose3d", (2, 3, 3), {"stride": 2, "padding": 1}, inputs=(X(1, 2, 3, 4, 3),),
      call={"output_size": (6, 8, 5)}),
    C("ConvTranspose3d", (2, 1, 2), {"stride": (3, 1, 2)}, inputs=(X(2, 2, 3, 2),), call={"output_size": (1, 7, 4, 5)}),
    C("MaxPool3d", (2, 1), {"return_indices": True}, differences=False,  # ties: the first maximum, as PyTorch
      inputs=(FIXED(np.round(np.random.default_rng(4).standard_normal((1, 2, 3, 4, 3)), 0), grad=True),)),
    # windows that overlap pick one position twice: the last value written stays, and both get its gradient (a
    # gather, PyTorch's backward; not the derivative of the values, so no central differences)
    C("MaxUnpool1d", (2, 1), inputs=(X(1, 2, 3), FIXED([[[1, 1, 2], [0, 2, 2]]])), differences=False),
    C("MaxUnpool2d", (2, 1), inputs=(X(1, 1, 2, 2), FIXED([[[[4, 4], [4, 8]]]])), differences=False),
]

ERROR_CASES_3D = [  # bad input PyTorch rejects
    C("Conv3d", (3, 2, 2), inputs=(X(1, 2, 3, 3, 3),)), C("Conv3d", (1, 2, 3), inputs=(X(1, 1, 2, 5, 5),)),
    C("MaxPool3d", (2,), inputs=(X(4, 4),)), C("AvgPool3d", (3,), inputs=(X(1, 1, 2, 4, 4),)),
    C("ConvTranspose3d", (2, 3, 2), inputs=(X(1, 3, 2, 2, 2),)), C("BatchNorm3d", (3,), inputs=(X(2, 3, 4, 4),)),
    C("ReflectionPad1d", (3,), inputs=(X(1, 2, 3),)), C("ReflectionPad3d", (1,), inputs=(X(2, 3),)),
    C("MaxUnpool2d", (2,), inputs=(X(1, 1, 2, 2), FIXED([[[[0, 1], [2, 99]]]]))),
    C("Softmax2d", inputs=(X(3, 4),)), C("LPPool2d", (2, 3), inputs=(X(1, 1, 2, 2),)),
]
