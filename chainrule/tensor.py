"""The Tensor: a NumPy array (or another Array API library's array), its gradient, and a link to the graph node
that produced it.

Tensor knows no derivatives and no op: ``chainrule.ops`` installs its operators and methods (its own functions,
which apply rules from the table). A Tensor holds ``data`` (an ndarray), ``grad`` (a Tensor or None),
``requires_grad``, and ``node`` (the graph node that made it; None for a leaf).
"""

from __future__ import annotations

import functools
import math
import numbers
import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .engine import Node, TrackedArray, backends, hooks, set_grad_enabled
from .engine import backward as backpropagate  # the engine's backward, which Tensor.backward calls
from .errors import GraphError, ShapeError

_new = object.__new__
_GRAD_LOCK = threading.Lock()  # guards every leaf's .grad update (see Tensor._accumulate_grad)

_REAL_KINDS = "biufc"  # bool, integers, floats and complex numbers
_INEXACT = "fc"  # the kinds that carry gradients


def _as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """``data`` as an ndarray of a real numeric dtype, with chainrule's messages for everything else."""
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"unknown dtype {dtype!r}; expected e.g. 'float32', 'float64', 'int64' or 'bool'") from None
        if dtype.kind not in _REAL_KINDS:
            raise TypeError(f"dtype {dtype} is not supported; chainrule works with numbers (bool, int, float, complex)")
    if isinstance(data, Tensor):
        data = data._data
    if type(data) is not np.ndarray:
        if backends.is_foreign(data):
            return _foreign_array(data, dtype)
        refuse_masked(data, "tensor")
    try:
        array = np.array(data, dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise TypeError(
            f"cannot make a tensor from {type(data).__name__} data ({exc}); "
            "expected numbers, nested lists of equal lengths, or a NumPy array"
        ) from None
    if array.dtype.kind not in _REAL_KINDS:
        raise TypeError(
            f"cannot make a tensor from data of dtype {array.dtype} ({type(data).__name__}); "
            "expected numbers (bool, int, float or complex)"
        )
    return array


def refuse_masked(data: Any, where: str) -> None:
    """TypeError for a NumPy masked array: converting it would silently use the values its mask hides."""
    if isinstance(data, np.ndarray) and type(data).__module__.startswith("numpy.ma"):
        raise TypeError(f"{where}: a masked array's mask would be lost (its hidden values would count); pass "
                        "np.ma.filled(x, value), or the data and the mask separately (e.g. cr.where(mask, 0, x))")


def _foreign_array(data: Any, dtype: Any) -> Any:
    """An array of another library (CuPy, PyTorch, array-api-strict...), kept in that library and on its device."""
    kind = backends.numpy_dtype(data.dtype).kind
    if kind not in _REAL_KINDS:
        raise TypeError(f"cannot make a tensor from data of dtype {data.dtype}; expected numbers (bool, int, float "
                        "or complex)")
    backend = backends.backend(data)
    if dtype is not None:
        return backend.m.astype(data, dtype)
    return backend.xp.asarray(data, copy=True)  # a copy, as cr.tensor makes of a NumPy array


def _foreign_message(data: Any, what: str) -> str:
    name = type(data).__module__.partition(".")[0]
    return (f"{what} of a tensor that holds {name} data (on device {backends.device(data)}) would copy it to the "
            f"host silently; move it explicitly with t.to(numpy) (import numpy), or keep computing with chainrule "
            f"in {name}")


class Tensor:
    """An n-dimensional array that records the operations applied to it, for reverse-mode differentiation.

    >>> import chainrule as cr
    >>> x = cr.tensor(2.0, requires_grad=True)
    >>> y = x ** 3
    >>> y.backward()
    >>> float(x.grad)
    12.0
    """

    # _data: the values. A 0-d result of an op holds a NumPy scalar there (NumPy's scalar arithmetic is ten times
    # cheaper than on 0-d arrays); ``.data`` turns it into a 0-d array the first time it is read, so users always see
    # an array (and in-place changes to it stick). _view: the TrackedArray that ``.data`` handed out for _data, made
    # on the first read (never by ops, which read _data); see chainrule.engine.versions.
    __slots__ = ("__weakref__", "_data", "_hooks", "_view", "grad", "node", "requires_grad")
    _math: Any = None  # the differentiable math namespace (chainrule.ops installs it): create_graph's rules use it
    # NumPy's protocols: np.sin(t), np.sum(t, axis=0), np.dot(t, t), ndarray + t run chainrule.numpy's functions.
    # The module that does it (chainrule.numpy._protocol) is above this layer: chainrule's __init__ installs a loader.
    _numpy_protocol: Any = None

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return Tensor._numpy_protocol.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return Tensor._numpy_protocol.array_function(func, types, args, kwargs)

    __hash__ = object.__hash__  # identity: `==` is elementwise

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        self._data = _as_array(data, dtype)
        self.grad: Tensor | None = None
        self.node = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_()

    @classmethod
    def _make(cls, data: np.ndarray, node, requires_grad: bool) -> Tensor:
        """Fast construction for results of ops: no checks, no copies."""
        t = object.__new__(Tensor)
        t._data = data
        t.grad = None
        t.node = node
        t.requires_grad = requires_grad
        return t

    @classmethod
    def _from_node(cls, node, value: Any = None) -> Tensor:
        """A Tensor standing for a node's output (or ``value``, a copy of it that another node kept), connected to
        the graph (used to differentiate derivatives); with no node, ``value`` as a constant."""
        return cls._make(node.output if value is None else value, node, node is not None)

    # -----------------------------------------------------------------------------------------------------------
    # Attributes.
    # -----------------------------------------------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The values: a NumPy array (0-d for a scalar tensor), the tensor's own memory; for a tensor of another
        array library (CuPy, PyTorch...), that library's array itself, on its device.

        Changing it in place after an op saved it for backward makes that backward raise GraphError (a version
        counter, see ``chainrule.engine.versions``); assigning ``t.data = new_array`` replaces the values instead.
        Writes that go around NumPy's Python-level methods are not seen: through ``np.asarray(t.data)`` or
        ``np.asarray(t)``, ``np.ndarray.sort(t.data)``, ``.flat[...] =``, or another library sharing the memory
        (``torch.from_numpy``); change a copy in those cases.
        """
        if type(self._data) is not np.ndarray and backends.is_foreign(self._data):
            return self._data  # another library's array, as it is (no version tracking there)
        data = self._array()
        view = getattr(self, "_view", None)
        if view is None or view.base is not data:  # a TrackedArray view's base is the plain array it views
            view = self._view = data.view(TrackedArray)
        return view

    @data.setter
    def data(self, value: Any) -> None:
        """Replace the values: ``t.data = array`` (no copy of an ndarray), a Tensor's values, or numbers/lists.

        The dtype must be real (bool, int or float), as for ``cr.tensor``, and floating point if the tensor
        requires a gradient; anything else is a TypeError. Another shape is allowed, as in PyTorch, where
        ``p.data = new`` is the usual way to swap a parameter's storage: the graph recorded before still refers
        to the old array, and the next op sees the new one.
        """
        if type(value) is TrackedArray:
            if value is getattr(self, "_view", None) and value.base is self._data:  # t.data += 1 assigns back
                return  # the array it changed: nothing to replace
            value = value.view(np.ndarray)  # the same memory, as a plain array for the ops to read
        elif isinstance(value, Tensor):
            value = value._data if backends.is_foreign(value._data) else value._array()
        elif backends.is_foreign(value):
            value = _foreign_array(value, None)
        elif isinstance(value, np.ndarray):
            value = np.asarray(value)  # a subclass (np.matrix, ...) as a plain array over the same memory
        elif isinstance(value, numbers.Number | np.generic | list | tuple):
            value = _as_array(value)  # refuses ragged or non-numeric lists with cr.tensor's message
        else:
            raise TypeError(f"Tensor.data must be a NumPy array, a Tensor, a number or a (nested) list of numbers, "
                            f"not {type(value).__name__}")
        if backends.numpy_dtype(value.dtype).kind not in _REAL_KINDS:
            raise TypeError(f"Tensor.data must hold numbers (bool, int, float or complex), as cr.tensor does; got an "
                            f"array of dtype {value.dtype}")
        if self.requires_grad and backends.numpy_dtype(value.dtype).kind not in _INEXACT:
            raise TypeError(f"this tensor requires a gradient, so its data must be floating point or complex "
                            f"(float32, float64, complex64, complex128); got dtype {value.dtype}. "
                            f"Convert it first, e.g. array.astype('float64')")
        self._data = value

    def _array(self) -> np.ndarray:
        """``_data`` as an ndarray (a 0-d op result holds a NumPy scalar until someone asks for an array)."""
        data = self._data
        if type(data) is not np.ndarray:
            if backends.is_foreign(data):
                raise TypeError(_foreign_message(data, "a NumPy array"))
            data = self._data = np.asarray(data)
        return data

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        size = self._data.size
        return size if type(size) is int else math.prod(self._data.shape)  # torch's size is a method

    @property
    def dtype(self) -> np.dtype:
        """The dtype, as a NumPy dtype (for another library's array, NumPy's dtype of the same name)."""
        dtype = self._data.dtype
        return dtype if isinstance(dtype, np.dtype) else backends.numpy_dtype(dtype)

    @property
    def device(self) -> Any:
        """Where the values live: 'cpu' for NumPy, else the library's device object."""
        data = self._data
        if type(data) is np.ndarray or not backends.is_foreign(data):
            return "cpu"
        return backends.device(data)

    def to(self, target: Any) -> Tensor:
        """A copy of this tensor in another array library or on another device: an explicit transfer.

        ``target``: a library (``numpy``, ``torch``, ``cupy``, ``array_api_strict``) or a device of one
        (``torch.device('cuda')``, ``array_api_strict.Device('device1')``). A leaf's copy is a new leaf that requires
        a gradient if this tensor does; a result of an op moves differentiably (its gradient moves back).

        >>> import numpy, chainrule as cr
        >>> cr.tensor([1.0, 2.0]).to(numpy).tolist()
        [1.0, 2.0]
        """
        if self.node is not None:
            return Tensor._math.move(self, target)
        return Tensor._make(backends.move(self._data, target), None, self.requires_grad)

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (not by an op that recorded a graph)."""
        return self.node is None

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array: ``.data``, the same memory (a TypeError for another library's tensor: use
        ``t.to(numpy)``, an explicit copy)."""
        if type(self._data) is not np.ndarray and backends.is_foreign(self._data):
            raise TypeError(_foreign_message(self._data, "numpy()"))
        return self.data

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        data = self._data
        if type(data) is np.ndarray and data.size == 1:  # the common case, without the size property's object
            return data.item()
        if self.size != 1:
            raise ShapeError(f"item() needs a tensor with one element, but this one has shape {self.shape}")
        if type(self._data) is not np.ndarray and backends.is_foreign(self._data):
            kind = self.dtype.kind
            return (bool if kind == "b" else int if kind in "iu" else complex if kind == "c" else float)(self._data)
        return self._data.item()

    def tolist(self) -> Any:
        """The values as nested Python lists (for another library's tensor, a copy to the host: you asked)."""
        data = self._data
        if type(data) is not np.ndarray and backends.is_foreign(data):
            return backends.to_numpy(data).tolist()
        return data.tolist()

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if type(self._data) is not np.ndarray and backends.is_foreign(self._data):
            raise TypeError(_foreign_message(self._data, "np.asarray"))
        # An explicit cast to integers or booleans (np.int64(t), np.asarray(t, dtype=int)) has no gradient by
        # definition, as astype to int; anything else would silently lose the gradient.
        explicit_integer = dtype is not None and np.dtype(dtype).kind in "iub"
        if self.requires_grad and not explicit_integer:  # np.asarray(t), np.array([t1, t2])
            raise TypeError(
                "a tensor that requires grad cannot become a NumPy array implicitly (np.asarray, np.array, or a "
                "NumPy function that converts its input): its gradient would silently be lost. Use NumPy's "
                "functions on the tensor itself or chainrule.numpy (import chainrule.numpy as cnp) to keep the "
                "gradient, cr.stack([t1, t2]) for a list of tensors, or t.detach().numpy() for constant values"
            )
        data = self._array()
        if self.requires_grad:  # the integer case: NumPy casts by its own rules (np.int64(t) truncates, while
            return data.copy()  # np.take(a, t) refuses float indices as it does for an array)
        if dtype is not None and dtype != data.dtype:
            return data.astype(dtype)
        return data.copy() if copy else data

    def __float__(self) -> float:
        if self.dtype.kind == "c":
            raise TypeError("float() of a complex tensor would drop its imaginary part; use complex(t), or float() "
                            "of t.real, t.imag or abs(t)")
        return float(self._number("float"))

    def __complex__(self) -> complex:
        return complex(self._number("complex"))

    def __int__(self) -> int:
        if self._data.dtype.kind == "c":
            raise TypeError("int() of a complex tensor would drop its imaginary part; use complex(t), or int() "
                            "of t.real, t.imag or abs(t)")
        return int(self._number("int"))

    def _number(self, function: str) -> float | int | bool:
        if self.size != 1:  # as NumPy: only a one-element array is a number
            raise TypeError(f"{function}() of a tensor of shape {self.shape}: only a one-element tensor is a number; "
                            "reduce it first (e.g. t.sum()), or take one element (t[0])")
        return self.item()

    def __index__(self) -> int:
        if self.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, not {self.dtype}")
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; use (t).all() or (t).any()"
            )
        return bool(self._data)

    def all(self, axis: Any = None, keepdims: bool = False) -> Any:
        """Whether every element is true: a bool, or NumPy's boolean array along ``axis`` (no gradient)."""
        return self._truth("all", axis, keepdims)

    def any(self, axis: Any = None, keepdims: bool = False) -> Any:
        """Whether some element is true: a bool, or NumPy's boolean array along ``axis`` (no gradient)."""
        return self._truth("any", axis, keepdims)

    def _truth(self, name: str, axis: Any, keepdims: bool) -> Any:
        xp = backends.backend(self._data).xp if backends.is_foreign(self._data) else np
        if axis is None and not keepdims:
            return bool(getattr(xp, name)(self._data))
        return getattr(xp, name)(self._data, axis=axis, keepdims=keepdims)

    def __repr__(self) -> str:
        if type(self._data) is not np.ndarray and backends.is_foreign(self._data):
            grad = f", grad_fn={self.node.rule.name}" if self.node is not None else (
                ", requires_grad=True" if self.requires_grad else "")
            return f"tensor({self._data!r}{grad})"  # the library's own display, on its device
        body = np.array2string(np.asarray(self._data), separator=", ", prefix="tensor(")
        extras = []
        if self.dtype not in (np.float64, np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.node is not None:
            extras.append(f"grad_fn={self.node.rule.name}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}{''.join(', ' + e for e in extras)})"

    # -----------------------------------------------------------------------------------------------------------
    # Gradients.
    # -----------------------------------------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark a leaf tensor as needing a gradient (in place); returns the tensor."""
        if requires_grad and self.dtype.kind not in _INEXACT:
            raise TypeError(
                f"only floating-point or complex tensors can require gradients, but this one has dtype {self.dtype}; "
                "make it with dtype='float64' (or float32)"
            )
        if not requires_grad and self.node is not None:
            raise GraphError("requires_grad_(False) works on leaf tensors only; use .detach() for a result of an op")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A new leaf sharing the same data, cut from the graph."""
        data = self._data
        return Tensor._make(data if backends.is_foreign(data) else self._array(), None, False)

    def backward(self, grad: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Backpropagate from this tensor, adding d(self)/d(leaf) to each leaf's ``.grad``.

        A scalar needs no ``grad``; otherwise ``grad`` (the upstream gradient, of this tensor's shape) is required.
        ``create_graph=True`` records the backward pass too, so the gradients can be differentiated again.
        """
        if not self.requires_grad:
            raise GraphError(
                "backward() on a tensor that does not require grad: no input of its computation was made with "
                "requires_grad=True (or it was computed inside no_grad())"
            )
        data = self._data
        if type(data) is not np.ndarray and backends.is_foreign(data):
            self._backward_foreign(grad, retain_graph, create_graph)
            return
        if grad is None:
            if self._data.size != 1:
                raise ShapeError(
                    f"backward() on a tensor of shape {self.shape} needs `grad` of shape {self.shape}, "
                    "or reduce it to a scalar first, e.g. y.sum().backward()"
                )
            if self._data.dtype.kind == "c":
                raise TypeError(
                    f"backward() on a complex tensor ({self.dtype}) needs an explicit `grad`: a gradient is taken of "
                    "a real loss, e.g. y.real.backward() or abs(y).backward(); y.backward(grad=1) gives the "
                    "holomorphic derivative"
                )
            seed = np.ones_like(self._data) if self._data.ndim else self._data.dtype.type(1)
        else:
            seed = grad._data if isinstance(grad, Tensor) and not create_graph else grad
            values = seed.data if isinstance(seed, Tensor) else seed
            if self._data.dtype.kind != "c" and np.iscomplexobj(values) and np.any(np.imag(values) != 0):
                raise TypeError(
                    f"backward(): `grad` is complex but the tensor is real ({self.dtype}); the gradient of a real "
                    "tensor is real (casting would drop the imaginary part): pass the real part, or compute in "
                    "complex numbers"
                )
            if not isinstance(seed, Tensor):
                real = self._data.dtype.kind != "c" and np.iscomplexobj(values)
                seed = np.asarray(np.real(seed) if real else seed, dtype=self.dtype)  # a zero imaginary part
            if seed.shape != self.shape:
                raise ShapeError(f"backward(): `grad` has shape {seed.shape}; expected the tensor's shape {self.shape}")
        if create_graph and not isinstance(seed, Tensor):
            seed = Tensor._make(seed, None, False)
        if create_graph:  # the rules compute on Tensors (the namespace ops installs as Tensor._math): recorded
            backpropagate([self], [seed], retain_graph=True, m=Tensor._math, wrap=Tensor._from_node)
        else:
            backpropagate([self], [seed], retain_graph=retain_graph)

    def _backward_foreign(self, grad: Any, retain_graph: bool, create_graph: bool) -> None:
        """backward() on another library's tensor: the seed made there (on its device), the plain backward loop
        with that library's math namespace, so every gradient stays in the library and on the device."""
        backend = backends.backend(self._data)
        if grad is None:
            if self.size != 1:
                raise ShapeError(f"backward() on a tensor of shape {self.shape} needs `grad` of shape {self.shape}, "
                                 "or reduce it to a scalar first, e.g. y.sum().backward()")
            seed = backend.xp.ones_like(self._data)
        else:
            seed = grad._data if isinstance(grad, Tensor) and not (create_graph and grad.requires_grad) else grad
            if not isinstance(seed, Tensor) and not backends.is_foreign(seed):  # a NumPy or list gradient moves
                seed = backend.asarray(np.asarray(seed, dtype=self.dtype), self._data)  # into the library, explicitly
            if tuple(seed.shape) != tuple(self.shape):
                raise ShapeError(f"backward(): `grad` has shape {seed.shape}; expected the tensor's shape {self.shape}")
        if create_graph:  # the rules compute on Tensors of the library: the backward pass is recorded
            seed = seed if isinstance(seed, Tensor) else Tensor._make(seed, None, False)
            backpropagate([self], [seed], retain_graph=True, m=Tensor._math, wrap=Tensor._from_node)
        else:
            backpropagate([self], [seed], retain_graph=retain_graph, m=backend.m, fast=False)

    def _accumulate_grad(self, g: Any) -> None:
        """Add ``g`` to ``.grad`` (never in place: an earlier ``.grad`` Tensor keeps its values).

        Under a lock: backward passes in several threads may reach the same leaf, and a read-add-write that another
        thread interleaves would lose its update.
        """
        data = self._data
        if type(g) is not np.ndarray or type(data) is not np.ndarray or g.dtype != data.dtype \
                or g.shape != data.shape:  # all but the common case
            g = self._other_grad(g)
            if g is None:
                return
        _GRAD_LOCK.acquire()  # not `with`: half the cost, on every leaf of every backward
        try:
            self.grad = Tensor._make(g if self.grad is None else self.grad._data + g, None, False)
        finally:
            _GRAD_LOCK.release()

    def _accumulate_grads(self, gradients: dict) -> None:
        """``_accumulate_grad`` of each leaf Tensor among the keys of ``gradients`` (graph nodes are skipped), under
        one lock: what backward does at its end. ``self`` is any of the leaves."""
        others = []
        _GRAD_LOCK.acquire()
        try:
            for leaf, g in gradients.items():
                if type(leaf) is Node:
                    continue
                data = leaf._data
                if type(g) is not np.ndarray or type(data) is not np.ndarray or g.dtype != data.dtype \
                        or g.shape != data.shape:  # all but the common case, after the lock
                    others.append((leaf, g))
                    continue
                grad = leaf.grad
                t = _new(Tensor)
                t._data, t.grad, t.node, t.requires_grad = g if grad is None else grad._data + g, None, None, False
                leaf.grad = t
        finally:
            _GRAD_LOCK.release()
        for leaf, g in others:
            leaf._accumulate_grad(g)

    def _other_grad(self, g: Any) -> np.ndarray | None:
        """``_accumulate_grad`` of a Tensor (create_graph) or another library's gradient (done here: None), or the
        NumPy gradient of the tensor's dtype and shape to add."""
        if isinstance(g, Tensor):
            if g.shape != self._data.shape:
                raise self._wrong_grad_shape(g.shape)
            if g.dtype != self.dtype:
                g = g.astype(self.dtype)
            _GRAD_LOCK.acquire()
            try:
                self.grad = g if self.grad is None else self.grad + g
            finally:
                _GRAD_LOCK.release()
            return None
        if type(g) is not np.ndarray and backends.is_foreign(self._data):
            self._accumulate_foreign(g)
            return None
        if type(g) is not np.ndarray or g.dtype != self._data.dtype:
            g = np.asarray(g, dtype=self._data.dtype)
        if g.shape != self._data.shape:
            raise self._wrong_grad_shape(g.shape)
        return g

    def _accumulate_foreign(self, g: Any) -> None:
        """``_accumulate_grad`` for another library's tensor: the gradient stays in the library, on the device."""
        if not backends.is_foreign(g):  # a number or NumPy value from a constant derivative: moved in, explicitly
            g = backends.backend(self._data).asarray(np.asarray(g, dtype=self.dtype), self._data)
        if tuple(g.shape) != tuple(self._data.shape):
            raise self._wrong_grad_shape(tuple(g.shape))
        if g.dtype != self._data.dtype:
            g = backends.backend(self._data).xp.astype(g, self._data.dtype)
        _GRAD_LOCK.acquire()
        try:
            self.grad = Tensor._make(g if self.grad is None else self.grad._data + g, None, False)
        finally:
            _GRAD_LOCK.release()

    def _wrong_grad_shape(self, shape: tuple[int, ...]) -> GraphError:
        # Never kept as .grad: a gradient of another shape would broadcast silently into wrong numbers later.
        return GraphError(f"backward computed a gradient of shape {shape} for a leaf of shape {self.shape}; "
                          "this is a bug in chainrule's engine or in a rule's vjp, please report it")

    # -----------------------------------------------------------------------------------------------------------
    # Gradient hooks, as PyTorch's (chainrule.engine.hooks runs them): see a gradient while backward computes it.
    # -----------------------------------------------------------------------------------------------------------
    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> hooks.RemovableHandle:
        """Call ``hook(grad)`` with this tensor's gradient each time a backward pass computes it; a Tensor it returns
        replaces the gradient (what flows on, or what a leaf accumulates), None keeps it. Hooks run in the order
        they were registered; for a leaf, before its ``.grad`` is updated. Returns a handle: ``handle.remove()``.

        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> h = x * 3
        >>> _ = h.register_hook(lambda g: print("dL/dh =", g.tolist()))
        >>> (h ** 2).sum().backward()
        dL/dh = [6.0, 12.0]
        """
        self._check_hook(hook, "register_hook")
        return hooks.add_hook(self if self.node is None else self.node, _gradient_hook(hook))

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> hooks.RemovableHandle:
        """Call ``hook(tensor)`` on this leaf after backward added to its ``.grad`` (e.g. to update it right away)."""
        self._check_hook(hook, "register_post_accumulate_grad_hook")
        if self.node is not None:
            raise GraphError("post accumulate grad hooks cannot be registered on non-leaf tensors (a result of an op "
                             "has no .grad to update); use register_hook, or retain_grad() to keep its gradient")
        ref = weakref.ref(self)

        def after_accumulation() -> None:
            tensor = ref()
            if tensor is not None:
                hook(tensor)

        return hooks.add_hook(self, after_accumulation, "post")

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (it adds up over backward calls, as a
        leaf's does); on a leaf, which keeps it anyway, nothing to do. Set after this tensor's other hooks ran.

        >>> import chainrule as cr
        >>> x = cr.tensor(2.0, requires_grad=True)
        >>> h = x * x
        >>> h.retain_grad()
        >>> (3 * h).backward()
        >>> float(h.grad), float(x.grad)
        (3.0, 12.0)
        """
        if not self.requires_grad:
            raise GraphError("can't retain_grad on a tensor that does not require grad (requires_grad=False): no "
                             "gradient is computed for it")
        if self.node is not None and not hooks.retains(self.node, self):
            hooks.set_retain(self.node, self, _retained(weakref.ref(self)))

    @property
    def retains_grad(self) -> bool:
        """Whether this non-leaf tensor keeps its gradient in ``.grad`` (``retain_grad()``); False for a leaf."""
        return self.node is not None and hooks.retains(self.node, self)

    def _check_hook(self, hook: Any, where: str) -> None:
        if not callable(hook):
            raise TypeError(f"{where} expects a function, got {type(hook).__name__} {hook!r:.60}")
        if not self.requires_grad:
            raise GraphError(f"cannot register a hook on a tensor that doesn't require gradient: no gradient is "
                             f"computed for it; make the leaf with requires_grad=True ({where})")

    def __setitem__(self, index, value):
        raise TypeError(
            "tensors do not support item assignment (it would silently break gradients); build a new tensor with "
            "cr.where(mask, value, t), or change t.data directly on a tensor that needs no gradient"
        )

    # Operators (+ - * / ** @, comparisons, indexing), ``.T`` and the methods that mirror chainrule's functions
    # (``t.sum()``, ``t.reshape()``, ``t.exp()``...) are those functions themselves, installed on the class by
    # chainrule.ops: this module knows no op.


def _gradient_hook(hook: Callable) -> Callable:
    """The engine's form of a user's gradient hook: raw gradients in and out (Tensors under create_graph). Outside
    create_graph the hook runs without recording, as backward itself does (PyTorch's grad mode in backward)."""
    name = getattr(hook, "__name__", type(hook).__name__)

    def run(g: Any) -> Any:
        if isinstance(g, Tensor):
            result = hook(g)
        else:
            with set_grad_enabled(False):
                result = hook(Tensor._make(g, None, False))
        return None if result is None else hook_gradient(result, g, f"the hook {name!r}")

    return run


def hook_gradient(result: Any, g: Any, where: str) -> Any:
    """A hook's replacement for the gradient ``g``, in g's form (an array, or a Tensor under create_graph), checked
    as PyTorch checks it: a Tensor of g's shape and dtype."""
    shape = tuple(g.shape) if hasattr(g, "shape") else np.shape(g)
    if not isinstance(result, Tensor):
        raise TypeError(f"{where} returned {type(result).__name__} {result!r:.40}; expected a Tensor of the gradient's "
                        f"shape {shape}, or None to keep the gradient")
    if tuple(result.shape) != shape:
        raise ShapeError(f"{where} changed the gradient's shape from {shape} to {tuple(result.shape)}; a hook must "
                         "return a gradient of the same shape (or None)")
    dtype = getattr(g, "dtype", None)
    if not isinstance(dtype, np.dtype):  # a Python number's, or another library's dtype
        dtype = np.result_type(g) if dtype is None else backends.numpy_dtype(dtype)
    if result.dtype != dtype:
        raise TypeError(f"{where} changed the gradient's dtype from {dtype} to {result.dtype}; return it in {dtype} "
                        f"(e.g. g.astype('{dtype}')), or None to keep the gradient")
    return result if isinstance(g, Tensor) else result._data


def _retained(ref: weakref.ref) -> Callable[[Any], None]:
    """retain_grad's function: the tensor's ``.grad`` plus the gradient (a copy: later in-place changes to either
    array must not reach the other)."""

    def keep(g: Any) -> None:
        tensor = ref()
        if tensor is None:
            return
        if isinstance(g, Tensor):  # create_graph: a Tensor in the graph
            tensor.grad = g if tensor.grad is None else tensor.grad + g
            return
        if backends.is_foreign(g):
            g = backends.backend(g).xp.asarray(g, copy=True)
        else:
            g = np.array(g)
        tensor.grad = Tensor._make(g if tensor.grad is None else tensor.grad._data + g, None, False)

    return keep


def as_tensor(x: Any) -> Tensor:
    """``x`` itself if it is a Tensor, else a constant Tensor of it."""
    return x if isinstance(x, Tensor) else Tensor(x)


# ---------------------------------------------------------------------------------------------------------------
# Creation functions.
# ---------------------------------------------------------------------------------------------------------------
def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data``; dtype follows NumPy (Python floats -> float64).

    >>> tensor([1.0, 2.0], requires_grad=True)
    tensor([1., 2.], requires_grad=True)
    """
    if isinstance(data, list | tuple) and Tensor._math is not None and Tensor._math.holds_tensor(data):
        # [x, 2 * x]: stacked differentiably (chainrule.ops's stack), never copied into a constant
        stacked = Tensor._math.stack_nested(data)
        if stacked.requires_grad:
            if dtype is not None and np.dtype(dtype) != stacked.dtype:
                stacked = Tensor._math.astype(stacked, dtype)
            return stacked
        data = stacked._data
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def _shape(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
        if not isinstance(shape[0], tuple | list):
            raise TypeError(f"a shape must be ints or a tuple of ints, got {shape[0]!r}")
        shape = tuple(shape[0])
    if not all(isinstance(s, numbers.Integral) and s >= 0 for s in shape):
        raise ValueError(f"a shape must be non-negative ints, given as ints or a tuple; got {shape!r}")
    return tuple(int(s) for s in shape)


def _allocation_checked(make):
    """Creation functions report a size beyond memory (NumPy's MemoryError, or its "array is too big") as a
    ShapeError naming the function and the size asked for."""

    @functools.wraps(make)
    def checked(*args, **kwargs):
        try:
            return make(*args, **kwargs)
        except (MemoryError, ValueError) as exc:
            if isinstance(exc, ValueError) and "too big" not in str(exc) and "maximum" not in str(exc).lower():
                raise
            shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
            raise ShapeError(f"{make.__name__}({shown:.80}) asks for more memory than can be allocated; "
                             "expected a size that fits in memory") from None

    return checked


def _float_dtype(dtype: Any, random: bool = False) -> np.dtype:
    dtype = np.dtype(np.float64 if dtype is None else dtype)
    if random and dtype.kind != "f":
        raise TypeError(f"random tensors are floating point; dtype {dtype} was asked for (use float32 or float64)")
    return dtype


@_allocation_checked
def zeros(*shape, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (float64 by default)."""
    return Tensor(np.zeros(_shape(shape), dtype=_float_dtype(dtype)), requires_grad=requires_grad)


@_allocation_checked
def ones(*shape, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones (float64 by default)."""
    return Tensor(np.ones(_shape(shape), dtype=_float_dtype(dtype)), requires_grad=requires_grad)


@_allocation_checked
def full(shape, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value`` (dtype as NumPy infers it from the value)."""
    shape = _shape((shape,) if isinstance(shape, numbers.Integral) else (tuple(shape),))
    return Tensor(np.full(shape, fill_value, dtype=dtype), requires_grad=requires_grad)


@_allocation_checked
def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, stop), as ``np.arange``."""
    values = np.arange(start, stop, step) if stop is not None else np.arange(start)
    return Tensor(values, dtype=dtype, requires_grad=requires_grad)


@_allocation_checked
def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The identity matrix (n × m)."""
    return Tensor(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def _generator(seed: int | None, rng: np.random.Generator | None) -> np.random.Generator:
    if rng is not None and seed is not None:
        raise ValueError("give either seed= or rng=, not both")
    return rng if rng is not None else np.random.default_rng(seed)


@_allocation_checked
def rand(*shape, dtype: Any = None, requires_grad: bool = False, seed: int | None = None,
         rng: np.random.Generator | None = None) -> Tensor:
    """Uniform samples in [0, 1) (float64 by default); reproducible with ``seed`` or a NumPy ``rng``."""
    dtype = _float_dtype(dtype, random=True)
    values = _generator(seed, rng).random(_shape(shape)).astype(dtype, copy=False)
    return Tensor(values, requires_grad=requires_grad)


@_allocation_checked
def randn(*shape, dtype: Any = None, requires_grad: bool = False, seed: int | None = None,
          rng: np.random.Generator | None = None) -> Tensor:
    """Standard normal samples (float64 by default); reproducible with ``seed`` or a NumPy ``rng``."""
    dtype = _float_dtype(dtype, random=True)
    values = _generator(seed, rng).standard_normal(_shape(shape)).astype(dtype, copy=False)
    return Tensor(values, requires_grad=requires_grad)
