"""Parameters as one flat vector and back, as ``torch.nn.utils.parameters_to_vector`` / ``vector_to_parameters``.

>>> import chainrule as cr
>>> net = cr.nn.Linear(3, 2, seed=0)
>>> vec = cr.nn.utils.parameters_to_vector(net.parameters())
>>> vec.shape
(8,)
>>> cr.nn.utils.vector_to_parameters(vec * 0, net.parameters())
>>> float(abs(net.weight).sum())
0.0
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ... import ops
from ...engine import bump
from ...errors import ShapeError
from ...tensor import Tensor


def _tensors(parameters: Iterable[Tensor], where: str) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        raise TypeError(f"{where}: expected an iterable of Tensors (e.g. model.parameters()), got one Tensor; "
                        "wrap it in a list")
    params = list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: parameter {i} is a {type(p).__name__}, not a Tensor")
    return params


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated, in order, into one vector (differentiable: its gradient flows
    back to each parameter)."""
    params = _tensors(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector: no parameters given (an empty iterable, or a generator used up "
                         "already?)")
    return ops.concatenate([ops.reshape(p, (-1,)) for p in params], axis=0)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in place (each keeps its dtype and shape).

    ``vec`` must have exactly as many elements as the parameters together (PyTorch ignores extra elements; a
    length that does not match is almost always a mix-up of models, so it is an error here)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor as vec, but got {type(vec).__name__}")
    params = _tensors(parameters, "vector_to_parameters")
    total = sum(p.size for p in params)
    if vec.ndim != 1 or vec.shape[0] != total:
        raise ShapeError(f"vector_to_parameters: vec must be 1-D with {total} elements (the parameters' total), "
                         f"got shape {vec.shape}")
    values = np.asarray(vec.data)
    start = 0
    for p in params:
        target = p._array()
        target[...] = values[start:start + p.size].reshape(p.shape)
        bump(target)  # a graph that saved the old values must not backpropagate through them now
        start += p.size


__all__ = ["parameters_to_vector", "vector_to_parameters"]
