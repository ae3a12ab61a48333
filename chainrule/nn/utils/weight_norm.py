"""The hook-based weight norm and spectral norm of older PyTorch (``torch.nn.utils.weight_norm``,
``spectral_norm``): parameters ``<name>_g``/``<name>_v`` (or ``<name>_orig`` with buffers ``<name>_u``,
``<name>_v``), and a forward pre-hook that recomputes ``module.<name>`` before each call. Prefer
``cr.nn.utils.parametrizations``; these exist so PyTorch code and state dicts carry over.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ... import ops
from ...tensor import Tensor
from .. import init
from ..module import Module, Parameter
from . import parametrizations as _p


class WeightNorm:
    """The forward pre-hook of ``weight_norm``: sets ``module.<name>`` = g · v / ‖v‖ before each call."""

    def __init__(self, name: str, dim: int) -> None:
        self.name, self.dim = name, dim

    def compute_weight(self, module: Module) -> Tensor:
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return v * (g / _p._norm_except_dim(v, self.dim, _p._ops_norm))

    def __call__(self, module: Module, inputs: Any) -> None:
        object.__setattr__(module, self.name, self.compute_weight(module))

    def remove(self, module: Module) -> None:
        weight = self.compute_weight(module)
        del module._parameters[self.name + "_g"], module._parameters[self.name + "_v"]
        object.__delattr__(module, self.name + "_g")
        object.__delattr__(module, self.name + "_v")
        module.register_parameter(self.name, Parameter(np.array(weight.data)))


def _hooks_of(module: Module, kind: type) -> list[tuple[int, Any]]:
    return [(key, hook) for key, (hook, _) in module.__dict__.get("_forward_pre_hooks", {}).items()
            if isinstance(hook, kind)]


def _remove(module: Module, kind: type, name: str, where: str) -> Module:
    """Take the ``kind`` hook of parameter ``name`` off ``module``, leaving one plain parameter."""
    for key, hook in _hooks_of(module, kind):
        if hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"{where} of {name!r} not found in {type(module).__name__}")


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Deprecated in PyTorch, in favour of ``parametrizations.weight_norm`` (it warns likewise): replace
    parameter ``name`` by ``<name>_g`` (its norm over every axis but ``dim``) and ``<name>_v`` (its direction)."""
    warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                  "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=2)
    if any(hook.name == name for _, hook in _hooks_of(module, WeightNorm)):
        raise RuntimeError(f"weight_norm: there is already a weight_norm hook on the parameter {name!r}")
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"weight_norm: {type(module).__name__} has no parameter named {name!r}")
    if dim is None:
        dim = -1
    elif dim != -1:
        dim = _p._check_dim(dim, weight.ndim, "weight_norm") % weight.ndim
    hook = WeightNorm(name, dim)
    del module._parameters[name]
    object.__delattr__(module, name)
    g = _p._norm_except_dim(weight, dim, _p._np_norm).astype(weight.dtype)
    module.register_parameter(name + "_g", Parameter(g))
    module.register_parameter(name + "_v", Parameter(np.array(weight.data)))
    object.__setattr__(module, name, hook.compute_weight(module))
    module.register_forward_pre_hook(hook)
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """Undo ``weight_norm``: ``name`` becomes one parameter again, holding g · v / ‖v‖."""
    return _remove(module, WeightNorm, name, "weight_norm")


class SpectralNorm:
    """The forward pre-hook of ``spectral_norm``: sets ``module.<name>`` = W / σ before each call, refining u and
    v by power iteration in training mode (v ← Wᵀu/‖Wᵀu‖, then u ← Wv/‖Wv‖, as PyTorch's hook)."""

    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float) -> None:
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u_buffer, v_buffer = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        matrix = _p._weight_matrix(weight, self.dim)
        if do_power_iteration:
            values = _p._weight_matrix(np.asarray(weight.data), self.dim)
            u, v = u_buffer._array(), v_buffer._array()
            for _ in range(self.n_power_iterations):
                v[...] = _p._normalize(values.T @ u, self.eps)
                u[...] = _p._normalize(values @ v, self.eps)
        u, v = Tensor(np.array(u_buffer.data)), Tensor(np.array(v_buffer.data))
        return weight / ops.sum(u * ops.matmul(matrix, v))

    def __call__(self, module: Module, inputs: Any) -> None:
        object.__setattr__(module, self.name, self.compute_weight(module, module.training))

    def remove(self, module: Module) -> None:
        weight = self.compute_weight(module, False)
        for suffix in ("_u", "_v"):
            del module._buffers[self.name + suffix]
            object.__delattr__(module, self.name + suffix)
        del module._parameters[self.name + "_orig"]
        object.__delattr__(module, self.name + "_orig")
        module.register_parameter(self.name, Parameter(np.array(weight.data)))


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """The hook version of spectral normalisation (PyTorch's older API; see ``parametrizations.spectral_norm``):
    parameter ``<name>_orig``, buffers ``<name>_u`` and ``<name>_v`` (state_dict keys as PyTorch's)."""
    if any(hook.name == name for _, hook in _hooks_of(module, SpectralNorm)):
        raise RuntimeError(f"spectral_norm: there is already a spectral_norm hook on the parameter {name!r}")
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter named {name!r}")
    _p._check_power_iterations(n_power_iterations)
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    dim = _p._check_dim(dim, weight.ndim, "spectral_norm")
    hook = SpectralNorm(name, n_power_iterations, dim, float(eps))
    h, w = _p._weight_matrix(np.asarray(weight.data), dim).shape
    rng = init.default_generator()
    del module._parameters[name]
    object.__delattr__(module, name)
    module.register_parameter(name + "_orig", weight)
    object.__setattr__(module, name, Tensor(np.array(weight.data)))
    module.register_buffer(name + "_u", _p._normalize(rng.standard_normal(h), eps).astype(weight.dtype))
    module.register_buffer(name + "_v", _p._normalize(rng.standard_normal(w), eps).astype(weight.dtype))
    module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo ``spectral_norm``: ``name`` becomes one parameter again, holding W / σ with the current u and v."""
    return _remove(module, SpectralNorm, name, "spectral_norm")


__all__ = ["remove_spectral_norm", "remove_weight_norm", "spectral_norm", "weight_norm"]
