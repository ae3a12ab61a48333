"""Folding an eval-mode BatchNorm into the convolution or linear layer before it, as ``torch.nn.utils.fusion``.

BatchNorm in eval computes γ (y − μ) / √(σ² + ε) + β with fixed running statistics: an affine map per channel, so
it can be merged into the weights: W' = W · γ/√(σ² + ε) (per output channel), b' = (b − μ) · γ/√(σ² + ε) + β.

>>> import chainrule as cr
>>> conv, bn = cr.nn.Conv2d(2, 3, 3, seed=0).eval(), cr.nn.BatchNorm2d(3).eval()
>>> x = cr.randn(1, 2, 5, 5, seed=1)
>>> fused = cr.nn.utils.fuse_conv_bn_eval(conv, bn)
>>> bool(abs(fused(x) - bn(conv(x))).max() < 1e-5)
True
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ...tensor import Tensor
from ..module import Module, Parameter


def _array(t: Any) -> np.ndarray | None:
    return None if t is None else np.asarray(t.data if isinstance(t, Tensor) else t)


def _check_eval(layer: Module, bn: Module, where: str) -> None:
    if layer.training or bn.training:
        raise ValueError(f"{where}: fusion is only for evaluation: call .eval() on both modules first (training "
                         f"{type(layer).__name__}: {layer.training}, {type(bn).__name__}: {bn.training})")
    if getattr(bn, "running_mean", None) is None or getattr(bn, "running_var", None) is None:
        raise ValueError(f"{where}: the BatchNorm has no running statistics (track_running_stats=False), so "
                         "there is nothing fixed to fold in")


def _fold(weight: Tensor, bias: Tensor | None, bn_rm: Tensor, bn_rv: Tensor, bn_eps: float, bn_w: Tensor | None,
          bn_b: Tensor | None, out_axis: int, bias_dtype_of_bias: bool) -> tuple[Parameter, Parameter]:
    """The fused (W', b') of the formula above, W scaled along its output axis ``out_axis``. b' takes W's dtype, or
    the bias's own when ``bias_dtype_of_bias`` and there is one (PyTorch's conv casts to it, its linear does not)."""
    w = _array(weight)
    mean, var = _array(bn_rm), _array(bn_rv)
    b = np.zeros_like(mean) if bias is None else _array(bias)
    gamma = np.ones_like(mean) if bn_w is None else _array(bn_w)
    beta = np.zeros_like(mean) if bn_b is None else _array(bn_b)
    scale = gamma / np.sqrt(var + bn_eps)
    shape = [1] * w.ndim
    shape[out_axis] = -1
    fused_w = (w * scale.reshape(shape)).astype(w.dtype)
    fused_b = ((b - mean) * scale + beta).astype(b.dtype if bias_dtype_of_bias and bias is not None else w.dtype)
    requires = weight.requires_grad if isinstance(weight, Tensor) else True
    requires_b = bias.requires_grad if isinstance(bias, Tensor) else False
    return Parameter(fused_w, requires_grad=requires), Parameter(fused_b, requires_grad=requires_b)


def fuse_conv_bn_weights(conv_w: Tensor, conv_b: Tensor | None, bn_rm: Tensor, bn_rv: Tensor, bn_eps: float,
                         bn_w: Tensor | None, bn_b: Tensor | None,
                         transpose: bool = False) -> tuple[Parameter, Parameter]:
    """The fused convolution's (weight, bias); ``transpose``: a transposed convolution (out channels on axis 1)."""
    out_axis = 1 if transpose else 0
    return _fold(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, out_axis, bias_dtype_of_bias=True)


def fuse_conv_bn_eval(conv: Module, bn: Module, transpose: bool = False) -> Module:
    """A copy of ``conv`` whose weight and bias include the eval-mode ``bn`` that follows it."""
    _check_eval(conv, bn, "fuse_conv_bn_eval")
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                    bn.eps, bn.weight, bn.bias, transpose)
    return fused


def fuse_linear_bn_weights(linear_w: Tensor, linear_b: Tensor | None, bn_rm: Tensor, bn_rv: Tensor, bn_eps: float,
                           bn_w: Tensor | None, bn_b: Tensor | None) -> tuple[Parameter, Parameter]:
    """The fused linear layer's (weight, bias)."""
    return _fold(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, 0, bias_dtype_of_bias=False)


def fuse_linear_bn_eval(linear: Module, bn: Module) -> Module:
    """A copy of ``linear`` whose weight and bias include the eval-mode BatchNorm1d ``bn`` that follows it."""
    _check_eval(linear, bn, "fuse_linear_bn_eval")
    if not (linear.out_features == bn.num_features or bn.num_features == 1):
        raise ValueError(f"fuse_linear_bn_eval: linear.out_features ({linear.out_features}) must equal "
                         f"bn.num_features ({bn.num_features}), or bn.num_features must be 1")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                      bn.eps, bn.weight, bn.bias)
    return fused


__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights"]
