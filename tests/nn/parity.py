"""The machinery of the PyTorch parity sweep (tests/nn/test_parity_sweep.py): build a chainrule layer and its
PyTorch twin with the same constructor arguments, give ours the twin's weights through ``load_state_dict`` (so the
state_dict keys and their order are compared too), run both on the same inputs and compare outputs, input gradients,
parameter gradients and buffers afterwards."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import nn

TOL = {"float64": {"rtol": 1e-10, "atol": 1e-12}, "float32": {"rtol": 2e-5, "atol": 2e-6}}


@dataclasses.dataclass(frozen=True)
class Arg:
    """One input of a forward call: ``make(rng, dtype)`` gives the array; ``grad`` says whether it is
    differentiated (a float input of both libraries' graphs)."""

    make: Callable[[np.random.Generator, np.dtype], np.ndarray]
    grad: bool = True


def X(*shape: int, scale: float = 1.0) -> Arg:
    """A differentiated float input from N(0, scale²)."""
    return Arg(lambda rng, dtype: (scale * rng.standard_normal(shape)).astype(dtype))


def POS(*shape: int, low: float = 0.2, high: float = 2.0, grad: bool = True) -> Arg:
    """A positive float input (differentiated unless ``grad=False``)."""
    return Arg(lambda rng, dtype: rng.uniform(low, high, shape).astype(dtype), grad)


def U(*shape: int, low: float = 0.05, high: float = 0.95, grad: bool = False) -> Arg:
    """A float in (low, high), by default a target that is not differentiated (probabilities)."""
    return Arg(lambda rng, dtype: rng.uniform(low, high, shape).astype(dtype), grad)


def SIGN(*shape: int) -> Arg:
    """±1 targets (float, not differentiated)."""
    return Arg(lambda rng, dtype: rng.choice([-1.0, 1.0], shape).astype(dtype), False)


def INT(high: int, *shape: int, low: int = 0, fixed: Any = None) -> Arg:
    """int64 labels in [low, high) (or the ``fixed`` values)."""
    if fixed is not None:
        return Arg(lambda rng, dtype: np.asarray(fixed, np.int64), False)
    return Arg(lambda rng, dtype: rng.integers(low, high, shape).astype(np.int64), False)


def MASK(*shape: int, p: float = 0.3, fixed: Any = None) -> Arg:
    """A boolean mask, True with probability p (or the ``fixed`` values)."""
    if fixed is not None:
        return Arg(lambda rng, dtype: np.asarray(fixed, bool), False)
    return Arg(lambda rng, dtype: rng.random(shape) < p, False)


def FIXED(values: Any, grad: bool = False) -> Arg:
    """Given values, in the case's dtype if they are floats."""
    def make(rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
        array = np.asarray(values)
        return array.astype(dtype) if array.dtype.kind == "f" else array
    return Arg(make, grad)


@dataclasses.dataclass
class Case:
    """A layer, its constructor arguments, and one forward call.

    ``inputs`` are positional; ``call`` keyword arguments (an ``Arg`` in it is made like an input, never
    differentiated). ``mode`` is "train", "eval" or "both". ``torch_kwargs`` replaces constructor keywords PyTorch
    spells differently (none should); ``build`` makes both modules from the torch module when the constructor takes
    modules (TransformerEncoder)."""

    cls: str
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    inputs: tuple = ()
    call: dict = dataclasses.field(default_factory=dict)
    mode: str = "both"
    build: Callable | None = None
    dtypes: tuple = ("float64", "float32")
    tol: float = 1.0  # a factor on TOL for long chains (recurrent nets in float32)
    differences: bool = True  # False at a kink (ties), where central differences have no meaning


def _to_torch(torch: Any, array: Any, grad: bool) -> Any:
    t = torch.from_numpy(np.array(array, copy=True))  # (ascontiguousarray would make a 0-d array 1-d)
    return t.requires_grad_(grad)


def _flatten(out: Any) -> list:
    if isinstance(out, tuple | list):
        return [leaf for item in out for leaf in _flatten(item)]
    return [out]


def _numpy(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "detach") and hasattr(value, "numpy") and not isinstance(value, cr.Tensor):
        return value.detach().numpy()
    return value.numpy() if isinstance(value, cr.Tensor) else np.asarray(value)


def _close(ours: Any, theirs: Any, tol: dict, what: str) -> None:
    theirs = np.asarray(theirs)
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape}, PyTorch's {theirs.shape}"
    if theirs.dtype.kind in "biu":
        np.testing.assert_array_equal(ours, theirs, err_msg=what)
        return
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype}, PyTorch's {theirs.dtype}"
    np.testing.assert_allclose(ours, theirs, err_msg=what, equal_nan=True, **tol)


def build_pair(torch: Any, case: Case, dtype: str) -> tuple[nn.Module, Any]:
    """Our module and PyTorch's with the same arguments and, through load_state_dict, the same weights."""
    tdtype = getattr(torch, dtype)
    if case.build is not None:
        ours, theirs = case.build(torch)
    else:
        torch.manual_seed(0)
        kwargs_t = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in case.kwargs.items()}
        theirs = getattr(torch.nn, case.cls)(*case.args, **kwargs_t)
        ours = getattr(nn, case.cls)(*case.args, **case.kwargs)
    theirs = theirs.to(tdtype)
    ours = ours.to(np.dtype(dtype))
    state_t = theirs.state_dict()
    assert list(ours.state_dict()) == list(state_t), "state_dict keys or their order differ from PyTorch's"
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in state_t.items()})
    return ours, theirs


def check_case(torch: Any, case: Case, dtype: str, mode: str, seed: int = 0) -> None:
    """Forward and backward of ``case`` in both libraries agree (values, dtypes, gradients, buffers)."""
    tol = {k: v * case.tol for k, v in TOL[dtype].items()}
    ours, theirs = build_pair(torch, case, dtype)
    ours.train(mode == "train")
    theirs.train(mode == "train")
    rng = np.random.default_rng(seed)
    arrays = [arg.make(rng, np.dtype(dtype)) for arg in case.inputs]
    grads = [arg.grad and a.dtype.kind == "f" for arg, a in zip(case.inputs, arrays, strict=True)]
    xs = [cr.tensor(a.copy(), requires_grad=g) for a, g in zip(arrays, grads, strict=True)]
    xts = [_to_torch(torch, a, g) for a, g in zip(arrays, grads, strict=True)]
    call = {k: v.make(rng, np.dtype(dtype)) if isinstance(v, Arg) else v for k, v in case.call.items()}
    call_t = {k: _to_torch(torch, v, False) if isinstance(v, np.ndarray) else v for k, v in call.items()}
    outs = _flatten(ours(*xs, **call))
    outs_t = _flatten(theirs(*xts, **call_t))
    assert len(outs) == len(outs_t), f"{len(outs)} outputs, PyTorch's {len(outs_t)}"
    loss, loss_t, differentiated, cotangents = 0, 0, False, {}
    for i, (o, ot) in enumerate(zip(outs, outs_t, strict=True)):
        if ot is None:
            assert o is None, f"output {i}: PyTorch returns None"
            continue
        _close(_numpy(o), _numpy(ot), tol, f"output {i}")
        if ot.requires_grad:
            g = rng.standard_normal(tuple(ot.shape)).astype(dtype)
            loss_t = loss_t + (ot * torch.from_numpy(g)).sum()
            loss = loss + (o * g).sum()
            cotangents[i] = g
            differentiated = True
    if differentiated:
        loss_t.backward()
        if isinstance(loss, cr.Tensor) and loss.requires_grad:
            loss.backward()
    for i, (x, xt) in enumerate(zip(xs, xts, strict=True)):
        if xt.requires_grad:
            expected = np.zeros(xt.shape, dtype) if xt.grad is None else xt.grad.numpy()
            got = np.zeros(x.shape, dtype) if x.grad is None else x.grad.numpy()
            _close(got, expected, tol, f"gradient of input {i}")
    params_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        pt = params_t[name]
        expected = np.zeros(pt.shape, dtype) if pt.grad is None else pt.grad.numpy()
        got = np.zeros(p.shape, dtype) if p.grad is None else p.grad.numpy()
        _close(got, expected, tol, f"gradient of {name}")
    state_t = theirs.state_dict()
    for name, value in ours.state_dict().items():
        _close(value.numpy(), state_t[name].numpy(), tol, f"{name} after the call")
    if dtype == "float64" and differentiated and any(grads) and case.differences:
        _central_differences(ours, arrays, grads, xs, call, cotangents, rng)


def _central_differences(ours: nn.Module, arrays: list, grads: list, xs: list, call: dict, cotangents: dict,
                         rng: np.random.Generator, eps: float = 1e-6) -> None:
    """Our input gradients against central differences of our forward, along one random direction: the
    derivative of Σ⟨g, output⟩ along v equals Σ⟨∇x, v⟩ (an independent check of what both libraries computed)."""
    directions = [rng.standard_normal(a.shape) if g else None for a, g in zip(arrays, grads, strict=True)]

    def value(step: float) -> float:
        shifted = [cr.tensor(a + step * v) if v is not None else cr.tensor(a)
                   for a, v in zip(arrays, directions, strict=True)]
        with cr.no_grad():
            outs = _flatten(ours(*shifted, **call))
        return sum(float((outs[i].numpy() * g).sum()) for i, g in cotangents.items())

    numeric = (value(eps) - value(-eps)) / (2 * eps)
    if not np.isfinite(numeric):  # a NaN output (a mean over no targets): nothing to difference
        return
    analytic = sum(float((x.grad.numpy() * v).sum()) for x, v in zip(xs, directions, strict=True)
                   if v is not None and x.grad is not None)
    assert abs(numeric - analytic) <= 1e-6 + 1e-6 * abs(analytic), (
        f"input gradients disagree with central differences: {analytic} (analytic), {numeric} (numeric)")


def check_error(torch: Any, case: Case, dtype: str = "float64") -> tuple[type, type]:
    """Both libraries reject the call (construction or forward); returns the two exception types."""
    def run(lib: Any, is_torch: bool) -> BaseException | None:
        rng = np.random.default_rng(0)
        try:
            module = getattr(lib.nn if is_torch else nn, case.cls)(*case.args, **case.kwargs)
            arrays = [arg.make(rng, np.dtype(dtype)) for arg in case.inputs]
            xs = [_to_torch(torch, a, False) if is_torch else cr.tensor(a) for a in arrays]
            if is_torch:
                module = module.to(getattr(torch, dtype))
            else:
                module = module.to(np.dtype(dtype))
            module(*xs)
        except Exception as exc:
            return exc
        return None

    theirs, ours = run(torch, True), run(None, False)
    assert theirs is not None, "PyTorch accepts this case; it is not an error case"
    assert ours is not None, f"PyTorch raises {type(theirs).__name__}: {theirs}; chainrule accepts the input"
    return type(ours), type(theirs)
