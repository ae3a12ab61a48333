"""Every layer and loss of ``cr.nn`` against its PyTorch 2.13 twin, built with the same constructor arguments and
given the same weights: outputs, input and parameter gradients, buffers afterwards, state_dict keys and order, in
float64 (rtol 1e-10) and float32, in training and evaluation mode, for several argument combinations each, batch size
1, unbatched input where PyTorch takes it, and empty batches. The machinery is in ``parity.py``."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from cases_3d import CASES_3D, ERROR_CASES_3D, MORE_CASES_3D
from parity import FIXED, INT, MASK, POS, SIGN, Case, U, X, check_case, check_error

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

C = Case
# PyTorch's float64 kernels of hardsigmoid' and celu use float32 constants (1/6; the alpha, 1/alpha), so their float64
# gradients are good to ~3e-8 relative only; ours are exact (tests/nn/test_parity_sweep.py checks them against
# central differences too)
FLOAT32_CONSTANT = 1e3
CASES: dict[str, list[Case]] = {
    # ----------------------------------------------------------------------------------------------------- layers
    "Linear": [C("Linear", (4, 3), inputs=(X(5, 4),)), C("Linear", (4, 3), {"bias": False}, inputs=(X(2, 3, 4),)),
               C("Linear", (4, 3), inputs=(X(4),)), C("Linear", (4, 2), inputs=(X(0, 4),))],
    "Bilinear": [C("Bilinear", (3, 4, 2), inputs=(X(5, 3), X(5, 4))),
                 C("Bilinear", (3, 4, 2), {"bias": False}, inputs=(X(2, 3, 3), X(2, 3, 4))),
                 C("Bilinear", (3, 4, 2), inputs=(X(3), X(4)))],
    "Identity": [C("Identity", (3,), {"x": 1}, inputs=(X(2, 3),))],
    "Flatten": [C("Flatten", inputs=(X(2, 3, 4),)), C("Flatten", (0, -2), inputs=(X(2, 3, 4),))],
    "Unflatten": [C("Unflatten", (1, (2, 3)), inputs=(X(2, 6),)), C("Unflatten", (-1, (2, -1)), inputs=(X(2, 3, 4),))],
    "Conv1d": [C("Conv1d", (3, 4, 3), inputs=(X(2, 3, 8),)),
               C("Conv1d", (4, 2, 3), {"stride": 2, "padding": 2, "dilation": 2, "groups": 2, "bias": False},
                 inputs=(X(1, 4, 9),)),
               C("Conv1d", (2, 3, 3), {"padding": "same", "padding_mode": "reflect"}, inputs=(X(2, 7),)),
               C("Conv1d", (2, 3, 3), {"padding": 1, "padding_mode": "replicate"}, inputs=(X(0, 2, 7),))],
    "Conv2d": [C("Conv2d", (3, 4, 3), inputs=(X(2, 3, 6, 5),)),
               C("Conv2d", (4, 6, (2, 3)), {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2), "groups": 2},
                 inputs=(X(1, 4, 7, 6),)),
               C("Conv2d", (2, 2, 3), {"padding": "same", "padding_mode": "circular", "bias": False},
                 inputs=(X(2, 5, 6),)),
               C("Conv2d", (2, 3, 3), {"padding": "valid"}, inputs=(X(0, 2, 5, 5),))],
    "ConvTranspose1d": [C("ConvTranspose1d", (3, 4, 3), inputs=(X(2, 3, 5),)),
                        C("ConvTranspose1d", (4, 2, 3), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2,
                                                         "dilation": 2, "bias": False}, inputs=(X(1, 4, 5),)),
                        C("ConvTranspose1d", (2, 3, 2), {"stride": 3}, inputs=(X(2, 4),))],
    "ConvTranspose2d": [C("ConvTranspose2d", (3, 4, 3), inputs=(X(2, 3, 4, 5),)),
                        C("ConvTranspose2d", (4, 2, (2, 3)), {"stride": (2, 3), "padding": (1, 0), "groups": 2,
                                                              "output_padding": (1, 2), "dilation": (2, 1)},
                          inputs=(X(1, 4, 4, 3),)),
                        C("ConvTranspose2d", (2, 3, 2), {"stride": 2, "bias": False}, inputs=(X(2, 3, 3),))],
    "Fold": [C("Fold", ((4, 5), (2, 3)), inputs=(X(2, 12, 9),)),
             C("Fold", ((5, 5), 2), {"stride": 2, "padding": 1, "dilation": 1}, inputs=(X(2, 8, 9),)),
             C("Fold", ((4, 5), (2, 3)), inputs=(X(12, 9),))],
    "Unfold": [C("Unfold", ((2, 3),), inputs=(X(2, 3, 4, 5),)),
               C("Unfold", (2,), {"stride": 2, "padding": 1, "dilation": (1, 2)}, inputs=(X(1, 2, 5, 6),)),
               C("Unfold", (2,), inputs=(X(2, 4, 4),))],
    "MaxPool1d": [C("MaxPool1d", (2,), inputs=(X(2, 3, 7),)),
                  C("MaxPool1d", (3, 2, 1), {"dilation": 2, "ceil_mode": True, "return_indices": True},
                    inputs=(X(2, 3, 9),)),
                  C("MaxPool1d", (3,), {"stride": 1}, inputs=(X(3, 7),))],
    "MaxPool2d": [C("MaxPool2d", (2,), inputs=(X(2, 3, 6, 7),)),
                  C("MaxPool2d", ((3, 2), (2, 1), (1, 0), (1, 2)), {"ceil_mode": True, "return_indices": True},
                    inputs=(X(1, 2, 7, 6),)),
                  C("MaxPool2d", (3, 2, 1), inputs=(X(2, 6, 5),))],
    "AvgPool1d": [C("AvgPool1d", (3,), inputs=(X(2, 3, 8),)),
                  C("AvgPool1d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}, inputs=(X(2, 3, 8),)),
                  C("AvgPool1d", (2,), inputs=(X(3, 8),))],
    "AvgPool2d": [C("AvgPool2d", (2,), inputs=(X(2, 3, 6, 5),)),
                  C("AvgPool2d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}, inputs=(X(1, 2, 8, 7),)),
                  C("AvgPool2d", ((2, 3),), {"divisor_override": 5}, inputs=(X(3, 6, 6),))],
    "AdaptiveAvgPool1d": [C("AdaptiveAvgPool1d", (3,), inputs=(X(2, 3, 8),)),
                          C("AdaptiveAvgPool1d", (4,), inputs=(X(3, 7),)),
                          C("AdaptiveAvgPool1d", (5,), inputs=(X(2, 3),))],
    "AdaptiveAvgPool2d": [C("AdaptiveAvgPool2d", ((3, 2),), inputs=(X(2, 3, 7, 5),)),
                          C("AdaptiveAvgPool2d", ((None, 2),), inputs=(X(2, 5, 7),)),
                          C("AdaptiveAvgPool2d", (1,), inputs=(X(1, 2, 3, 3),)),
                          C("AdaptiveAvgPool2d", ((5, 4),), inputs=(X(1, 2, 3, 3),))],
    "AdaptiveMaxPool1d": [C("AdaptiveMaxPool1d", (3,), inputs=(X(2, 3, 8),)),
                          C("AdaptiveMaxPool1d", (4,), {"return_indices": True}, inputs=(X(3, 7),)),
                          C("AdaptiveMaxPool1d", (5,), inputs=(X(2, 2, 3),))],
    "AdaptiveMaxPool2d": [C("AdaptiveMaxPool2d", ((3, 2),), inputs=(X(2, 3, 7, 5),)),
                          C("AdaptiveMaxPool2d", ((None, 2),), {"return_indices": True}, inputs=(X(2, 5, 7),)),
                          C("AdaptiveMaxPool2d", ((4, 3),), {"return_indices": True}, inputs=(X(1, 2, 3, 2),))],
    "PixelShuffle": [C("PixelShuffle", (2,), inputs=(X(2, 8, 3, 2),)), C("PixelShuffle", (2,), inputs=(X(4, 2, 3),))],
    "PixelUnshuffle": [C("PixelUnshuffle", (2,), inputs=(X(2, 2, 4, 6),)),
                       C("PixelUnshuffle", (3,), inputs=(X(1, 3, 6),))],
    "ChannelShuffle": [C("ChannelShuffle", (2,), inputs=(X(2, 6, 3, 2),)),
                       C("ChannelShuffle", (3,), inputs=(X(2, 6, 4),))],
    "Upsample": [C("Upsample", (), {"scale_factor": 2}, inputs=(X(2, 3, 4),)),
                 C("Upsample", ((5, 7),), {"mode": "bilinear"}, inputs=(X(2, 3, 3, 4),)),
                 C("Upsample", (), {"scale_factor": (1.5, 2.5), "mode": "bilinear", "align_corners": True},
                   inputs=(X(1, 2, 3, 4),)),
                 C("Upsample", (7,), {"mode": "linear"}, inputs=(X(2, 3, 4),)),
                 C("Upsample", ((5, 6),), {"mode": "bicubic"}, inputs=(X(1, 2, 3, 4),)),
                 C("Upsample", (), {"scale_factor": 1.7, "mode": "nearest-exact"}, inputs=(X(1, 2, 3, 4),)),
                 C("Upsample", ((3, 5),), {"mode": "bicubic", "align_corners": True}, inputs=(X(1, 2, 5, 4),)),
                 C("Upsample", ((2, 5),), {"mode": "area"}, inputs=(X(1, 2, 5, 4),)),
                 C("Upsample", (5,), {"mode": "area"}, inputs=(X(2, 2, 7),))],
    "ZeroPad2d": [C("ZeroPad2d", ((1, 2, 0, 3),), inputs=(X(2, 3, 4, 5),)), C("ZeroPad2d", (1,), inputs=(X(3, 4, 5),))],
    "ConstantPad2d": [C("ConstantPad2d", ((1, 0, 2, 1), 3.5), inputs=(X(2, 3, 4, 5),))],
    "ReflectionPad2d": [C("ReflectionPad2d", ((1, 2, 0, 3),), inputs=(X(2, 3, 4, 5),)),
                        C("ReflectionPad2d", (2,), inputs=(X(3, 4, 5),))],
    "ReplicationPad2d": [C("ReplicationPad2d", ((1, 2, 0, 3),), inputs=(X(2, 3, 4, 5),))],
    "CircularPad2d": [C("CircularPad2d", ((1, 2, 0, 3),), inputs=(X(2, 3, 4, 5),)),
                      C("CircularPad2d", (1,), inputs=(X(3, 4, 5),))],
    # ------------------------------------------------------------------------------------------------- dropouts
    "Dropout": [C("Dropout", (), inputs=(X(3, 4),), mode="eval"), C("Dropout", (0.0,), inputs=(X(3, 4),)),
                C("Dropout", (1.0,), inputs=(X(3, 4),), mode="train")],
    "Dropout1d": [C("Dropout1d", (), inputs=(X(2, 3, 4),), mode="eval"), C("Dropout1d", (0.0,), inputs=(X(3, 4),)),
                  C("Dropout1d", (1.0,), inputs=(X(2, 3, 4),), mode="train")],
    "Dropout2d": [C("Dropout2d", (), inputs=(X(2, 3, 4, 2),), mode="eval"),
                  C("Dropout2d", (1.0,), inputs=(X(2, 3, 4, 2),), mode="train")],
    "AlphaDropout": [C("AlphaDropout", (), inputs=(X(3, 4),), mode="eval"),
                     C("AlphaDropout", (0.0,), inputs=(X(3, 4),))],
    # ------------------------------------------------------------------------------------------------ pointwise
    "ReLU": [C("ReLU", inputs=(X(3, 4),))], "ReLU6": [C("ReLU6", inputs=(X(3, 4, scale=5),))],
    "Sigmoid": [C("Sigmoid", inputs=(X(3, 4),))], "Tanh": [C("Tanh", inputs=(X(3, 4),))],
    "LeakyReLU": [C("LeakyReLU", inputs=(X(3, 4),)), C("LeakyReLU", (0.2,), inputs=(X(3, 4),))],
    "GELU": [C("GELU", inputs=(X(3, 4),)), C("GELU", ("tanh",), inputs=(X(3, 4),))],
    "SiLU": [C("SiLU", inputs=(X(3, 4),))], "Mish": [C("Mish", inputs=(X(3, 4),))],
    "Softplus": [C("Softplus", inputs=(X(3, 4),)), C("Softplus", (2.0, 1.0), inputs=(X(3, 4),))],
    "ELU": [C("ELU", inputs=(X(3, 4),)), C("ELU", (0.5,), inputs=(X(3, 4),))],
    "CELU": [C("CELU", (0.7,), inputs=(X(3, 4),), tol=FLOAT32_CONSTANT)], "SELU": [C("SELU", inputs=(X(3, 4),))],
    "GLU": [C("GLU", inputs=(X(3, 4),)), C("GLU", (0,), inputs=(X(4, 3),))],
    "Hardshrink": [C("Hardshrink", inputs=(X(3, 4),)), C("Hardshrink", (0.3,), inputs=(X(3, 4),))],
    "Softshrink": [C("Softshrink", inputs=(X(3, 4),)), C("Softshrink", (0.3,), inputs=(X(3, 4),))],
    "Hardsigmoid": [C("Hardsigmoid", inputs=(X(3, 4, scale=4),), tol=FLOAT32_CONSTANT)],
    "Hardswish": [C("Hardswish", inputs=(X(3, 4, scale=4),))],
    "Hardtanh": [C("Hardtanh", inputs=(X(3, 4),)), C("Hardtanh", (-0.5, 2.0), inputs=(X(3, 4, scale=2),))],
    "LogSigmoid": [C("LogSigmoid", inputs=(X(3, 4),))],
    "Softsign": [C("Softsign", inputs=(X(3, 4),))], "Tanhshrink": [C("Tanhshrink", inputs=(X(3, 4),))],
    "Threshold": [C("Threshold", (0.1, 20.0), inputs=(X(3, 4),))],
    "PReLU": [C("PReLU", inputs=(X(3, 4),)), C("PReLU", (4, 0.1), inputs=(X(2, 4, 3),)), C("PReLU", inputs=(X(3),))],
    "Softmax": [C("Softmax", (1,), inputs=(X(2, 3, 4),)), C("Softmax", (-1,), inputs=(X(3, 4),)),
                C("Softmax", (0,), inputs=(X(4),))],
    "LogSoftmax": [C("LogSoftmax", (1,), inputs=(X(2, 3, 4),)), C("LogSoftmax", (-1,), inputs=(X(3, 4),))],
    "Softmin": [C("Softmin", (1,), inputs=(X(2, 3, 4),)), C("Softmin", (0,), inputs=(X(3, 4),))],
    "CosineSimilarity": [C("CosineSimilarity", inputs=(X(3, 4), X(3, 4))),
                         C("CosineSimilarity", (0, 1e-3), inputs=(X(4, 3), X(4, 1)))],
    "PairwiseDistance": [C("PairwiseDistance", inputs=(X(3, 4), X(3, 4))),
                         C("PairwiseDistance", (1.0, 1e-3, True), inputs=(X(3, 4), X(1, 4))),
                         C("PairwiseDistance", (3.0,), inputs=(X(4), X(4)))],
    # -------------------------------------------------------------------------------------------- normalization
    "BatchNorm1d": [C("BatchNorm1d", (3,), inputs=(X(4, 3),)), C("BatchNorm1d", (3,), inputs=(X(4, 3, 5),)),
                    C("BatchNorm1d", (3,), {"momentum": None, "affine": False}, inputs=(X(4, 3),)),
                    C("BatchNorm1d", (3,), {"track_running_stats": False, "bias": False}, inputs=(X(4, 3, 2),))],
    "BatchNorm2d": [C("BatchNorm2d", (3,), inputs=(X(2, 3, 4, 2),)),
                    C("BatchNorm2d", (3,), {"momentum": 0.3, "eps": 1e-3}, inputs=(X(1, 3, 2, 2),))],
    "InstanceNorm1d": [C("InstanceNorm1d", (3,), inputs=(X(2, 3, 5),)),
                       C("InstanceNorm1d", (3,), {"affine": True, "track_running_stats": True}, inputs=(X(2, 3, 5),)),
                       C("InstanceNorm1d", (3,), inputs=(X(3, 5),))],
    "InstanceNorm2d": [C("InstanceNorm2d", (3,), inputs=(X(2, 3, 4, 3),)),
                       C("InstanceNorm2d", (3,), {"affine": True, "track_running_stats": True, "momentum": 0.2},
                         inputs=(X(2, 3, 4, 3),))],
    "LayerNorm": [C("LayerNorm", (4,), inputs=(X(3, 4),)), C("LayerNorm", ((3, 4),), {"bias": False},
                                                               inputs=(X(2, 3, 4),)),
                  C("LayerNorm", (4,), {"elementwise_affine": False, "eps": 1e-3}, inputs=(X(2, 4),))],
    "RMSNorm": [C("RMSNorm", (4,), inputs=(X(3, 4),)), C("RMSNorm", ((3, 4),), {"eps": 1e-3}, inputs=(X(2, 3, 4),)),
                C("RMSNorm", (4,), {"elementwise_affine": False}, inputs=(X(2, 4),))],
    "GroupNorm": [C("GroupNorm", (2, 4), inputs=(X(3, 4, 5),)), C("GroupNorm", (1, 3), {"affine": False},
                                                                   inputs=(X(2, 3, 2, 2),)),
                  C("GroupNorm", (1, 3), {"eps": 1e-3}, inputs=(X(2, 3),))],
    "LocalResponseNorm": [C("LocalResponseNorm", (3,), inputs=(X(2, 5, 4),)),
                          C("LocalResponseNorm", (2, 1e-2, 0.5, 2.0), inputs=(X(2, 4, 3, 3),))],
    "Embedding": [C("Embedding", (10, 3), inputs=(INT(10, 2, 4),)),
                  C("Embedding", (10, 3), {"padding_idx": 1}, inputs=(INT(10, fixed=[[1, 2, 1], [3, 1, 2]]),)),
                  C("Embedding", (10, 3), {"scale_grad_by_freq": True}, inputs=(INT(10, fixed=[1, 2, 1, 1]),)),
                  C("Embedding", (10, 3), {"max_norm": 1.0}, inputs=(INT(10, fixed=[1, 2, 5]),))],
    # ------------------------------------------------------------------------------------------------ recurrent
    "RNN": [C("RNN", (3, 4), inputs=(X(5, 2, 3),)),
            C("RNN", (3, 4, 2), {"nonlinearity": "relu", "batch_first": True, "bidirectional": True},
              inputs=(X(2, 5, 3), X(4, 2, 4))),
            C("RNN", (3, 4), {"bias": False}, inputs=(X(5, 3),))],
    "LSTM": [C("LSTM", (3, 4), inputs=(X(5, 2, 3),)),
             C("LSTM", (3, 4, 2), {"batch_first": True, "bidirectional": True}, inputs=(X(2, 5, 3),)),
             C("LSTM", (3, 4), {"bias": False}, inputs=(X(5, 3),)),
             C("LSTM", (3, 4), {"proj_size": 2}, inputs=(X(5, 2, 3),))],
    "GRU": [C("GRU", (3, 4), inputs=(X(5, 2, 3),)),
            C("GRU", (3, 4, 2), {"batch_first": True, "bidirectional": True}, inputs=(X(2, 5, 3), X(4, 2, 4))),
            C("GRU", (3, 4), {"bias": False}, inputs=(X(5, 3),))],
    "RNNCell": [C("RNNCell", (3, 4), inputs=(X(2, 3), X(2, 4))), C("RNNCell", (3, 4, False, "relu"), inputs=(X(3),))],
    "LSTMCell": [C("LSTMCell", (3, 4), inputs=(X(2, 3),)), C("LSTMCell", (3, 4, False), inputs=(X(3),))],
    "GRUCell": [C("GRUCell", (3, 4), inputs=(X(2, 3), X(2, 4))), C("GRUCell", (3, 4, False), inputs=(X(3),))],
    # ------------------------------------------------------------------------------------------------ attention
    "MultiheadAttention": [
        C("MultiheadAttention", (4, 2), inputs=(X(3, 2, 4), X(5, 2, 4), X(5, 2, 4))),
        C("MultiheadAttention", (4, 2), {"batch_first": True, "kdim": 3, "vdim": 5},
          inputs=(X(2, 3, 4), X(2, 5, 3), X(2, 5, 5)),
          call={"key_padding_mask": MASK(2, 5, fixed=[[0, 0, 1, 0, 1], [0, 0, 0, 0, 0]]),
                "average_attn_weights": False}),
        C("MultiheadAttention", (4, 1), {"bias": False, "add_bias_kv": True, "add_zero_attn": True},
          inputs=(X(3, 4), X(3, 4), X(3, 4)), call={"attn_mask": MASK(3, 3, fixed=np.triu(np.ones((3, 3)), 1))}),
        C("MultiheadAttention", (4, 2), inputs=(X(3, 2, 4), X(3, 2, 4), X(3, 2, 4)),
          call={"need_weights": False, "attn_mask": X(3, 3)}),
        C("MultiheadAttention", (4, 2), {"dropout": 0.5}, inputs=(X(3, 2, 4), X(3, 2, 4), X(3, 2, 4)), mode="eval")],
    "TransformerEncoderLayer": [
        C("TransformerEncoderLayer", (4, 2, 8, 0.0), inputs=(X(3, 2, 4),)),
        C("TransformerEncoderLayer", (4, 2, 8, 0.0), {"batch_first": True, "norm_first": True, "activation": "gelu"},
          inputs=(X(2, 3, 4),), call={"src_key_padding_mask": MASK(2, 3, fixed=[[0, 0, 1], [0, 0, 0]])}),
        C("TransformerEncoderLayer", (4, 2, 8), {"bias": False}, inputs=(X(3, 4),), mode="eval",
          call={"src_mask": MASK(3, 3, fixed=np.triu(np.ones((3, 3)), 1))})],
    "TransformerEncoder": [
        C("TransformerEncoder", build=lambda torch: _encoders(torch, 2, norm=False), inputs=(X(3, 2, 4),)),
        C("TransformerEncoder", build=lambda torch: _encoders(torch, 2, norm=True), inputs=(X(3, 2, 4),),
          call={"mask": MASK(3, 3, fixed=np.triu(np.ones((3, 3)), 1))}, mode="eval")],
    # --------------------------------------------------------------------------------------------------- losses
    "MSELoss": [C("MSELoss", (), {"reduction": r}, inputs=(X(3, 4), X(3, 4))) for r in ("mean", "sum", "none")],
    "L1Loss": [C("L1Loss", (), {"reduction": r}, inputs=(X(3, 4), X(3, 4))) for r in ("mean", "sum", "none")],
    "HuberLoss": [C("HuberLoss", (), {"reduction": r, "delta": 0.5}, inputs=(X(3, 4), X(3, 4)))
                  for r in ("mean", "sum", "none")],
    "SmoothL1Loss": [C("SmoothL1Loss", (), {"reduction": r, "beta": b}, inputs=(X(3, 4), X(3, 4)))
                     for r, b in (("mean", 1.0), ("sum", 0.5), ("none", 0.0))],
    "BCELoss": [C("BCELoss", (), {"reduction": "sum"}, inputs=(U(3, 4, grad=True), U(3, 4))),
                C("BCELoss", (), {"weight": np.arange(1.0, 5.0)}, inputs=(U(3, 4, grad=True), U(3, 4))),
                C("BCELoss", (), {"reduction": "none"}, inputs=(U(4, grad=True), FIXED([0.0, 1.0, 1.0, 0.0])))],
    "BCEWithLogitsLoss": [C("BCEWithLogitsLoss", (), {"reduction": r}, inputs=(X(3, 4), U(3, 4)))
                          for r in ("mean", "sum", "none")]
    + [C("BCEWithLogitsLoss", (), {"pos_weight": np.array([1.0, 2.0, 0.5, 3.0]), "weight": np.arange(1.0, 5.0)},
         inputs=(X(3, 4), U(3, 4)))],
    "CrossEntropyLoss": [
        C("CrossEntropyLoss", (), {"reduction": r}, inputs=(X(5, 4), INT(4, 5))) for r in ("mean", "sum", "none")] + [
        C("CrossEntropyLoss", (), {"weight": np.array([1.0, 2.0, 0.5, 3.0]), "ignore_index": 1,
                                   "label_smoothing": 0.2}, inputs=(X(6, 4), INT(4, fixed=[0, 1, 2, 3, 1, 2]))),
        C("CrossEntropyLoss", (), {"label_smoothing": 0.1, "reduction": "sum"}, inputs=(X(2, 4, 3), INT(4, 2, 3))),
        C("CrossEntropyLoss", (), {"weight": np.array([1.0, 2.0, 0.5])}, inputs=(X(4, 3), U(4, 3))),
        C("CrossEntropyLoss", (), {"label_smoothing": 0.3}, inputs=(X(4, 3), U(4, 3))),
        C("CrossEntropyLoss", (), inputs=(X(4), INT(4, fixed=2))),
        C("CrossEntropyLoss", (), {"ignore_index": 2}, inputs=(X(3, 4), INT(4, fixed=[2, 2, 2])))],
    "NLLLoss": [
        C("NLLLoss", (), {"reduction": r}, inputs=(X(5, 4), INT(4, 5))) for r in ("mean", "sum", "none")] + [
        C("NLLLoss", (), {"weight": np.array([1.0, 2.0, 0.5, 3.0]), "ignore_index": 1},
          inputs=(X(6, 4), INT(4, fixed=[0, 1, 2, 3, 1, 2]))),
        C("NLLLoss", (), inputs=(X(2, 4, 3, 2), INT(4, 2, 3, 2)))],
    "KLDivLoss": [C("KLDivLoss", (), {"reduction": r}, inputs=(X(3, 4), U(3, 4)))
                  for r in ("mean", "sum", "none", "batchmean")]
    + [C("KLDivLoss", (), {"log_target": True}, inputs=(X(3, 4), X(3, 4)))],
    "PoissonNLLLoss": [C("PoissonNLLLoss", (), inputs=(X(3, 4), POS(3, 4, grad=False))),
                       C("PoissonNLLLoss", (False, True), {"reduction": "sum"},
                         inputs=(POS(3, 4), POS(3, 4, grad=False)))],
    "GaussianNLLLoss": [C("GaussianNLLLoss", (), inputs=(X(3, 4), X(3, 4), POS(3, 4))),
                        C("GaussianNLLLoss", (), {"full": True, "reduction": "sum"},
                          inputs=(X(3, 4), X(3, 4), POS(3, 1))),
                        C("GaussianNLLLoss", (), {"reduction": "none"}, inputs=(X(4), X(4), POS(4)))],
    "CosineEmbeddingLoss": [C("CosineEmbeddingLoss", (), {"margin": m, "reduction": r},
                              inputs=(X(3, 4), X(3, 4), SIGN(3)))
                            for m, r in ((0.0, "mean"), (0.2, "sum"), (-0.1, "none"))],
    "HingeEmbeddingLoss": [C("HingeEmbeddingLoss", (), {"margin": m, "reduction": r}, inputs=(X(3, 4), SIGN(3, 4)))
                           for m, r in ((1.0, "mean"), (0.5, "sum"), (2.0, "none"))],
    "MarginRankingLoss": [C("MarginRankingLoss", (), {"margin": m, "reduction": r}, inputs=(X(5), X(5), SIGN(5)))
                          for m, r in ((0.0, "mean"), (0.3, "sum"), (0.1, "none"))],
    "SoftMarginLoss": [C("SoftMarginLoss", (), {"reduction": r}, inputs=(X(3, 4), SIGN(3, 4)))
                       for r in ("mean", "sum", "none")],
    "MultiLabelSoftMarginLoss": [C("MultiLabelSoftMarginLoss", (), inputs=(X(3, 4), U(3, 4))),
                                 C("MultiLabelSoftMarginLoss", (), {"weight": np.arange(1.0, 5.0), "reduction": "none"},
                                   inputs=(X(3, 4), INT(2, 3, 4)))],
    "MultiMarginLoss": [C("MultiMarginLoss", (), inputs=(X(3, 4), INT(4, 3))),
                        C("MultiMarginLoss", (2, 0.5), {"weight": np.arange(1.0, 5.0), "reduction": "sum"},
                          inputs=(X(3, 4), INT(4, 3))),
                        C("MultiMarginLoss", (), {"reduction": "none"}, inputs=(X(4), INT(4, fixed=1)))],
    "TripletMarginLoss": [C("TripletMarginLoss", (), inputs=(X(3, 4), X(3, 4), X(3, 4))),
                          C("TripletMarginLoss", (0.5, 1.0), {"swap": True, "reduction": "none"},
                            inputs=(X(3, 4), X(3, 4), X(3, 4))),
                          C("TripletMarginLoss", (), {"p": 3.0, "eps": 1e-3, "reduction": "sum"},
                            inputs=(X(4), X(4), X(4)))],
}

CASES.update(CASES_3D)  # the 3-D layers and the remaining shape layers (cases_3d.py)


def _encoders(torch, n, norm):
    torch.manual_seed(0)
    layer_t = torch.nn.TransformerEncoderLayer(4, 2, 8, 0.0)
    theirs = torch.nn.TransformerEncoder(layer_t, n, torch.nn.LayerNorm(4) if norm else None,
                                         enable_nested_tensor=False)
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8, 0.0), n, nn.LayerNorm(4) if norm else None,
                                 enable_nested_tensor=False)
    return ours, theirs


def _decoders(torch, n, norm):
    torch.manual_seed(0)
    layer_t = torch.nn.TransformerDecoderLayer(4, 2, 8, 0.0, norm_first=True)
    theirs = torch.nn.TransformerDecoder(layer_t, n, torch.nn.LayerNorm(4) if norm else None)
    ours = nn.TransformerDecoder(nn.TransformerDecoderLayer(4, 2, 8, 0.0, norm_first=True), n,
                                 nn.LayerNorm(4) if norm else None)
    return ours, theirs


def _lazy(name, args, shape):
    """A lazy layer of each library, built by a first call on zeros of ``shape``."""
    def build(torch):
        torch.manual_seed(0)
        theirs, ours = getattr(torch.nn, name)(*args), getattr(nn, name)(*args)
        theirs(torch.zeros(shape))
        ours(np.zeros(shape, np.float32))
        return ours, theirs
    return build


def _ctc(torch, **kwargs):
    """CTCLoss after log_softmax in both libraries: PyTorch's gradient is the exact one only through log_softmax
    (with respect to a leaf of log-probabilities it adds exp(log_probs), pytorch/pytorch#52241; a test below)."""
    class Ours(nn.Module):
        def __init__(self):
            super().__init__()
            self.loss = nn.CTCLoss(**kwargs)

        def forward(self, x, *args):
            return self.loss(F.log_softmax(x, -1), *args)

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.loss = torch.nn.CTCLoss(**kwargs)

        def forward(self, x, *args):
            return self.loss(x.log_softmax(-1), *args)

    return Ours(), Theirs()


def _l1_distance(a, b):
    return (a - b).abs().sum(-1)


_CAUSAL = np.triu(np.full((3, 3), -np.inf), 1)
_TARGETS = [[1, 2, 2, 0], [3, 1, 3, 3], [4, 1, 0, 0]]
CASES.update({  # the layers of the last sweep (tests of their random modes and functionals: test_nn_extra.py)
    "TransformerDecoderLayer": [
        C("TransformerDecoderLayer", (4, 2, 8, 0.0), inputs=(X(3, 2, 4), X(5, 2, 4))),
        C("TransformerDecoderLayer", (4, 2, 8, 0.0), {"batch_first": True, "norm_first": True, "activation": "gelu"},
          inputs=(X(2, 3, 4), X(2, 5, 4)),
          call={"tgt_mask": FIXED(_CAUSAL), "memory_key_padding_mask": MASK(2, 5, fixed=[[0, 0, 1, 0, 1], [0] * 5]),
                "tgt_key_padding_mask": MASK(2, 3, fixed=[[0, 0, 1], [0, 0, 0]])}),
        C("TransformerDecoderLayer", (4, 2, 8), {"bias": False}, inputs=(X(3, 4), X(2, 4)), mode="eval",
          call={"tgt_mask": MASK(3, 3, fixed=np.triu(np.ones((3, 3)), 1)), "tgt_is_causal": True})],
    "TransformerDecoder": [
        C("TransformerDecoder", build=lambda torch: _decoders(torch, 2, norm=False), inputs=(X(3, 2, 4), X(4, 2, 4))),
        C("TransformerDecoder", build=lambda torch: _decoders(torch, 2, norm=True), inputs=(X(3, 2, 4), X(4, 2, 4)),
          call={"tgt_mask": MASK(3, 3, fixed=np.triu(np.ones((3, 3)), 1)), "memory_mask": X(3, 4)}, mode="eval")],
    "Transformer": [
        C("Transformer", (4, 2, 2, 1, 8, 0.0), inputs=(X(5, 2, 4), X(3, 2, 4)), call={"tgt_mask": FIXED(_CAUSAL)}),
        C("Transformer", (4, 2, 1, 2, 8, 0.0), {"batch_first": True, "norm_first": True, "activation": "gelu"},
          inputs=(X(2, 5, 4), X(2, 3, 4)),
          call={"src_key_padding_mask": MASK(2, 5, fixed=[[0, 0, 0, 1, 1], [0] * 5]),
                "memory_key_padding_mask": MASK(2, 5, fixed=[[0, 0, 0, 1, 1], [0] * 5])},
          tol=10),  # three pre-norm layers of width 4 in float32: 1.2e-5 apart at most (float64 agrees to 1e-10)
        C("Transformer", (4, 1, 1, 1, 6), {"bias": False}, inputs=(X(4, 4), X(3, 4)), mode="eval")],
    "EmbeddingBag": [
        C("EmbeddingBag", (10, 3), inputs=(INT(10, 4, 3),)),
        C("EmbeddingBag", (10, 3), {"mode": "sum"},
          inputs=(INT(10, fixed=[1, 2, 4, 5, 4, 3, 2, 9]), INT(9, fixed=[0, 2, 2, 5]), X(8))),
        C("EmbeddingBag", (10, 3), {"mode": "max", "padding_idx": 2},
          inputs=(INT(10, fixed=[1, 2, 4, 5, 4, 3, 2, 9, 2]), INT(9, fixed=[0, 2, 3, 5, 8]))),
        C("EmbeddingBag", (10, 3), {"mode": "mean", "include_last_offset": True, "padding_idx": 4},
          inputs=(INT(10, fixed=[1, 2, 4, 5, 4, 3, 2, 9]), INT(9, fixed=[0, 2, 2, 5, 8]))),
        C("EmbeddingBag", (10, 3), {"mode": "max"}, inputs=(INT(10, 3, 4),))],  # scale_grad_by_freq: test_nn_extra
    "CTCLoss": [
        C("CTCLoss", build=lambda torch: _ctc(torch), inputs=(X(7, 3, 5), INT(5, fixed=_TARGETS),
                                                               INT(8, fixed=[7, 6, 4]), INT(5, fixed=[3, 4, 2]))),
        C("CTCLoss", build=lambda torch: _ctc(torch, blank=4, reduction="sum"),
          inputs=(X(6, 2, 5), INT(4, fixed=[1, 2, 2, 0, 3, 3]), INT(7, fixed=[6, 5]), INT(5, fixed=[4, 2]))),
        C("CTCLoss", build=lambda torch: _ctc(torch, reduction="none", zero_infinity=True),  # sample 1: too short
          inputs=(X(5, 3, 5), INT(5, fixed=_TARGETS), INT(6, fixed=[5, 4, 5]), INT(5, fixed=[3, 4, 0]))),
        C("CTCLoss", build=lambda torch: _ctc(torch, reduction="none"),
          inputs=(X(6, 4), INT(4, fixed=[1, 3, 3]), INT(7, fixed=6), INT(4, fixed=3)))],
    "MultiLabelMarginLoss": [
        C("MultiLabelMarginLoss", (), {"reduction": r},
          inputs=(X(3, 5), INT(5, fixed=[[3, 0, -1, 1, 2], [1, 2, 3, 4, 0], [-1, 2, 3, 0, 0]])))
        for r in ("mean", "sum", "none")] + [
        C("MultiLabelMarginLoss", (), inputs=(X(4), INT(4, fixed=[2, 1, -1, 0])))],
    "TripletMarginWithDistanceLoss": [
        C("TripletMarginWithDistanceLoss", (), inputs=(X(3, 4), X(3, 4), X(3, 4))),
        C("TripletMarginWithDistanceLoss", (), {"margin": 0.5, "swap": True, "reduction": "none"},
          inputs=(X(3, 4), X(3, 4), X(3, 4))),
        C("TripletMarginWithDistanceLoss", (), {"distance_function": _l1_distance, "reduction": "sum"},
          inputs=(X(5, 2), X(5, 2), X(5, 2)))],
    "RReLU": [C("RReLU", inputs=(X(3, 4),), mode="eval"), C("RReLU", (0.1, 0.6), inputs=(X(2, 3, 4),), mode="eval")],
    "FractionalMaxPool2d": [
        C("FractionalMaxPool2d", (2,), {"output_size": (3, 4), "_random_samples": np.array(
            [[[0.1, 0.7], [0.5, 0.25], [0.9, 0.0]], [[0.3, 0.3], [0.99, 0.6], [0.45, 0.8]]])},
          inputs=(X(2, 3, 7, 9),)),
        C("FractionalMaxPool2d", ((3, 2),), {"output_ratio": (0.5, 0.7), "return_indices": True,
                                             "_random_samples": np.array([[[0.2, 0.8], [0.6, 0.4]]])},
          inputs=(X(2, 10, 8),))],
    "LazyLinear": [C("LazyLinear", build=_lazy("LazyLinear", (3,), (2, 5)), inputs=(X(4, 5),))],
    "LazyConv1d": [C("LazyConv1d", build=_lazy("LazyConv1d", (4, 3), (1, 2, 6)), inputs=(X(2, 2, 7),))],
    "LazyConv2d": [C("LazyConv2d", build=_lazy("LazyConv2d", (4, 2, 1, 1), (1, 2, 5, 5)), inputs=(X(2, 2, 5, 4),))],
    "LazyBatchNorm1d": [C("LazyBatchNorm1d", build=_lazy("LazyBatchNorm1d", (), (2, 3)), inputs=(X(4, 3),))],
    "LazyBatchNorm2d": [C("LazyBatchNorm2d", build=_lazy("LazyBatchNorm2d", (), (2, 3, 2, 2)),
                          inputs=(X(2, 3, 4, 2),))],
    "AdaptiveLogSoftmaxWithLoss": [
        C("AdaptiveLogSoftmaxWithLoss", (6, 12, [3, 7]), {"div_value": 2.0},
          inputs=(X(5, 6), INT(12, fixed=[0, 4, 11, 8, 2]))),
        C("AdaptiveLogSoftmaxWithLoss", (6, 12, [3]), {"head_bias": True}, inputs=(X(6), INT(12, fixed=9)))],
    "TransformerEncoder+": [  # the masks of the encoder, with PyTorch's nested-tensor switch off and on (ignored)
        C("TransformerEncoder", build=lambda torch: _encoders(torch, 2, norm=True), inputs=(X(3, 2, 4),),
          call={"src_key_padding_mask": MASK(2, 3, fixed=[[0, 0, 1], [0, 0, 0]])}),
        C("TransformerEncoder", build=lambda torch: _encoders(torch, 1, norm=False), inputs=(X(3, 2, 4),),
          call={"mask": FIXED(_CAUSAL), "is_causal": True})],
})


CONTAINERS = {"Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"}  # see below


def _layer_classes() -> list[str]:
    return sorted(name for name, obj in vars(nn).items() if inspect.isclass(obj) and issubclass(obj, nn.Module))


def test_every_layer_has_cases():
    missing = [name for name in _layer_classes() if name not in CASES and name not in CONTAINERS]
    assert not missing, f"layers without parity cases: {missing}"


PARAMS = [pytest.param(case, id=f"{name}-{k}") for name, cases in CASES.items() for k, case in enumerate(cases)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", PARAMS)
def test_layer_matches_torch(torch, case, dtype):
    if dtype not in case.dtypes:
        pytest.skip(f"{case.cls} is compared in {case.dtypes} only")
    for mode in ("train", "eval") if case.mode == "both" else (case.mode,):
        check_case(torch, case, dtype, mode)


MORE_CASES = [  # arguments of the forward call and edge cases
    C("ConvTranspose2d", (2, 3, 3), {"stride": 2, "padding": 1}, inputs=(X(1, 2, 4, 3),), call={"output_size": (8, 6)}),
    C("ConvTranspose2d", (2, 3, 3), {"stride": (3, 2)}, inputs=(X(2, 3, 3),), call={"output_size": (3, 11, 8)}),
    C("ConvTranspose1d", (2, 3, 3), {"stride": 3, "output_padding": 1}, inputs=(X(2, 2, 4),),
      call={"output_size": [12]}),
    C("TripletMarginLoss", (), {"swap": True, "reduction": "none"},  # positive == anchor: d(a, n) ties d(p, n)
      inputs=(FIXED([[0.5, -1.0, 2.0], [1.0, 0.0, 0.0]], grad=True),
              FIXED([[0.5, -1.0, 2.0], [1.0, 0.0, 0.0]], grad=True),
              FIXED([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0]], grad=True)), differences=False),
    C("TripletMarginLoss", (0.1,), {"swap": True}, differences=False,
      inputs=(FIXED([[1.0, 2.0]], grad=True), FIXED([[1.0, 2.0]], grad=True), FIXED([[1.0, 2.0]], grad=True))),
    C("MaxPool2d", (2, 1), {"return_indices": True}, differences=False,  # ties: the first maximum, as PyTorch
      inputs=(FIXED(np.round(np.random.default_rng(3).standard_normal((1, 2, 4, 5)), 0), grad=True),)),
    C("Linear", (3, 2), inputs=(X(1, 3),)), C("Conv2d", (2, 3, 2), inputs=(X(1, 2, 3, 3),)),
    C("BatchNorm1d", (3,), inputs=(X(2, 3),)), C("LayerNorm", (3,), inputs=(X(0, 3),)),
    C("Conv1d", (2, 3, 2), inputs=(X(0, 2, 5),)), C("MSELoss", (), inputs=(X(0, 3), X(0, 3))),
    C("CrossEntropyLoss", (), {"reduction": "sum"}, inputs=(X(0, 3), INT(3, 0))),
    C("GRU", (3, 4), {"batch_first": True}, inputs=(X(1, 1, 3),)), C("Embedding", (5, 2), inputs=(INT(5, 0),)),
] + MORE_CASES_3D


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", MORE_CASES, ids=[f"{c.cls}-{k}" for k, c in enumerate(MORE_CASES)])
def test_call_arguments_and_edge_cases_match_torch(torch, case, dtype):
    for mode in ("train", "eval") if case.mode == "both" else (case.mode,):
        check_case(torch, case, dtype, mode)


@pytest.mark.parametrize("window", ["max_pool1d", "max_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d"])
def test_max_pools_with_nan_pick_pytorchs_nan_and_index(torch, window):
    """A NaN in a window wins, and of several the last one scanned (PyTorch's ``val > max || isnan(val)``): the
    same outputs, indices and gradients as PyTorch, with overlapping windows, padding and ceil mode."""
    rng = np.random.default_rng(5)
    args = {"max_pool1d": (3, 2, 1, 2, True), "max_pool2d": ((2, 3), (1, 2), (1, 1), (1, 2), True),
            "adaptive_max_pool1d": (3,), "adaptive_max_pool2d": ((2, 3),)}[window]
    for _ in range(20):
        x = rng.standard_normal((2, 2, 5, 7) if window.endswith("2d") else (2, 5, 7))
        x[rng.random(x.shape) < 0.3] = np.nan
        xt = torch.tensor(x, requires_grad=True)
        out_t, index_t = getattr(torch.nn.functional, window)(xt, *args, return_indices=True)
        out_t.backward(torch.ones_like(out_t))
        xc = cr.tensor(x, requires_grad=True)
        out, index = getattr(F, window)(xc, *args, return_indices=True)
        out.backward(np.ones(out.shape))
        np.testing.assert_array_equal(out.numpy(), out_t.detach().numpy())
        np.testing.assert_array_equal(np.asarray(index), index_t.numpy())
        np.testing.assert_array_equal(xc.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("ndim", [0, 1, 2, 3, 4])
def test_softmax_family_without_dim_takes_pytorchs_implicit_dim(torch, name, ndim):
    x = np.random.default_rng(ndim).standard_normal((2, 3, 4, 5)[:ndim])
    with pytest.warns(UserWarning, match="Implicit dimension"):
        ours = getattr(F, name)(x)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        theirs = getattr(torch.nn.functional, name)(torch.tensor(x))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-15)
    module = {"softmax": "Softmax", "log_softmax": "LogSoftmax", "softmin": "Softmin"}[name]
    with pytest.warns(UserWarning, match="Implicit dimension"):
        np.testing.assert_allclose(getattr(nn, module)()(x).numpy(), theirs.numpy(), rtol=1e-12, atol=1e-15)
    in_float32 = getattr(F, name)(x, dim=-1, dtype="float32")
    assert in_float32.dtype == np.float32
    np.testing.assert_allclose(in_float32.numpy(), getattr(torch.nn.functional, name)(
        torch.tensor(x), -1, dtype=torch.float32).numpy(), rtol=1e-6, atol=1e-7)


def _nested(lib, torch=None):
    """The same architecture in chainrule (lib=nn) and PyTorch (lib=torch.nn): BatchNorm inside a Sequential inside
    a custom Module, a ModuleDict, a ParameterList, a direct parameter, buffers, a shared module."""
    def array(values):
        return torch.tensor(values) if torch is not None else np.asarray(values)

    class Block(lib.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", array([2.0]))
            self.body = lib.Sequential(lib.Linear(3, 4), lib.BatchNorm1d(4), lib.ReLU())
            self.gain = lib.Parameter(array([1.0, 2.0, 3.0, 4.0]))

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.first = Block()
            self.heads = lib.ModuleDict({"b": lib.Linear(4, 2), "a": lib.LayerNorm(4)})
            self.extra = lib.ParameterList([lib.Parameter(array([0.5])), lib.Parameter(array([[1.0, 2.0]]))])
            self.register_buffer("temporary", array([0.0]), persistent=False)
            self.shared = self.heads["b"]
            self.norm = lib.GroupNorm(2, 4)

    return Net()


def test_state_dict_keys_and_order_match_torch_for_nested_models(torch):
    ours, theirs = _nested(nn), _nested(torch.nn, torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "temporary" not in ours.state_dict() and "shared.weight" in ours.state_dict()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert ours.load_state_dict(state) == ([], [])
    for key, value in ours.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state[key], err_msg=key)


def test_load_state_dict_reports_what_torch_reports(torch):
    ours, theirs = _nested(nn), _nested(torch.nn, torch)
    state_t = dict(theirs.state_dict())
    for key in ("first.body.1.running_var", "heads.a.bias", "extra.1"):
        del state_t[key]
    state_t["first.body.5.weight"] = torch.zeros(2)  # under a module that has no child "5"
    state_t["heads.c.weight"] = torch.zeros(2)
    state_t["unknown"] = torch.zeros(1)
    state_t["norm.weight.extra"] = torch.zeros(1)
    state = {k: v.numpy() for k, v in state_t.items()}
    result_t = theirs.load_state_dict(state_t, strict=False)
    result = ours.load_state_dict(state, strict=False)
    assert result.missing_keys == result_t.missing_keys
    assert result.unexpected_keys == result_t.unexpected_keys
    with pytest.raises(RuntimeError) as info_t:
        theirs.load_state_dict(state_t)
    with pytest.raises(RuntimeError) as info:  # StateDictError is a RuntimeError as well as a ValueError
        ours.load_state_dict(state)
    for key in (*result_t.missing_keys, *result_t.unexpected_keys):
        assert key in str(info_t.value) and f"'{key}'" in str(info.value)
    wrong = {k: v.numpy() for k, v in theirs.state_dict().items()}
    wrong["heads.b.weight"] = np.zeros((3, 4), np.float32)
    for strict in (True, False):  # a shape mismatch is an error either way, in both
        with pytest.raises(RuntimeError, match="size mismatch"):
            theirs.load_state_dict({k: torch.from_numpy(v) for k, v in wrong.items()}, strict=strict)
        with pytest.raises(RuntimeError, match=r"size mismatch for 'heads.b.weight'.*\(3, 4\).*\(2, 4\)"):
            ours.load_state_dict(wrong, strict=strict)


def test_a_state_dict_without_num_batches_tracked_loads_as_in_torch(torch):
    state = {k: v for k, v in nn.BatchNorm1d(3).state_dict().items() if k != "num_batches_tracked"}
    theirs = torch.nn.BatchNorm1d(3).load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in state.items()})
    assert nn.BatchNorm1d(3).load_state_dict(state) == (theirs.missing_keys, theirs.unexpected_keys) == ([], [])


@pytest.mark.parametrize("name", ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss"])
def test_a_weight_given_first_is_the_weight_as_in_torch(torch, name):
    weight = np.array([0.5, 2.0, 1.0])
    ours, theirs = getattr(nn, name)(weight), getattr(torch.nn, name)(torch.tensor(weight))
    assert ours.reduction == "mean"
    np.testing.assert_array_equal(ours.weight.numpy(), theirs.weight.numpy())
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]


ERROR_CASES = [  # bad input PyTorch rejects: ours raises an error of the same type (a ShapeError is a ValueError and
    # a RuntimeError)
    C("Linear", (3, 2), inputs=(X(2, 4),)), C("Conv2d", (3, 2, 3), inputs=(X(1, 2, 5, 5),)),
    C("Conv2d", (3, 2, 3), inputs=(X(5, 5),)), C("Conv1d", (1, 1, 5), inputs=(X(1, 1, 3),)),
    C("BatchNorm1d", (3,), inputs=(X(2, 4),)), C("LayerNorm", (3,), inputs=(X(2, 4),)),
    C("MaxPool2d", (2,), inputs=(X(5, 5),)), C("GRU", (3, 4), inputs=(X(5, 2, 2),)),
    C("GroupNorm", (2, 4), inputs=(X(2, 3, 5),)), C("Bilinear", (2, 3, 4), inputs=(X(5, 2), X(4, 3))),
    C("ConvTranspose2d", (2, 3, 3), inputs=(X(1, 3, 4, 4),)), C("PixelShuffle", (2,), inputs=(X(1, 3, 2, 2),)),
    C("MSELoss", (), inputs=(X(2, 3), X(3, 2))), C("CrossEntropyLoss", (), inputs=(X(3, 4), INT(4, 4))),
] + ERROR_CASES_3D


@pytest.mark.parametrize("case", ERROR_CASES, ids=[f"{c.cls}-{k}" for k, c in enumerate(ERROR_CASES)])
def test_bad_input_raises_pytorchs_error_type(torch, case):
    ours, theirs = check_error(torch, case)
    assert issubclass(ours, theirs), f"ours raises {ours.__name__}, PyTorch a {theirs.__name__}"
