"""Function transforms: grad, value_and_grad, vjp, jvp, jacobian, hessian.

Each transform runs the user's function on fresh graph inputs and differentiates the recorded graph. Arguments come
back in their own form: a float's gradient is a float, an ndarray's an ndarray, a Tensor's a Tensor. An argument may
be a container (nested dicts, lists and tuples; see pytree.py): each leaf is differentiated in its own form and the
gradient comes back with the argument's structure.

Nesting (``grad(grad(f))``): while a transform runs the user's function, any transform called inside it records its
own backward pass (create_graph), so the outer one can differentiate the result. Each call differentiates with
respect to its own fresh inputs (an identity node on an outer Tensor), which keeps the levels apart.
"""

from __future__ import annotations

import numbers
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import ops, pytree
from .engine import backends, backward, batching, forward_tangents, hooks, is_grad_enabled, set_grad_enabled
from .errors import ShapeError
from .rules import numpy_math
from .tensor import Tensor, refuse_masked

FLOAT, ARRAY, TENSOR = "float", "array", "tensor"


class _Nesting(threading.local):
    """Per thread (a transform in one thread is not nested in another's); the class attribute is the default."""

    depth = 0  # how many transforms are running a user function right now, in this thread


_nesting = _Nesting()


def _input(x: Any, where: str) -> tuple[Tensor, Any, str]:
    """A fresh differentiable input standing for argument ``x``: (tensor, graph key, form of x)."""
    if isinstance(x, Tensor):
        if x.dtype.kind not in "fc":
            x = x.astype(np.float64)
        if x.requires_grad:
            t = ops.identity(x)  # connected to the outer graph, with its own node to differentiate against
            hooks.share(x.node or x, t.node)  # x's gradient hooks run on it, as torch.autograd.grad runs them
            return t, t.node, TENSOR
        data = x._data
        t = Tensor._make(data if backends.is_foreign(data) else x._array(), None, True)  # another library's: kept
        return t, t, TENSOR
    if isinstance(x, np.ndarray | np.generic) and not isinstance(x, np.bool_):
        refuse_masked(x, where)
        if x.dtype.kind not in "iufc":
            raise TypeError(f"{where}: cannot differentiate with respect to an array of dtype {x.dtype}")
        # No copy (W3's arrays are megabytes): the input shares the caller's array, as a NumPy function's argument
        # does, so a function that writes into it (x.data[0] = ...) writes into the caller's array.
        data = np.asarray(x) if x.dtype.kind in "fc" else x.astype(np.float64)
        t = Tensor._make(data, None, True)
        return t, t, ARRAY if isinstance(x, np.ndarray) else FLOAT
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        t = Tensor._make(np.asarray(float(x)), None, True)
        return t, t, FLOAT
    if isinstance(x, numbers.Complex):
        t = Tensor._make(np.asarray(complex(x)), None, True)
        return t, t, FLOAT
    raise TypeError(
        f"{where}: cannot differentiate with respect to {type(x).__name__}; "
        "expected a float, a complex number, a NumPy array or a Tensor"
    )


def _in_form(value: Any, form: str, like: Tensor) -> Any:
    """``value`` (array, Tensor or None meaning zero) in the form of the original argument."""
    if value is None:
        value = _zeros(like, like.shape)
    if isinstance(value, Tensor):
        if value.requires_grad or form == TENSOR:
            return value  # connected to an outer graph: keep it differentiable
        value = value._data
    if form == TENSOR:
        return Tensor._make(value if backends.is_foreign(value) else np.asarray(value), None, False)
    value = np.asarray(value)
    if form == FLOAT and value.ndim == 0:
        return _scalar(value)
    return value


def _zeros(like: Tensor, shape: tuple[int, ...]) -> Any:
    """Zeros of ``shape`` in like's dtype and library, on its device (another library's stay there)."""
    data = like._data
    if type(data) is np.ndarray or not backends.is_foreign(data):
        return np.zeros(shape, dtype=like.dtype)
    return backends.backend(data).xp.zeros(shape, dtype=data.dtype, device=backends.device(data))


def _scalar(value: np.ndarray) -> Any:
    """A 0-d array as a number: a Python float (complex) in double precision, else NumPy's scalar of its dtype, so
    float32 stays float32 (np.float32(1) in, np.float32 gradient out)."""
    if value.dtype == np.float64:
        return float(value)
    if value.dtype == np.complex128:
        return complex(value)
    return value[()]


def _check_callable(f: Any, where: str) -> None:
    if not callable(f):
        raise TypeError(f"{where} expects a function to differentiate as its first argument, got "
                        f"{type(f).__name__} {f!r:.60}; e.g. cr.{where}(lambda x: (x ** 2).sum())")


def _numbers(value: Any, what: str) -> None:
    """Refuse a cotangent or tangent that is not numbers (None, strings, dates, objects): NumPy would turn None into
    nan and a date into a count of days, silently, or fail deep inside with its own message."""
    kind = np.asarray(value).dtype.kind if not isinstance(value, Tensor) else value.dtype.kind
    if kind not in "biufc" and not isinstance(value, numbers.Number):  # a Decimal or Fraction converts exactly
        got = type(value).__name__ if not isinstance(value, np.ndarray) else f"an array of dtype {value.dtype}"
        raise TypeError(f"{what} must be numbers (a float, an array or a Tensor), got {got}")


def _argnums(argnums: int | Sequence[int], n: int, where: str) -> tuple[tuple[int, ...], bool]:
    single = isinstance(argnums, numbers.Integral)
    if not single and not (isinstance(argnums, tuple | list) and all(isinstance(a, numbers.Integral) for a in argnums)):
        raise TypeError(f"{where}: argnums must be an int or a tuple of ints, not {argnums!r}")
    nums = (int(argnums),) if single else tuple(int(a) for a in argnums)
    for a in nums:  # before the repeats: an out-of-range number is not counted among the distinct ones
        if not -n <= a < n:
            valid = f"; valid: {-n} to {n - 1}" if n else "; pass the argument to differentiate"
            raise ValueError(f"{where}: argnums {argnums!r}: argument {a} is out of range for a function called "
                             f"with {n} argument{'' if n == 1 else 's'}{valid}")
    if len({a % n for a in nums}) != len(nums):
        raise ValueError(f"{where}: argnums {argnums!r} names an argument twice; give each argument once")
    return tuple(a % n for a in nums), single


class _Trace:
    """One run of a user function on fresh differentiable inputs."""

    def __init__(self, f: Callable, args: tuple, argnums, where: str, kwargs: dict | None = None) -> None:
        self.argnums, self.single = _argnums(argnums, len(args), where)
        args = list(args)
        # One entry per leaf, over all differentiated arguments in order; self.trees rebuilds each argument.
        self.inputs, self.keys, self.forms, self.trees = [], [], [], []
        # Inside no_grad, a transform still differentiates its function, but records nothing for the outside.
        outer_recording = is_grad_enabled()
        with set_grad_enabled(True):
            for a in self.argnums:
                leaves, tree = pytree.flatten(args[a])
                fresh = []
                for leaf, path in zip(leaves, tree.paths(), strict=True):
                    if not outer_recording and isinstance(leaf, Tensor) and leaf.requires_grad:
                        leaf = leaf.detach()
                    t, key, form = _input(leaf, where if tree.is_leaf else f"{where} (argument {a}, leaf {path})")
                    fresh.append(t)
                    self.inputs.append(t)
                    self.keys.append(key)
                    self.forms.append(form)
                args[a] = tree.unflatten(fresh)
                self.trees.append(tree)
            self.create_graph = outer_recording and (_nesting.depth > 0 or any(
                f == TENSOR and k is not t for f, k, t in zip(self.forms, self.keys, self.inputs, strict=True)))
            _nesting.depth += 1
            try:
                out = f(*args, **(kwargs or {}))
            finally:
                _nesting.depth -= 1
        self.output = out
        self.aux = None
        self.any_tensor = any(f == TENSOR for f in self.forms)

    def split_aux(self, where: str) -> None:
        """For ``has_aux=True``: f returned ``(value, aux)``; keep the value as the output and aux apart."""
        out = self.output
        if not (isinstance(out, tuple | list) and len(out) == 2):
            got = f"a {type(out).__name__} of length {len(out)}" if isinstance(out, tuple | list) \
                else type(out).__name__
            raise TypeError(f"{where}(has_aux=True): the function must return a pair (value, aux), but it returned "
                            f"{got}; return (value, aux), or drop has_aux=True")
        self.output, self.aux = out

    def output_tensor(self, where: str, out: Any = None) -> Tensor:
        out = self.output if out is None else out
        if isinstance(out, Tensor):
            return out
        if isinstance(out, numbers.Number | np.ndarray | np.generic):
            return Tensor(out)
        raise TypeError(f"{where}: the function must return a Tensor or a number, not {type(out).__name__}")

    def pullback(self, out: Tensor | list, seed: Any, create_graph: bool | None = None) -> list:
        """Gradients of ⟨seed, out⟩ with respect to the traced inputs (None where no path leads).

        ``out`` and ``seed`` may be lists (the leaves of a container output): their inner products add up. With
        ``create_graph`` (default: the trace's) the backward pass is recorded, so it can be differentiated.
        """
        create_graph = self.create_graph if create_graph is None else create_graph
        outs, seeds = (out, seed) if isinstance(out, list) else ([out], [seed])
        pairs = [(o, s) for o, s in zip(outs, seeds, strict=True) if o.requires_grad]
        if not pairs:
            return [None] * len(self.inputs)
        data = pairs[0][0]._data
        if type(data) is not np.ndarray and backends.is_foreign(data):  # another array library: its namespace
            backend = backends.backend(data)  # NumPy cotangents move into the library, explicitly
            pairs = [(o, s if isinstance(s, Tensor) or backends.is_foreign(s) else
                      backend.asarray(np.asarray(s, dtype=o.dtype), o._data)) for o, s in pairs]
            if not create_graph:
                return backward([o for o, _ in pairs], [s for _, s in pairs], targets=self.keys, retain_graph=True,
                                accumulate=False, m=backend.m, fast=False)
        if create_graph:
            pairs = [(o, s if isinstance(s, Tensor) else Tensor._make(
                s if backends.is_foreign(s) else np.asarray(s, dtype=o.dtype), None, False)) for o, s in pairs]
            return backward([o for o, _ in pairs], [s for _, s in pairs], targets=self.keys, retain_graph=True,
                            accumulate=False, m=ops.tensor_math, wrap=Tensor._from_node)
        return backward([o for o, _ in pairs], [s for _, s in pairs], targets=self.keys, retain_graph=True,
                        accumulate=False)

    def in_forms(self, grads: list, single: bool | None = None) -> Any:
        """Per-leaf gradients in each leaf's form, rebuilt into each argument's structure."""
        values = [_in_form(g, f, t) for g, f, t in zip(grads, self.forms, self.inputs, strict=True)]
        per_arg, start = [], 0
        for tree in self.trees:
            per_arg.append(tree.unflatten(values[start:start + tree.num_leaves]))
            start += tree.num_leaves
        return per_arg[0] if (self.single if single is None else single) else tuple(per_arg)


def _value_in_form(out: Tensor, trace: _Trace) -> Any:
    """f's value: a Tensor if an argument was one, else a float for a scalar and an ndarray otherwise."""
    if trace.any_tensor or (out.requires_grad and _nesting.depth > 0):
        return out
    if out.ndim == 0:
        return _scalar(np.asarray(out._data))
    return np.asarray(out._data)


def _aux_in_form(aux: Any, trace: _Trace) -> Any:
    """The Tensors in ``aux`` in the form f's value takes; everything else in aux as f returned it."""
    return pytree.tree_map(lambda x: _value_in_form(x, trace) if isinstance(x, Tensor) else x, aux)


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   holomorphic: bool = False) -> Callable:
    """A function returning ``(f(*args), gradient of f)``; f must return a scalar.

    Arguments may be (nested) dicts, lists and tuples; the gradient has the same structure. With ``has_aux=True``
    f returns ``(value, aux)`` and the result is ``((value, aux), gradient)``, as in JAX; aux is not differentiated.
    The scalar must be real (for complex z, the gradient is ∂f/∂x − i ∂f/∂y), unless ``holomorphic=True``: then f
    may return a complex number and the gradient is f'(z), as JAX's ``holomorphic=True``.

    >>> import chainrule as cr
    >>> cr.value_and_grad(lambda x: x ** 2)(3.0)
    (9.0, 6.0)
    >>> cr.value_and_grad(lambda p: p["w"] * p["b"])({"w": 2.0, "b": 3.0})
    (6.0, {'w': 3.0, 'b': 2.0})
    """

    _check_callable(f, "value_and_grad")
    return _value_and_grad(f, argnums, has_aux, holomorphic, "grad")


def _value_and_grad(f: Callable, argnums, has_aux: bool, holomorphic: bool, where: str) -> Callable:
    """value_and_grad, its errors naming ``where`` (the transform the user called: grad, or hessian)."""

    def value_and_grad_f(*args, **kwargs):
        trace = _Trace(f, args, argnums, where, kwargs)
        if has_aux:
            trace.split_aux(where)
        out = trace.output_tensor(where)
        if out.dtype.kind == "b":
            raise TypeError(f"{where} needs a function with a number output, but it returned a boolean (a comparison "
                            "such as np.allclose, which has no derivative); return a float")
        if out.size != 1:
            raise ShapeError(
                f"{where} needs a function with a scalar output, but it returned shape {out.shape}; "
                "reduce it (e.g. .sum()) or use cr.jacobian"
            )
        if out.dtype.kind == "c" and not holomorphic:
            raise TypeError(
                f"{where} needs a real scalar output, but the function returned a complex one ({out.dtype}); take its "
                "real part, imaginary part or modulus (cnp.real, cnp.imag, cnp.abs), or, for a holomorphic f, ask "
                f"for f'(z) with cr.{where}(f, holomorphic=True)"
            )
        data = out._data
        seed = backends.backend(data).xp.ones_like(data) if backends.is_foreign(data) else np.ones_like(data)
        grads = trace.pullback(out, seed)
        value = _value_in_form(out.reshape(()) if out.ndim else out, trace)
        if has_aux:
            return (value, _aux_in_form(trace.aux, trace)), trace.in_forms(grads)
        return value, trace.in_forms(grads)

    value_and_grad_f.__name__ = f"value_and_grad({getattr(f, '__name__', 'f')})"
    return value_and_grad_f


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False, holomorphic: bool = False) -> Callable:
    """The gradient function of a scalar-valued ``f``, in the argument's own form; nests to any order.

    Arguments may be (nested) dicts, lists and tuples; the gradient has the same structure. With ``has_aux=True``
    f returns ``(value, aux)`` and the gradient function returns ``(gradient, aux)``, as in JAX. f's value must be
    real: for complex z the gradient is ∂f/∂x − i ∂f/∂y (HIPS autograd's and JAX's convention). With
    ``holomorphic=True`` f may be complex-valued and holomorphic, and the gradient is f'(z). Keyword arguments
    are passed on to f and not differentiated (as in HIPS autograd and JAX).

    >>> import chainrule as cr
    >>> cr.grad(cr.sin)(0.0)
    1.0
    >>> cr.grad(cr.grad(lambda x: x ** 3))(2.0)
    12.0
    """
    _check_callable(f, "grad")
    vg = value_and_grad(f, argnums, has_aux, holomorphic)

    def grad_f(*args, **kwargs):
        if has_aux:
            (_, aux), g = vg(*args, **kwargs)
            return g, aux
        return vg(*args, **kwargs)[1]

    grad_f.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    return grad_f


def vjp(f: Callable, *primals: Any) -> tuple[Any, Callable]:
    """``(f(*primals), vjp_fn)`` where ``vjp_fn(cotangent)`` returns ⟨cotangent, ∂f/∂primal⟩ for every primal.

    ``vjp_fn`` may be called many times; it always returns a tuple with one entry per primal. f may return a
    container (nested dicts, lists, tuples); the cotangent then has the same structure.
    """
    _check_callable(f, "vjp")
    trace = _Trace(f, primals, tuple(range(len(primals))), "vjp")
    leaves, out_tree = pytree.flatten(trace.output)
    outs = [trace.output_tensor("vjp", o) for o in leaves]

    def vjp_fn(cotangent: Any) -> tuple:
        if out_tree.is_leaf:
            cotangents = [cotangent]
        else:
            cotangents, c_tree = pytree.flatten(cotangent)
            if c_tree != out_tree:
                raise ValueError(f"vjp: the cotangent has structure {c_tree!r}; expected the output's {out_tree!r}")
        # A cotangent that carries an outer graph (vjp_fn differentiated by a transform called later, as the vjp of
        # a vjp) needs the backward pass recorded, even when f was traced outside any transform.
        create_graph = trace.create_graph or (
            is_grad_enabled() and any(isinstance(c, Tensor) and c.requires_grad for c in cotangents)
        )
        seeds = []
        for path, out, c in zip(out_tree.paths(), outs, cotangents, strict=True):
            where = "" if out_tree.is_leaf else f" at {path}"
            if not backends.is_foreign(c):
                _numbers(c, f"vjp: the cotangent{where}")
            if isinstance(c, Tensor) and not create_graph:
                c = c._data
            if np.shape(c) != out.shape:
                raise ShapeError(f"vjp: the cotangent{where} has shape {np.shape(c)}; expected the output's "
                                 f"{out.shape}")
            if isinstance(c, Tensor) or backends.is_foreign(c):
                seeds.append(c)
                continue
            real = out.dtype.kind != "c" and np.iscomplexobj(c)
            if real and np.any(np.imag(c) != 0):
                raise TypeError(f"vjp: the cotangent is complex but the output is real ({out.dtype}); the cotangent "
                                "of a real output is real (casting would drop the imaginary part): pass its real part")
            seeds.append(np.asarray(np.real(c) if real else c, dtype=out.dtype))
        grads = trace.pullback(outs, seeds, create_graph)
        return trace.in_forms(grads, single=False)

    values = [_value_in_form(o, trace) for o in outs]
    return (values[0] if out_tree.is_leaf else out_tree.unflatten(values)), vjp_fn


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Forward mode: ``(f(*primals), ∂f · tangents)``, pushing tangents through the graph with each rule's jvp.

    A primal may be a container; its tangent then has the same structure.
    """
    _check_callable(f, "jvp")
    if not isinstance(primals, tuple | list) or not isinstance(tangents, tuple | list):
        raise TypeError("jvp: primals and tangents must be tuples (one entry per argument of f)")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: got {len(primals)} primals but {len(tangents)} tangents; expected one tangent each")
    trace = _Trace(f, tuple(primals), tuple(range(len(primals))), "jvp")
    out_leaves, out_tree = pytree.flatten(trace.output)
    outs = [trace.output_tensor("jvp", o) for o in out_leaves]
    flat_tangents, names = [], []
    for i, (tangent, tree) in enumerate(zip(tangents, trace.trees, strict=True)):
        leaves, t_tree = pytree.flatten(tangent)
        if t_tree != tree:
            raise ValueError(f"jvp: tangent {i} has structure {t_tree!r}; expected its primal's structure {tree!r}")
        flat_tangents += leaves
        names += [f"{i}" if tree.is_leaf else f"{i} (leaf {path})" for path in tree.paths()]
    # A tangent that carries a graph (a Tensor requiring grad) is differentiated through: record the pushforward.
    create_graph = trace.create_graph or (
        is_grad_enabled() and any(isinstance(t, Tensor) and t.requires_grad for t in flat_tangents)
    )
    seeds = {}
    for name, t, key, tangent in zip(names, trace.inputs, trace.keys, flat_tangents, strict=True):
        if not backends.is_foreign(tangent):
            _numbers(tangent, f"jvp: tangent {name}")
        if np.shape(tangent) != t.shape:
            raise ShapeError(f"jvp: tangent {name} has shape {np.shape(tangent)}; "
                             f"expected its primal's shape {t.shape}")
        values = tangent._data if isinstance(tangent, Tensor) else tangent
        foreign = backends.is_foreign(values)
        if not foreign and t.dtype.kind != "c" and np.iscomplexobj(values) and np.any(np.imag(values) != 0):
            raise TypeError(f"jvp: tangent {name} is complex but its primal is real ({t.dtype}); a real input "
                            "moves along real directions (casting would drop the imaginary part): pass the real "
                            "part, or a complex primal")
        if not foreign and backends.is_foreign(t._data):  # a NumPy tangent of another library's primal moves there
            seeds[key] = backends.backend(t._data).asarray(np.asarray(values, t.dtype), t._data)
            if create_graph:
                seeds[key] = Tensor._make(seeds[key], None, False)
        elif isinstance(tangent, Tensor):
            seeds[key] = tangent if create_graph else tangent._data
        elif foreign:
            seeds[key] = Tensor._make(values, None, False) if create_graph else values
        else:
            real = t.dtype.kind != "c" and np.iscomplexobj(values)  # then with a zero imaginary part
            seeds[key] = np.asarray(np.real(tangent) if real else tangent, dtype=t.dtype)
            if create_graph:
                seeds[key] = Tensor._make(seeds[key], None, False)
    form = TENSOR if trace.any_tensor else (FLOAT if all(f == FLOAT for f in trace.forms) else ARRAY)
    values, tangents_out = [], []
    for out in outs:
        if create_graph:
            with set_grad_enabled(True):
                tangent_out = forward_tangents(out, seeds, ops.tensor_math, Tensor._from_node)
        else:
            data = out._data
            m = backends.backend(data).m if type(data) is not np.ndarray and backends.is_foreign(data) else numpy_math
            tangent_out = forward_tangents(out, seeds, m)
        values.append(_value_in_form(out, trace))
        tangents_out.append(_in_form(tangent_out, form, out))
    if out_tree.is_leaf:
        return values[0], tangents_out[0]
    return out_tree.unflatten(values), out_tree.unflatten(tangents_out)


def jacobian(f: Callable, argnums: int | Sequence[int] = 0, holomorphic: bool = False) -> Callable:
    """The Jacobian function of ``f``: shape ``output.shape + input.shape`` for each argument in ``argnums``.

    Containers on either side nest as in JAX: for each output leaf, the argument's structure of Jacobians.
    Complex inputs: a real-valued f gives the gradients ∂f/∂x − i ∂f/∂y as rows (as ``cr.grad``); a complex-valued
    f has a Jacobian only if it is holomorphic, so that case raises TypeError unless ``holomorphic=True`` (as in
    JAX), which gives f′(z).

    >>> import chainrule as cr, numpy as np
    >>> cr.jacobian(lambda x: x ** 2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    >>> cr.jacobian(lambda z: z ** 2, holomorphic=True)(np.array([1j]))
    array([[0.+2.j]])
    """
    return _jacobian(f, argnums, holomorphic, "jacobian")


def _jacobian(f: Callable, argnums, holomorphic: bool, where: str) -> Callable:
    _check_callable(f, where)

    def jacobian_f(*args, **kwargs):
        trace = _Trace(f, args, argnums, where, kwargs)
        complex_input = any(t.dtype.kind == "c" for t in trace.inputs)
        if holomorphic and not all(t.dtype.kind == "c" for t in trace.inputs):
            dtypes = ", ".join(str(t.dtype) for t in trace.inputs)
            raise TypeError(f"{where}(holomorphic=True) needs complex inputs, got dtype {dtypes}; pass them as "
                            "complex arrays (x.astype(complex)) or drop holomorphic=True")
        leaves, tree = pytree.flatten(trace.output)
        outs = [trace.output_tensor(where)] if tree.is_leaf else [trace.output_tensor(where, o) for o in leaves]
        if complex_input and not holomorphic and any(o.dtype.kind == "c" for o in outs):
            what = ("the gradient of a function of complex input is complex-valued and not holomorphic"
                    if where == "hessian" else "f has complex input and complex output")
            raise TypeError(
                f"{where}: {what}, and such a map has a Jacobian (f′(z)) only if it is holomorphic; pass "
                f"holomorphic=True if it is (cr.{where}(f, holomorphic=True)), or split it into real and imaginary "
                "parts (cnp.real, cnp.imag) and differentiate those"
            )
        if tree.is_leaf:
            return _jacobian_of(trace, outs[0])
        return tree.unflatten([_jacobian_of(trace, o) for o in outs])

    jacobian_f.__name__ = f"{where}({getattr(f, '__name__', 'f')})"
    return jacobian_f


def _jacobian_of(trace: _Trace, out: Tensor):
    rows_of = _jacobian_rows_differentiable if trace.create_graph else _jacobian_rows_batched
    rows = rows_of(trace, out)
    if out.dtype.kind == "c" and all(t.dtype.kind != "c" for t in trace.inputs):
        # Complex output, real inputs: a cotangent g gives Re(g·J), so J = vjp(1) + i·vjp(−i), row by row. (For
        # complex inputs, seeds of 1 give the holomorphic Jacobian f'(z), as autograd's jacobian does.)
        imaginary = rows_of(trace, out, -1j)
        rows = [r + 1j * q for r, q in zip(rows, imaginary, strict=True)]
    reshape = batching.namespace(out._data).unbatched.reshape
    return trace.in_forms([reshape(r, out.shape + t.shape) if not isinstance(r, Tensor)
                           else ops.reshape(r, out.shape + t.shape) for r, t in zip(rows, trace.inputs, strict=True)])


# How many cotangents travel together through one backward pass (bounds the memory of a batched pass).
_BATCH_ELEMENTS = 1 << 22


def _jacobian_rows_batched(trace: _Trace, out: Tensor, scale: complex = 1) -> list[np.ndarray]:
    """The Jacobian of each input as (out.size, input.size), from batched backward passes (one per chunk)."""
    m = batching.namespace(out._data)  # the seeds, and every row, in out's library and on its device
    xp, inner = m.xp, m.unbatched
    width = max(sum(t.size for t in trace.inputs), 1)
    chunk = max(1, min(out.size, _BATCH_ELEMENTS // width))
    blocks: list[list] = [[] for _ in trace.inputs]
    _check_jacobian_fits(out.size, width, out.dtype)
    for start in range(0, out.size, chunk):
        count = min(chunk, out.size - start)
        rows = xp.eye(count, out.size, k=start, dtype=out._data.dtype,  # unit vectors e_start ... e_end-1
                      **({} if xp is np else {"device": backends.device(out._data)}))
        if scale != 1:
            rows = rows * scale
        seed = batching.Batched(inner.reshape(rows, (count, *out.shape)), basis=start if scale == 1 else None)
        grads = (backward([out], [seed], targets=trace.keys, retain_graph=True, accumulate=False, m=m)
                 if out.requires_grad else [None] * len(trace.inputs))
        for i, (g, t) in enumerate(zip(grads, trace.inputs, strict=True)):
            value = _zeros(t, (count, *t.shape)) if g is None else g.value
            blocks[i].append(inner.reshape(inner.broadcast_to(value, (count, *t.shape)), (count, t.size)))
    return [inner.concatenate(b, axis=0) if b else _zeros(t, (0, t.size)) for b, t in zip(blocks, trace.inputs,
                                                                                             strict=True)]


def _check_jacobian_fits(rows: int, columns: int, dtype) -> None:
    """A clear MemoryError, before any work, when the Jacobian cannot be held (NumPy's would come from deep inside)."""
    size = rows * columns * np.dtype(dtype).itemsize
    try:
        np.empty(size, dtype=np.uint8)  # asks for the bytes once, untouched (so no page is filled)
    except MemoryError:
        raise MemoryError(
            f"jacobian: the Jacobian has {rows:,} × {columns:,} entries ({size / 2**30:.1f} GiB), more than this "
            "machine can allocate; products with it (cr.vjp, cr.jvp) need no more memory than the function"
        ) from None


def _jacobian_rows_differentiable(trace: _Trace, out: Tensor, scale: complex = 1) -> list:
    """Row by row, recording each backward pass, so the Jacobian itself can be differentiated (nesting)."""
    _check_jacobian_fits(out.size, sum(t.size for t in trace.inputs), out.dtype)  # before out.size recorded passes
    rows: list[list] = [[] for _ in trace.inputs]
    for k in range(out.size):
        seed = np.zeros(out.size, dtype=out.dtype)
        seed[k] = scale
        grads = trace.pullback(out, seed.reshape(out.shape))
        for i, (g, t) in enumerate(zip(grads, trace.inputs, strict=True)):
            rows[i].append(ops.reshape(g, (t.size,)) if isinstance(g, Tensor) else
                           Tensor._make(_zeros(t, (t.size,)) if g is None else np.ravel(g), None, False))
    return [ops.stack(r) if r else Tensor._make(_zeros(t, (0, t.size)), None, False)
            for r, t in zip(rows, trace.inputs, strict=True)]


def hessian(f: Callable, argnums: int | Sequence[int] = 0, holomorphic: bool = False) -> Callable:
    """The Hessian function of a scalar-valued ``f``: ``jacobian(grad(f))``. For complex inputs it raises TypeError
    unless f is holomorphic and ``holomorphic=True`` is passed (then f″(z)), as in JAX.

    >>> import chainrule as cr, numpy as np
    >>> cr.hessian(lambda x: (x ** 3).sum())(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    _check_callable(f, "hessian")
    value_and_gradient = _value_and_grad(f, argnums, False, holomorphic, "hessian")

    def gradient(*args, **kwargs):
        return value_and_gradient(*args, **kwargs)[1]

    h = _jacobian(gradient, argnums, holomorphic, "hessian")
    h.__name__ = f"hessian({getattr(f, '__name__', 'f')})"
    return h
