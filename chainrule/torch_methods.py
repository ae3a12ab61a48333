"""PyTorch's Tensor methods where they cost nothing: ``t.add(u, alpha=2)``, ``t.gather(1, i)``, ``t.topk(3)``...

Each method is PyTorch's name, arguments (``dim=``, ``keepdim=``) and result, built from chainrule's differentiable
functions: the ops of ``chainrule.ops`` and, for what ``chainrule.numpy`` already has (``flip``, ``roll``, ``tril``,
``kron``, ``cnp.linalg``...), NumPy's function of the tensor, which hands it to ``chainrule.numpy`` through
``__array_function__`` (as ``t.cumsum()`` does), so the method and ``cnp`` are one code. Nothing here is a new
derivative: gradients come from the rules those functions apply.

Where NumPy and PyTorch disagree on a name that Tensor already has, NumPy's meaning stays (``transpose``, ``max(axis)``
returning values only, ``std``'s ddof, ``repeat``); ``sort`` is NumPy's in-place sort in NumPy code and PyTorch's
``(values, indices)`` in PyTorch code, so it answers only when the call says which (see ``sort``). Selections
(``topk``, ``kthvalue``, ``median``, ``cummax``...) compute their indices on the values and gather the chosen
elements, so each value carries the gradient of the element it came from. Predicates and counts (``isnan``,
``eq``, ``count_nonzero``, ``histc``...) are constant tensors: they are piecewise constant, their gradient is 0.
"""

from __future__ import annotations

import builtins
import collections
import itertools
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import ops
from .errors import DomainError, MissingDependencyError, NoDerivativeError, ShapeError
from .rules.registry import lookup
from .tensor import Tensor, as_tensor

_METHODS: dict[str, Any] = {}  # method name -> function, installed on Tensor at the end of this module


def method(*names: str):
    """Register a function as ``Tensor.<name>`` for each of ``names`` (the function's own name by default)."""

    def register(function):
        for name in names or (function.__name__,):
            _METHODS[name] = function
        return function

    return register


def _result(name: str, fields: str):
    """PyTorch's named results (``torch.return_types.topk``...): a tuple with named fields."""
    return collections.namedtuple(name, fields)


# ---------------------------------------------------------------------------------------------------------------
# Arguments.
# ---------------------------------------------------------------------------------------------------------------
def _dim(dim, ndim: int, name: str) -> int:
    """One dimension as a non-negative int (a 0-d tensor takes 0 or -1, as PyTorch)."""
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{name}: dim must be an int, not {dim!r}")
    return (ops.normalize_axis(int(dim), ndim, name) or (0,))[0]


def _dims(dims, ndim: int, name: str) -> tuple[int, ...] | None:
    """None, an int or a sequence of ints, as a sorted tuple of non-negative dims (None stays None)."""
    if dims is None:
        return None
    if isinstance(dims, numbers.Integral):
        dims = (dims,)
    return ops.normalize_axis(tuple(dims), ndim, name) or ()


def _sizes(args: tuple, name: str) -> tuple[int, ...]:
    """A size given as ints (``f(2, 3)``) or one sequence (``f((2, 3))``), as PyTorch's methods take it."""
    if len(args) == 1 and isinstance(args[0], Sequence | np.ndarray):
        args = tuple(args[0])
    if not builtins.all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in args):
        raise TypeError(f"{name}: sizes must be ints, given as ints or one tuple; got {args!r}")
    return tuple(int(n) for n in args)


def _indices(index: Any, name: str, what: str = "index") -> np.ndarray:
    """An index argument (Tensor, array, list or int) as an integer array; floats and booleans are refused."""
    values = np.asarray(index._data if isinstance(index, Tensor) else index)
    if values.dtype.kind not in "iu":
        raise TypeError(f"{name}: {what} must hold integers (e.g. a tensor of dtype int64), got dtype {values.dtype}")
    return values.astype(np.intp, copy=False)


def _in_range(index: np.ndarray, size: int, dim: int, name: str, negative: bool = False) -> np.ndarray:
    """IndexError naming the first index outside [0, size) (or [-size, size) when ``negative``)."""
    low = -size if negative else 0
    bad = (index < low) | (index >= size)
    if bad.any():
        raise IndexError(f"{name}: index {int(index[bad].flat[0])} is out of bounds for dimension {dim} with size "
                         f"{size}")
    return index % size if negative and size else index


def _tensor(x: Any, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    try:
        return as_tensor(x)
    except TypeError:
        raise TypeError(f"{name}: expected a tensor or a number, got {type(x).__name__}") from None


def _constant(values: Any) -> Tensor:
    """A constant tensor (no graph): predicates, counts and indices."""
    return Tensor._make(np.asarray(values), None, False)


def _values(x: Tensor) -> np.ndarray:
    """The values of ``x`` as an ndarray, to compute indices and predicates on (never differentiated)."""
    return x._array()


# ---------------------------------------------------------------------------------------------------------------
# Arithmetic and comparisons.
# ---------------------------------------------------------------------------------------------------------------
@method()
def add(self, other, *, alpha=1):
    """self + alpha·other, as ``torch.add``."""
    return ops.add(self, other if alpha == 1 else ops.multiply(alpha, other))


@method("sub", "subtract")
def sub(self, other, *, alpha=1):
    """self − alpha·other, as ``torch.sub``."""
    return ops.subtract(self, other if alpha == 1 else ops.multiply(alpha, other))


@method("mul", "multiply")
def mul(self, other):
    """self · other."""
    return ops.multiply(self, other)


_ROUNDING = {"trunc": "trunc", "floor": "floor"}


@method("div", "divide")
def div(self, other, *, rounding_mode: str | None = None):
    """self / other; ``rounding_mode`` 'trunc' or 'floor' rounds the quotient (then no gradient: it is piecewise
    constant), as ``torch.div``."""
    quotient = ops.divide(self, other)
    if rounding_mode is None:
        return quotient
    if rounding_mode not in _ROUNDING:
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    return getattr(ops, _ROUNDING[rounding_mode])(quotient)


@method()
def true_divide(self, other):
    """self / other."""
    return ops.divide(self, other)


@method("neg", "negative")
def neg(self):
    """−self."""
    return ops.negative(self)


@method()
def positive(self):
    """self itself, as ``torch.positive``."""
    return self


def _comparison(name: str, function):
    def compare(self, other):
        return function(self, other)

    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = f"Elementwise ``{function.__name__}`` as a bool tensor (no gradient), as ``torch.{name}``."
    return compare


for _names, _function in ((("eq",), ops.equal), (("ne", "not_equal"), ops.not_equal), (("lt", "less"), ops.less),
                          (("le", "less_equal"), ops.less_equal), (("gt", "greater"), ops.greater),
                          (("ge", "greater_equal"), ops.greater_equal)):
    method(*_names)(_comparison(_names[0], _function))


@method()
def maximum(self, other):
    """The elementwise maximum (ties split the gradient, as chainrule's ``maximum``)."""
    return ops.maximum(self, other)


@method()
def minimum(self, other):
    """The elementwise minimum."""
    return ops.minimum(self, other)


@method()
def clamp_min(self, min):
    """``clamp(min=min)`` (chainrule's clip: derivative 0 on the bound)."""
    return ops.clip(self, min, None)


@method()
def clamp_max(self, max):
    """``clamp(max=max)``."""
    return ops.clip(self, None, max)


# ---------------------------------------------------------------------------------------------------------------
# Reductions.
# ---------------------------------------------------------------------------------------------------------------
def _reduction_dims(self, dim, name: str):
    """``dim`` of amax/amin: () or None means every dim, as in PyTorch."""
    if dim is None or (isinstance(dim, Sequence) and not dim):
        return None
    return _dims(dim, self.ndim, name)


@method()
def amax(self, dim=(), keepdim: bool = False):
    """The maximum over ``dim`` (all dims by default); tied maxima share the gradient evenly, as ``torch.amax``."""
    return ops.max(self, _reduction_dims(self, dim, "amax"), keepdim)


@method()
def amin(self, dim=(), keepdim: bool = False):
    """The minimum over ``dim`` (all dims by default), as ``torch.amin``."""
    return ops.min(self, _reduction_dims(self, dim, "amin"), keepdim)


_AMINMAX = _result("aminmax", "min max")


@method()
def aminmax(self, *, dim=None, keepdim: bool = False):
    """``(min, max)`` over ``dim`` (all values by default), as ``torch.aminmax``."""
    dims = None if dim is None else _dim(dim, self.ndim, "aminmax")
    return _AMINMAX(ops.min(self, dims, keepdim), ops.max(self, dims, keepdim))


@method()
def count_nonzero(self, dim=None):
    """The number of non-zero values over ``dim`` (all by default), an int64 tensor."""
    return _constant(np.count_nonzero(_values(self), axis=_dims(dim, self.ndim, "count_nonzero")).astype(np.int64))


# ---------------------------------------------------------------------------------------------------------------
# Products.
# ---------------------------------------------------------------------------------------------------------------
def _need(x, ndim: int | tuple, name: str, what: str) -> Tensor:
    x = _tensor(x, name)
    wanted = ndim if isinstance(ndim, tuple) else (ndim,)
    if x.ndim not in wanted:
        raise ShapeError(f"{name}: {what} must be {' or '.join(f'{n}-D' for n in wanted)}, got shape {x.shape}")
    return x


def _product(name: str, a: Tensor, b: Tensor, inner: tuple[int, int]) -> Tensor:
    """``a @ b`` after checking that a's dim ``inner[0]`` matches b's ``inner[1]`` (and the batch sizes)."""
    if a.shape[inner[0]] != b.shape[inner[1]] or (a.ndim == b.ndim == 3 and a.shape[0] != b.shape[0]):
        raise ShapeError(f"{name}: shapes {a.shape} and {b.shape} cannot be multiplied")
    return ops.matmul(a, b)


@method()
def mm(self, mat2):
    """The matrix product of two 2-D tensors."""
    return _product("mm", _need(self, 2, "mm", "self"), _need(mat2, 2, "mm", "mat2"), (1, 0))


@method()
def mv(self, vec):
    """The product of a 2-D matrix and a 1-D vector."""
    return _product("mv", _need(self, 2, "mv", "self"), _need(vec, 1, "mv", "vec"), (1, 0))


@method()
def bmm(self, mat2):
    """Batched matrix products of two 3-D tensors (b, n, m) @ (b, m, p)."""
    return _product("bmm", _need(self, 3, "bmm", "self"), _need(mat2, 3, "bmm", "mat2"), (2, 1))


def _add_scaled(name: str, self: Tensor, product: Tensor, beta, alpha) -> Tensor:
    """beta·self + alpha·product; with beta = 0, self is left out (its NaN and inf too), as PyTorch."""
    if alpha != 1:
        product = ops.multiply(alpha, product)
    if beta == 0:
        try:
            np.broadcast_shapes(self.shape, product.shape)
        except ValueError:
            raise ShapeError(f"{name}: input of shape {self.shape} does not broadcast to {product.shape}") from None
        return ops.broadcast_to(product, np.broadcast_shapes(self.shape, product.shape))
    try:
        fits = np.broadcast_shapes(self.shape, product.shape) == product.shape
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(f"{name}: input of shape {self.shape} does not broadcast to the product's {product.shape}")
    return ops.add(self if beta == 1 else ops.multiply(beta, self), product)


@method()
def addmm(self, mat1, mat2, *, beta=1, alpha=1):
    """beta·self + alpha·(mat1 @ mat2), as ``torch.addmm``."""
    return _add_scaled("addmm", self, mm(_need(mat1, 2, "addmm", "mat1"), mat2), beta, alpha)


@method()
def addmv(self, mat, vec, *, beta=1, alpha=1):
    """beta·self + alpha·(mat @ vec)."""
    return _add_scaled("addmv", self, mv(_need(mat, 2, "addmv", "mat"), vec), beta, alpha)


@method()
def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
    """beta·self + alpha·Σ_b batch1[b] @ batch2[b]."""
    return _add_scaled("addbmm", self, ops.sum(bmm(_need(batch1, 3, "addbmm", "batch1"), batch2), 0), beta, alpha)


@method()
def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
    """beta·self + alpha·(batch1 @ batch2), batch by batch."""
    return _add_scaled("baddbmm", self, bmm(_need(batch1, 3, "baddbmm", "batch1"), batch2), beta, alpha)


@method()
def addr(self, vec1, vec2, *, beta=1, alpha=1):
    """beta·self + alpha·outer(vec1, vec2)."""
    return _add_scaled("addr", self, outer(_need(vec1, 1, "addr", "vec1"), _need(vec2, 1, "addr", "vec2")),
                       beta, alpha)


@method()
def addcmul(self, tensor1, tensor2, *, value=1):
    """self + value·tensor1·tensor2."""
    product = ops.multiply(tensor1, tensor2)
    return ops.add(self, product if value == 1 else ops.multiply(value, product))


@method()
def addcdiv(self, tensor1, tensor2, *, value=1):
    """self + value·tensor1/tensor2."""
    quotient = ops.divide(tensor1, tensor2)
    return ops.add(self, quotient if value == 1 else ops.multiply(value, quotient))


@method("outer", "ger")
def outer(self, vec2):
    """The outer product of two 1-D tensors (``ger`` is its old name)."""
    return np.outer(_need(self, 1, "outer", "self"), _need(vec2, 1, "outer", "vec2"))


@method()
def inner(self, other):
    """The inner product over the last dims (a 0-d operand multiplies), as ``torch.inner``."""
    if self.ndim == 0 or np.ndim(other) == 0:
        return ops.multiply(self, other)
    return np.inner(self, _tensor(other, "inner"))


@method()
def vdot(self, other):
    """Σ conj(self)·other of two 1-D tensors of the same length."""
    a, b = _need(self, 1, "vdot", "self"), _need(other, 1, "vdot", "other")
    if a.shape != b.shape:
        raise ShapeError(f"vdot: the vectors have lengths {a.shape[0]} and {b.shape[0]}; expected equal lengths")
    return np.vdot(a, b)


@method()
def kron(self, other):
    """The Kronecker product."""
    return np.kron(self, _tensor(other, "kron"))


@method()
def cross(self, other, dim: int | None = None):
    """The cross product of 3-vectors along ``dim`` (by default the first dim of size 3, as ``torch.cross``)."""
    other = _tensor(other, "cross")
    shape = np.broadcast_shapes(self.shape, other.shape)
    if dim is None:
        dim = next((d for d, n in enumerate(shape) if n == 3), None)
        if dim is None:
            raise ShapeError(f"cross: no dimension of size 3 in shapes {self.shape} and {other.shape}")
    dim = _dim(dim, len(shape), "cross")
    if shape[dim] != 3 or self.ndim != other.ndim:
        raise ShapeError(f"cross: dim {dim} of shapes {self.shape} and {other.shape} must have size 3 in both "
                         "(and both the same number of dims)")
    return np.cross(ops.broadcast_to(self, shape), ops.broadcast_to(other, shape), axis=dim)


# ---------------------------------------------------------------------------------------------------------------
# Splitting.
# ---------------------------------------------------------------------------------------------------------------
def _pieces(x: Tensor, dim: int, bounds) -> tuple[Tensor, ...]:
    head = (slice(None),) * dim
    return tuple(ops.getitem(x, head + (slice(a, b),)) for a, b in itertools.pairwise(bounds))


@method()
def split(self, split_size_or_sections, dim: int = 0):
    """Pieces along ``dim``: of ``split_size`` each (the last may be shorter), or of the listed sizes, as
    ``torch.split`` (NumPy's ``np.split`` counts sections instead: that is ``cr.split``)."""
    dim = _dim(dim, self.ndim, "split")
    n = self.shape[dim]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n):
            raise ValueError(f"split: split_size must be a positive int, got {size}")
        starts = list(range(0, n, size)) if n else [0]
        return _pieces(self, dim, [*starts, n])
    sizes = _sizes((split_size_or_sections,), "split")
    if builtins.sum(sizes) != n or builtins.min(sizes, default=0) < 0:
        raise ShapeError(f"split: sizes {list(sizes)} must be non-negative and add up to {n}, the length of dim {dim}")
    return _pieces(self, dim, [0, *itertools.accumulate(sizes)])


@method()
def chunk(self, chunks: int, dim: int = 0):
    """Up to ``chunks`` pieces of ⌈n/chunks⌉ along ``dim`` (fewer when they run out), as ``torch.chunk``."""
    if isinstance(chunks, bool) or not isinstance(chunks, numbers.Integral) or chunks < 1:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    dim = _dim(dim, self.ndim, "chunk")
    n = self.shape[dim]
    return split(self, builtins.max(-(-n // int(chunks)), 1), dim)


@method()
def tensor_split(self, indices_or_sections, dim: int = 0):
    """``np.array_split``'s pieces along ``dim``: a number of nearly equal sections, or split indices."""
    dim = _dim(dim, self.ndim, "tensor_split")
    n = self.shape[dim]
    sections = indices_or_sections
    if isinstance(sections, Tensor):
        sections = _indices(sections, "tensor_split", "indices_or_sections")
        sections = int(sections) if sections.ndim == 0 else sections.tolist()
    if isinstance(sections, numbers.Integral):
        k = int(sections)
        if k < 1:
            raise ValueError(f"tensor_split: the number of sections must be positive, got {k}")
        sizes = [n // k + 1] * (n % k) + [n // k] * (k - n % k)
        return _pieces(self, dim, [0, *itertools.accumulate(sizes)])
    indices = [int(i) for i in _sizes((sections,), "tensor_split")]
    return _pieces(self, dim, [0, *indices, n])


@method()
def unbind(self, dim: int = 0):
    """The slices along ``dim``, as a tuple."""
    dim = _dim(dim, self.ndim, "unbind")
    return tuple(select(self, dim, i) for i in range(self.shape[dim]))


def _numpy_split(name: str, least: int):
    def splitter(self, indices_or_sections):
        if self.ndim < least:
            raise ShapeError(f"{name}: needs a tensor with at least {least} dims, got shape {self.shape}")
        if isinstance(indices_or_sections, Tensor):
            indices_or_sections = _indices(indices_or_sections, name).tolist()
        return tuple(getattr(np, name)(self, indices_or_sections))

    splitter.__name__ = splitter.__qualname__ = name
    splitter.__doc__ = f"``np.{name}``'s pieces (equal sections or split indices), as a tuple, as ``torch.{name}``."
    return splitter


for _name, _least in (("hsplit", 1), ("vsplit", 2), ("dsplit", 3)):
    method(_name)(_numpy_split(_name, _least))


# ---------------------------------------------------------------------------------------------------------------
# Shapes.
# ---------------------------------------------------------------------------------------------------------------
@method()
def expand(self, *sizes):
    """Broadcast to ``sizes`` (-1 keeps a dim; new dims go in front), as ``torch.expand``."""
    sizes = _sizes(sizes, "expand")
    lead = len(sizes) - self.ndim
    if lead < 0:
        raise ShapeError(f"expand: {len(sizes)} sizes {sizes} for a tensor with {self.ndim} dims (shape "
                         f"{self.shape}); give at least {self.ndim}")
    shape = []
    for i, n in enumerate(sizes):
        own = self.shape[i - lead] if i >= lead else None
        if n == -1:
            if own is None:
                raise ShapeError(f"expand: -1 is not allowed for the new leading dim {i} of {sizes}")
            n = own
        if own is not None and own not in (1, n):
            raise ShapeError(f"expand: dim {i - lead} of shape {self.shape} has size {own}, which cannot expand to "
                             f"{n}; only dims of size 1 expand")
        shape.append(n)
    return ops.broadcast_to(self, tuple(shape))


@method()
def expand_as(self, other):
    """``expand(other.shape)``."""
    return expand(self, _tensor(other, "expand_as").shape)


@method()
def view_as(self, other):
    """``view(other.shape)`` (a new array, as ``view``)."""
    return ops.reshape(self, _tensor(other, "view_as").shape)


@method()
def reshape_as(self, other):
    """``reshape(other.shape)``."""
    return ops.reshape(self, _tensor(other, "reshape_as").shape)


@method()
def type_as(self, other):
    """This tensor in ``other``'s dtype."""
    dtype = _tensor(other, "type_as").dtype
    return self if dtype == self.dtype else ops.astype(self, dtype)


@method()
def sum_to_size(self, *size):
    """Sums over the dims that ``size`` broadcasts to this tensor's shape: the reverse of ``expand``."""
    size = _sizes(size, "sum_to_size")
    lead = self.ndim - len(size)
    if lead < 0 or builtins.any(n not in (1, self.shape[lead + i]) for i, n in enumerate(size)):
        raise ShapeError(f"sum_to_size: size {size} does not expand to the tensor's shape {self.shape}")
    dims = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(size) if n == 1 and self.shape[lead + i] != 1)
    out = ops.sum(self, dims, keepdims=True) if dims else self
    return ops.reshape(out, size)


@method()
def flip(self, *dims):
    """Reversed along ``dims`` (ints, or one list), as ``torch.flip``."""
    if len(dims) == 1 and isinstance(dims[0], Sequence):
        dims = tuple(dims[0])
    return np.flip(self, _dims(_sizes(dims, "flip"), self.ndim, "flip"))


@method()
def fliplr(self):
    """Reversed along dim 1 (at least 2-D)."""
    return np.fliplr(_need(self, tuple(range(2, 64)), "fliplr", "the tensor"))


@method()
def flipud(self):
    """Reversed along dim 0 (at least 1-D)."""
    return np.flipud(_need(self, tuple(range(1, 64)), "flipud", "the tensor"))


@method()
def roll(self, shifts, dims=None):
    """Elements shifted along ``dims`` (of the flattened tensor by default), wrapping around."""
    if dims is None and not isinstance(shifts, numbers.Integral):
        raise ValueError(f"roll: shifts {shifts!r} without dims; give one shift per dim in dims")
    return np.roll(self, shifts, dims if dims is None or isinstance(dims, numbers.Integral) else tuple(dims))


@method()
def rot90(self, k: int = 1, dims=(0, 1)):
    """Rotated by 90° ``k`` times in the plane of ``dims``, from the first towards the second."""
    dims = tuple(dims)
    if len(dims) != 2 or self.ndim < 2:
        raise ShapeError(f"rot90: dims must be two dims of a tensor with at least 2 dims; got {dims} for shape "
                         f"{self.shape}")
    return np.rot90(self, k, dims)


@method("movedim", "moveaxis")
def movedim(self, source, destination):
    """Dims moved from ``source`` to ``destination`` (ints or sequences), the others in order."""
    return np.moveaxis(self, source, destination)


@method("swapdims")
def swapdims(self, dim0: int, dim1: int):
    """Two dims exchanged (``swapaxes``)."""
    return ops.swapaxes(self, dim0, dim1)


@method()
def narrow(self, dim: int, start: int, length: int):
    """The slice ``start:start + length`` of ``dim``."""
    dim = _dim(dim, self.ndim, "narrow")
    n = self.shape[dim]
    start = int(start._data) if isinstance(start, Tensor) else int(start)
    start = start + n if -n <= start < 0 else start
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise IndexError(f"narrow: start {start} and length {length} do not fit dim {dim} of size {n}")
    return ops.getitem(self, (slice(None),) * dim + (slice(start, start + length),))


@method()
def select(self, dim: int, index: int):
    """The slice at ``index`` of ``dim`` (that dim removed)."""
    dim = _dim(dim, self.ndim, "select")
    if self.ndim == 0:
        raise IndexError("select: a 0-d tensor has no dim to select from")
    index = int(_in_range(np.asarray(int(index)), self.shape[dim], dim, "select", negative=True))
    return ops.getitem(self, (slice(None),) * dim + (index,))


@method()
def unflatten(self, dim: int, sizes):
    """Dim ``dim`` split into ``sizes`` (one may be -1)."""
    dim = _dim(dim, self.ndim, "unflatten")
    sizes = _sizes((sizes,), "unflatten")
    known = math.prod(n for n in sizes if n != -1)
    n = self.shape[dim]
    if sizes.count(-1) > 1 or (-1 in sizes and (known == 0 or n % known)) or (-1 not in sizes and known != n):
        raise ShapeError(f"unflatten: sizes {sizes} do not multiply to {n}, the size of dim {dim}")
    sizes = tuple(n // known if s == -1 else s for s in sizes)
    return ops.reshape(self, self.shape[:dim] + sizes + self.shape[dim + 1:])


@method()
def repeat_interleave(self, repeats, dim: int | None = None, *, output_size: int | None = None):
    """Each element (or slice along ``dim``) repeated ``repeats`` times; of the flattened tensor by default."""
    counts = _indices(repeats, "repeat_interleave", "repeats")
    if (counts < 0).any():
        raise ValueError(f"repeat_interleave: repeats must be non-negative, got {counts.tolist()}")
    x = ops.reshape(self, (-1,)) if dim is None else self
    axis = 0 if dim is None else _dim(dim, self.ndim, "repeat_interleave")
    if counts.ndim and counts.size not in (1, x.shape[axis]):
        raise ShapeError(f"repeat_interleave: {counts.size} repeats for dim {axis} of size {x.shape[axis]}")
    out = np.repeat(x, counts, axis=axis)
    if output_size is not None and out.shape[axis] != output_size:
        raise ShapeError(f"repeat_interleave: the result has {out.shape[axis]} entries, not output_size "
                         f"{output_size}")
    return out


@method()
def tile(self, *dims):
    """Repeated ``dims`` times along each dim (missing leading dims count 1), as ``torch.tile``."""
    return np.tile(self, _sizes(dims, "tile"))


@method()
def t(self):
    """The transpose of a tensor with at most 2 dims."""
    if self.ndim > 2:
        raise ShapeError(f"t: expects a tensor with at most 2 dims, got shape {self.shape}; use mT or transpose")
    return ops.transpose(self)


def _matrix_transpose(self):
    if self.ndim < 2:
        raise ShapeError(f"mT: expects a tensor with at least 2 dims (a stack of matrices), got shape {self.shape}")
    return ops.swapaxes(self, -1, -2)


def _adjoint(self):
    """The conjugate transpose of the last two dims."""
    out = _matrix_transpose(self)
    return ops.conj(out) if self.dtype.kind == "c" else out


def _hermitian(self):
    if self.ndim not in (0, 2):
        raise ShapeError(f"H: expects a matrix (2 dims) or a 0-d tensor, got shape {self.shape}; use mH for stacks")
    return _adjoint(self) if self.ndim == 2 else self


method("adjoint")(_adjoint)


@method()
def contiguous(self, memory_format: Any = None):
    """The tensor itself: chainrule's arrays need no layout change."""
    return self


@method()
def is_contiguous(self, memory_format: Any = None) -> bool:
    """True: every op gives chainrule a usable layout."""
    return True


# ---------------------------------------------------------------------------------------------------------------
# Indexing: gather, scatter, masks.
# ---------------------------------------------------------------------------------------------------------------
def _positions(self: Tensor, dim: int, index: np.ndarray, name: str) -> tuple[np.ndarray, ...]:
    """For gather/scatter: the place in ``self`` of each entry of ``index`` (index replaces the coordinate along
    ``dim``), with PyTorch's checks: as many dims as self, no longer than self in the others, in range."""
    if index.ndim != builtins.max(self.ndim, 1) and not (self.ndim == 0 and index.ndim == 0):
        raise ShapeError(f"{name}: index has {index.ndim} dims but the tensor has {self.ndim}; expected the same")
    shape = self.shape or (1,)
    index = index.reshape(index.shape or (1,))
    for d, (n, m) in enumerate(zip(index.shape, shape, strict=True)):
        if d != dim and n > m:
            raise ShapeError(f"{name}: index of shape {index.shape} is larger than the tensor's {self.shape} in dim "
                             f"{d}; expected at most {m}")
    _in_range(index, shape[dim], dim, name)
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(np.broadcast_arrays(*grids))


@method()
def gather(self, dim: int, index, *, sparse_grad: bool = False):
    """out[i][j][k] = self[index[i][j][k]][j][k] for dim 0 (and likewise for others), as ``torch.gather``."""
    dim = _dim(dim, self.ndim, "gather")
    positions = _positions(self, dim, _indices(index, "gather"), "gather")
    source = self if self.ndim else ops.reshape(self, (1,))
    out = ops.getitem(source, positions)
    return out if self.ndim else ops.reshape(out, np.shape(_indices(index, "gather")))


@method()
def take_along_dim(self, indices, dim: int | None = None):
    """Values at ``indices`` along ``dim`` (``np.take_along_axis``, broadcasting); of the flattened tensor when
    ``dim`` is None."""
    index = _indices(indices, "take_along_dim", "indices")
    if dim is None:
        flat = ops.reshape(self, (-1,))
        return ops.getitem(flat, _in_range(index.reshape(-1), flat.shape[0], 0, "take_along_dim", negative=True))
    dim = _dim(dim, self.ndim, "take_along_dim")
    if index.ndim != self.ndim:
        raise ShapeError(f"take_along_dim: indices have {index.ndim} dims but the tensor has {self.ndim}")
    shape = list(np.broadcast_shapes(tuple(1 if d == dim else n for d, n in enumerate(self.shape)),
                                     tuple(1 if d == dim else n for d, n in enumerate(index.shape))))
    x = ops.broadcast_to(self, tuple(shape[:dim] + [self.shape[dim]] + shape[dim + 1:]))
    index = np.broadcast_to(index, tuple(shape[:dim] + [index.shape[dim]] + shape[dim + 1:]))
    return np.take_along_axis(x, _in_range(index, self.shape[dim], dim, "take_along_dim", negative=True), axis=dim)


def _source(src, self: Tensor, index_shape: tuple, name: str) -> Tensor:
    """The part of ``src`` that scatter reads (its leading ``index_shape`` block), in self's dtype."""
    src = _tensor(src, name)
    if src.ndim != len(index_shape) or builtins.any(n > m for n, m in zip(index_shape, src.shape, strict=True)):
        raise ShapeError(f"{name}: src of shape {src.shape} is smaller than index {index_shape}; expected at least "
                         "the index's size in every dim")
    if src.dtype != self.dtype:
        src = ops.astype(src, self.dtype)
    return ops.getitem(src, tuple(slice(0, n) for n in index_shape)) if src.shape != index_shape else src


def _scattered(self: Tensor, dim: int, index, name: str):
    index = _indices(index, name)
    if self.ndim == 0:
        raise ShapeError(f"{name}: a 0-d tensor has no dim to scatter along")
    return index, _positions(self, dim, index, name)


@method()
def scatter(self, dim: int, index, src=None, *, value=None, reduce: str | None = None):
    """A copy with ``src`` (or ``value``) written at ``index`` along ``dim``, as ``torch.scatter``.

    An index given twice keeps the last value written (PyTorch leaves that order unspecified); the gradient goes to
    self's elements that were not overwritten and to the elements of src that were kept.
    """
    if reduce is not None:
        raise ValueError(f"scatter: reduce={reduce!r} is not supported; use scatter_add, or index_add")
    if src is not None and value is not None:
        raise TypeError("scatter: give src or value, not both")
    if src is None and value is None:
        raise TypeError("scatter: missing src (a tensor) or value (a number)")
    if isinstance(src, numbers.Number):
        src, value = None, src
    dim = _dim(dim, self.ndim, "scatter")
    index, positions = _scattered(self, dim, index, "scatter")
    flat = np.ravel_multi_index(positions, self.shape).reshape(-1)
    mask = np.zeros(self.shape, dtype=bool)
    mask.reshape(-1)[flat] = True
    if value is not None:
        return ops.where(mask, ops.astype(_tensor(value, "scatter"), self.dtype) if isinstance(value, Tensor)
                         else np.asarray(value, self.dtype), self)
    _, last = np.unique(flat[::-1], return_index=True)
    kept = np.sort(flat.size - 1 - last)  # the last write to each place
    values = ops.getitem(ops.reshape(_source(src, self, index.shape, "scatter"), (-1,)), kept)
    written = ops.scatter(values, np.unravel_index(flat[kept], self.shape), self.shape)
    return ops.where(mask, written, self)


@method()
def scatter_add(self, dim: int, index, src):
    """A copy with ``src`` added at ``index`` along ``dim`` (repeated places add up), as ``torch.scatter_add``."""
    dim = _dim(dim, self.ndim, "scatter_add")
    index, positions = _scattered(self, dim, index, "scatter_add")
    values = ops.reshape(_source(src, self, index.shape, "scatter_add"), (-1,))
    return ops.add(self, ops.scatter(values, tuple(p.reshape(-1) for p in positions), self.shape))


def _select_index(self: Tensor, dim: int, index, name: str) -> np.ndarray:
    index = _indices(index, name)
    if index.ndim > 1:
        raise ShapeError(f"{name}: index must be 1-D (or 0-d), got shape {index.shape}")
    return _in_range(index.reshape(-1), (self.shape or (1,))[dim], dim, name)


@method()
def index_select(self, dim: int, index):
    """The slices at ``index`` (1-D) along ``dim``."""
    dim = _dim(dim, self.ndim, "index_select")
    index = _select_index(self, dim, index, "index_select")
    if self.ndim == 0:
        return ops.reshape(ops.getitem(ops.reshape(self, (1,)), index), index.shape[:0] or ())
    return ops.getitem(self, (slice(None),) * dim + (index,))


@method()
def index_add(self, dim: int, index, source, *, alpha=1):
    """A copy with alpha·source's slices added at ``index`` along ``dim`` (repeats add up)."""
    dim = _dim(dim, self.ndim, "index_add")
    index = _select_index(self, dim, index, "index_add")
    source = _tensor(source, "index_add")
    expected = self.shape[:dim] + (index.size,) + self.shape[dim + 1:]
    if source.shape != expected:
        raise ShapeError(f"index_add: source has shape {source.shape}; expected {expected} (self's shape with "
                         f"{index.size} entries, one per index, along dim {dim})")
    if source.dtype != self.dtype:
        source = ops.astype(source, self.dtype)
    if alpha != 1:
        source = ops.multiply(alpha, source)
    return ops.add(self, ops.scatter(source, (slice(None),) * dim + (index,), self.shape))


def _mask(mask, self: Tensor, name: str, both: bool = False) -> np.ndarray:
    mask = np.asarray(mask._data if isinstance(mask, Tensor) else mask)
    if mask.dtype != bool:
        raise TypeError(f"{name}: mask must be a bool tensor, got dtype {mask.dtype}")
    try:
        shape = np.broadcast_shapes(mask.shape, self.shape)
    except ValueError:
        shape = None
    if shape is None or (not both and shape != self.shape):
        raise ShapeError(f"{name}: a mask of shape {mask.shape} does not broadcast to the tensor's shape "
                         f"{self.shape}")
    return mask


@method()
def masked_fill(self, mask, value):
    """``value`` where ``mask`` is True, else this tensor's values (a 0-d tensor value gets its gradient)."""
    mask = _mask(mask, self, "masked_fill")
    if isinstance(value, Tensor):
        if value.ndim:
            raise ShapeError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        value = value if value.dtype == self.dtype else ops.astype(value, self.dtype)
    else:
        value = np.asarray(value, dtype=self.dtype)
    return ops.where(mask, value, self)


@method()
def masked_select(self, mask):
    """The values where ``mask`` (broadcast with the tensor) is True, as a 1-D tensor."""
    mask = _mask(mask, self, "masked_select", both=True)
    shape = np.broadcast_shapes(mask.shape, self.shape)
    x = self if self.shape == shape else ops.broadcast_to(self, shape)
    return ops.getitem(x, np.broadcast_to(mask, shape))


@method()
def where(self, condition, other):
    """self where ``condition``, else other (``torch.where(condition, self, other)``)."""
    return ops.where(condition, self, other)


# ---------------------------------------------------------------------------------------------------------------
# Triangles and diagonals.
# ---------------------------------------------------------------------------------------------------------------
@method()
def tril(self, diagonal: int = 0):
    """The lower triangle (on and below ``diagonal``) of each matrix of the last two dims."""
    return np.tril(_need(self, tuple(range(2, 64)), "tril", "the tensor"), diagonal)


@method()
def triu(self, diagonal: int = 0):
    """The upper triangle (on and above ``diagonal``)."""
    return np.triu(_need(self, tuple(range(2, 64)), "triu", "the tensor"), diagonal)


@method()
def diag(self, diagonal: int = 0):
    """A 1-D tensor as a matrix's ``diagonal``, or a matrix's ``diagonal`` as a 1-D tensor."""
    return np.diag(_need(self, (1, 2), "diag", "the tensor"), diagonal)


@method()
def diagflat(self, offset: int = 0):
    """The flattened tensor on diagonal ``offset`` of a square matrix."""
    return np.diagflat(self, offset)


@method()
def diag_embed(self, offset: int = 0, dim1: int = -2, dim2: int = -1):
    """Matrices (in ``dim1``, ``dim2`` of the result) with the last dim on their diagonal ``offset``."""
    x = self if self.ndim else ops.reshape(self, (1,))
    ndim = x.ndim + 1
    d1, d2 = _dim(dim1, ndim, "diag_embed"), _dim(dim2, ndim, "diag_embed")
    if d1 == d2:
        raise ShapeError(f"diag_embed: dim1 and dim2 name the same dim ({dim1}, {dim2})")
    n = x.shape[-1]
    m = n + abs(int(offset))
    rows, cols = np.arange(n) + builtins.max(-offset, 0), np.arange(n) + builtins.max(offset, 0)
    square = ops.scatter(x, (Ellipsis, rows, cols), x.shape[:-1] + (m, m))
    return np.moveaxis(square, (-2, -1), (d1, d2))


# ---------------------------------------------------------------------------------------------------------------
# Sorting and selection: indices from the values, the values gathered (each with its element's gradient).
# ---------------------------------------------------------------------------------------------------------------
_VALUES_INDICES = "values indices"
_SORT, _TOPK, _KTHVALUE, _MEDIAN, _MODE = (_result(name, _VALUES_INDICES) for name in
                                           ("sort", "topk", "kthvalue", "median", "mode"))
_CUMMAX, _CUMMIN = _result("cummax", _VALUES_INDICES), _result("cummin", _VALUES_INDICES)


def _order(values: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    """argsort along ``dim``; NaN counts as the largest (PyTorch's), ties keep their order (stable)."""
    if not descending:
        return np.argsort(values, axis=dim, kind="stable")
    n = values.shape[dim]  # reversed, sorted stably, reversed back: descending with equal values in their order
    return n - 1 - np.flip(np.argsort(np.flip(values, dim), axis=dim, kind="stable"), dim)


def _take(self: Tensor, index: np.ndarray, dim: int) -> Tensor:
    if self.ndim == 0:
        return self
    return np.take_along_axis(self, index, axis=dim)


def _ordered(self, dim, name):
    if self.dtype.kind == "c":
        raise TypeError(f"{name}: complex numbers have no order; apply it to the real part or the modulus")
    return _dim(dim, self.ndim, name)


@method()
def sort(self, *args, dim: int | None = None, descending: bool | None = None, stable: bool | None = None, **kwargs):
    """PyTorch's ``(values, indices)`` sorted along ``dim``, when the call says so with a keyword:
    ``t.sort(dim=-1)``, ``t.sort(descending=True)``, ``t.sort(stable=True)``.

    NumPy's ``a.sort()`` sorts in place and PyTorch's ``t.sort()`` returns a new pair; a tensor cannot change in
    place (it would break gradients), and guessing which one was meant could give silently wrong numbers, so a call
    without those keywords is a TypeError. NumPy's sorted values: ``cnp.sort(t, axis)``, or ``t.msort()`` along 0.
    """
    if args or kwargs or (dim is None and descending is None and stable is None):
        raise TypeError("Tensor.sort: NumPy's a.sort() sorts in place (a tensor never changes in place) and "
                        "PyTorch's returns (values, indices); say which: t.sort(dim=-1, descending=False) for "
                        "PyTorch's pair, or cnp.sort(t, axis=-1) (import chainrule.numpy as cnp) for NumPy's sorted "
                        "values")
    dim = _ordered(self, -1 if dim is None else dim, "sort")
    index = _order(_values(self), dim, bool(descending)) if self.ndim else np.zeros((), np.int64)
    return _SORT(_take(self, index, dim), _constant(index.astype(np.int64)))


@method()
def msort(self):
    """The values sorted along dim 0 (NaN last)."""
    dim = _ordered(self, 0, "msort")
    return _take(self, _order(_values(self), dim, False), dim) if self.ndim else self


@method()
def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The ``k`` largest (``largest=False``: smallest) values along ``dim`` and their indices, largest first."""
    dim = _ordered(self, dim, "topk")
    n = self.shape[dim] if self.ndim else 1
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 0 <= k <= n:
        raise ValueError(f"topk: k must be an int in [0, {n}] for dim {dim} of shape {self.shape}, got {k!r}")
    if self.ndim == 0:
        return _TOPK(self if k else ops.reshape(self, (1,))[:0], _constant(np.zeros((), np.int64)[()]
                                                                            if k else np.zeros(0, np.int64)))
    index = np.take(_order(_values(self), dim, bool(largest)), np.arange(int(k)), axis=dim)
    return _TOPK(_take(self, index, dim), _constant(index.astype(np.int64)))


def _keep(index: np.ndarray, dim: int, keepdim: bool, self: Tensor) -> np.ndarray:
    return index if keepdim or not self.ndim else np.squeeze(index, dim)


def _pick(result, self: Tensor, index: np.ndarray, dim: int, keepdim: bool):
    """The values at ``index`` (one per slice, a size-1 dim at ``dim``) and the indices, dim kept or dropped."""
    values = _take(self, index, dim)
    if not keepdim and self.ndim:
        values = ops.squeeze(values, dim)
    return result(values, _constant(_keep(index, dim, keepdim, self).astype(np.int64)))


@method()
def kthvalue(self, k: int, dim: int = -1, keepdim: bool = False):
    """The ``k``-th smallest value (k from 1) along ``dim`` and its index."""
    dim = _ordered(self, dim, "kthvalue")
    n = self.shape[dim] if self.ndim else 1
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= n:
        raise ValueError(f"kthvalue: k must be an int in [1, {n}] for dim {dim} of shape {self.shape}, got {k!r}")
    if not self.ndim:
        return _KTHVALUE(self, _constant(np.int64(0)))
    index = np.take(_order(_values(self), dim, False), [int(k) - 1], axis=dim)
    return _pick(_KTHVALUE, self, index, dim, keepdim)


def _lower_median(values: np.ndarray, dim: int) -> np.ndarray:
    """The index of each slice's lower median along ``dim`` (a size-1 dim there), or of its first NaN."""
    n = values.shape[dim]
    index = np.take(_order(values, dim, False), [(n - 1) // 2], axis=dim)
    nan = np.isnan(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)
    first_nan = np.argmax(nan, axis=dim, keepdims=True)
    return np.where(nan.any(axis=dim, keepdims=True), first_nan, index)


@method()
def median(self, dim: int | None = None, keepdim: bool = False):
    """The lower median (of an even count, the smaller middle value; NaN if there is one), as ``torch.median``:
    of all values without ``dim``, else ``(values, indices)`` along ``dim``. ``np.median(t)`` averages the middle
    two instead (NumPy's)."""
    if dim is None:
        flat = ops.reshape(self, (-1,))
        if flat.shape[0] == 0:
            raise ShapeError("median: the tensor is empty; expected at least one value")
        _ordered(self, 0, "median")
        return ops.reshape(_take(flat, _lower_median(_values(flat), 0), 0), ())
    dim = _ordered(self, dim, "median")
    if not self.ndim:
        return _MEDIAN(self, _constant(np.int64(0)))
    if self.shape[dim] == 0:
        raise ShapeError(f"median: dim {dim} of shape {self.shape} is empty")
    return _pick(_MEDIAN, self, _lower_median(_values(self), dim), dim, keepdim)


@method()
def mode(self, dim: int = -1, keepdim: bool = False):
    """The most frequent value along ``dim`` (the smallest of equally frequent ones) and the index of its last
    occurrence, as ``torch.mode``."""
    dim = _ordered(self, dim, "mode")
    if not self.ndim:
        return _MODE(self, _constant(np.int64(0)))
    values = np.moveaxis(_values(self), dim, -1)
    rows = values.reshape(-1, values.shape[-1])
    index = np.empty(rows.shape[0], np.int64)
    for r, row in enumerate(rows):
        distinct, counts = np.unique(row, return_counts=True, equal_nan=False)  # NaNs apart, as PyTorch counts
        best = distinct[np.argmax(counts)]  # unique sorts: the first maximal count is the smallest value
        index[r] = np.flatnonzero(row == best)[-1] if best == best else np.flatnonzero(np.isnan(row))[-1]
    index = np.moveaxis(index.reshape(values.shape[:-1] + (1,)), -1, dim)
    return _pick(_MODE, self, index, dim, keepdim)


def _running(self, dim, name, result, accumulate):
    dim = _ordered(self, dim, name)
    if not self.ndim:
        return result(self, _constant(np.int64(0)))
    values = _values(self)
    running = accumulate(values, axis=dim)
    positions = np.arange(values.shape[dim]).reshape((-1,) + (1,) * (values.ndim - 1 - dim))
    # The latest element that equals the running extreme (PyTorch keeps the last of equal extremes); once a NaN is
    # met the extreme is NaN, and its index the latest NaN, as PyTorch's.
    hit = (values == running) | (np.isnan(values) if values.dtype.kind == "f" else False)
    index = np.maximum.accumulate(np.where(hit, positions, 0), axis=dim)
    return result(_take(self, index, dim), _constant(index.astype(np.int64)))


@method()
def cummax(self, dim: int):
    """The running maximum along ``dim`` and where it was reached (the latest of equal maxima)."""
    return _running(self, dim, "cummax", _CUMMAX, np.maximum.accumulate)


@method()
def cummin(self, dim: int):
    """The running minimum along ``dim`` and where it was reached (the latest of equal minima)."""
    return _running(self, dim, "cummin", _CUMMIN, np.minimum.accumulate)


_PREFIX_BLOCK = 8


@method()
def logcumsumexp(self, dim: int):
    """log Σ_{j ≤ i} exp(x_j) along ``dim``, without overflow: each prefix is a logsumexp (so the gradient is the
    prefix's softmax), taken within blocks of 8, and the blocks' totals carried forward by the same function
    (logaddexp of the carry and the block's prefix): time and memory about 8·n, not n², per slice of length n (1e6
    elements with the gradient: 0.5 s, PyTorch's kernel 0.3 s)."""
    dim = _dim(dim, self.ndim, "logcumsumexp")
    if not self.ndim:
        return self
    return np.moveaxis(_logcumsumexp_last(np.moveaxis(self, dim, -1)), -1, dim)


def _logcumsumexp_last(x: Tensor) -> Tensor:
    n = x.shape[-1]
    if n <= _PREFIX_BLOCK:
        prefix = np.tril(np.ones((n, n), dtype=bool))
        return ops.logsumexp(ops.where(prefix, ops.unsqueeze(x, -2), np.asarray(-np.inf, x.dtype)), -1)
    lead, pad = x.shape[:-1], -n % _PREFIX_BLOCK
    if pad:  # zeros after the end change only prefixes that are cut off again (and their gradient is 0)
        x = ops.concatenate([x, np.zeros(lead + (pad,), x.dtype)], axis=-1)
    blocks = ops.reshape(x, lead + (-1, _PREFIX_BLOCK))
    inner = _logcumsumexp_last(blocks)  # prefixes within each block
    carry = _logcumsumexp_last(inner[..., -1])  # the totals of the blocks so far
    before = ops.concatenate([np.full(lead + (1,), -np.inf, x.dtype), carry[..., :-1]], axis=-1)
    out = ops.logaddexp(ops.unsqueeze(before, -1), inner)
    return ops.reshape(out, lead + (-1,))[..., :n]


# ---------------------------------------------------------------------------------------------------------------
# Norms.
# ---------------------------------------------------------------------------------------------------------------
def _vector_norm(x: Tensor, p, dims: tuple[int, ...] | None, keepdim: bool) -> Tensor:
    """The p-norm over ``dims`` (all when None): those dims moved last and flattened, then cnp.linalg.norm."""
    dims = tuple(range(x.ndim)) if dims is None else dims
    rest = [d for d in range(x.ndim) if d not in dims]
    moved = ops.transpose(x, tuple(rest) + tuple(dims)) if x.ndim else x
    flat = ops.reshape(moved, tuple(x.shape[d] for d in rest) + (-1,))
    # A slice of zeros has norm 0 and, as PyTorch's, gradient 0 (the formula's 0/0 there would give NaN): its
    # norm is taken of ones instead, and replaced by 0.
    zero = ~np.any(_values(flat), axis=-1, keepdims=True)
    if zero.any() and flat.requires_grad:
        safe = ops.where(zero, np.ones((), flat.dtype), flat)
        out = ops.where(zero[..., 0], np.zeros((), flat.dtype), np.linalg.norm(safe, ord=p, axis=-1))
    else:
        out = np.linalg.norm(flat, ord=p, axis=-1)
    if keepdim:
        out = ops.reshape(out, tuple(1 if d in dims else n for d, n in enumerate(x.shape)))
    return out


@method()
def norm(self, p="fro", dim=None, keepdim: bool = False, dtype: Any = None):
    """``torch.norm``: the 2-norm of all values ('fro' or 2 without dim), a vector p-norm over ``dim`` (an int or
    tuple of them; p a number, inf or -inf), or a matrix norm ('fro', 'nuc') over two dims."""
    x = self if dtype is None else ops.astype(self, dtype)
    dims = _dims(dim, x.ndim, "norm")
    if p == "nuc" or (p == "fro" and dims is not None and len(dims) == 2):
        if dims is None:
            dims = (0, 1) if x.ndim == 2 else None
        if dims is None or len(dims) != 2:
            raise ShapeError(f"norm: p={p!r} is a matrix norm and needs two dims, got dim={dim!r} for shape {x.shape}")
        return np.linalg.norm(x, ord=p, axis=dims, keepdims=keepdim)
    if p == "fro":
        p = 2
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise ValueError(f"norm: p must be a number, inf, -inf, 'fro' or 'nuc', got {p!r}")
    return _vector_norm(x, float(p), dims, keepdim)


@method()
def dist(self, other, p=2):
    """The p-norm of self − other (broadcast), over all values."""
    return _vector_norm(ops.subtract(self, other), float(p), None, False)


@method()
def renorm(self, p, dim: int, maxnorm):
    """Each slice along ``dim`` whose p-norm exceeds ``maxnorm`` scaled down to it (by maxnorm/(norm + 1e-7))."""
    dim = _dim(dim, self.ndim, "renorm")
    if self.ndim < 2:
        raise ShapeError(f"renorm: needs at least 2 dims, got shape {self.shape}")
    if not maxnorm >= 0 or not p > 0:
        raise DomainError(f"renorm: p must be positive and maxnorm non-negative, got p={p!r}, maxnorm={maxnorm!r}")
    others = tuple(d for d in range(self.ndim) if d != dim)
    norms = _vector_norm(self, float(p), others, True)
    scale = ops.where(ops.greater(norms, maxnorm), maxnorm / (norms + 1e-7), np.ones((), self.dtype))
    return ops.multiply(self, scale)


# ---------------------------------------------------------------------------------------------------------------
# Elementwise functions.
# ---------------------------------------------------------------------------------------------------------------
@method()
def lerp(self, end, weight):
    """self + weight·(end − self), computed as PyTorch does (from end when |weight| ≥ ½, for exact ends)."""
    difference = ops.subtract(end, self)
    small = np.abs(weight._data if isinstance(weight, Tensor) else np.asarray(weight)) < 0.5
    rest = ops.subtract(1, weight) if isinstance(weight, Tensor) else 1 - weight  # a number stays weak (float32)
    return ops.where(small, ops.add(self, ops.multiply(weight, difference)),
                     ops.subtract(end, ops.multiply(difference, rest)))


@method()
def nan_to_num(self, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None):
    """NaN and ±inf replaced by numbers (by default 0 and the dtype's largest finite values)."""
    return np.nan_to_num(self, nan=nan, posinf=posinf, neginf=neginf)


for _name in ("square", "reciprocal", "exp2", "logaddexp", "sinc", "hypot", "floor", "ceil", "trunc", "arcsinh",
              "arccosh", "arctanh", "arctan2", "erf"):
    method(_name)(getattr(ops, _name))
method("fix")(ops.trunc)
method("atan2")(ops.arctan2)
method("asinh")(ops.arcsinh)
method("acosh")(ops.arccosh)
method("atanh")(ops.arctanh)


@method()
def rsqrt(self):
    """1/√self."""
    return ops.reciprocal(ops.sqrt(self))


@method()
def frac(self):
    """self − trunc(self) (the fractional part, with the sign of self); its derivative is 1."""
    return ops.subtract(self, ops.trunc(self))


@method()
def deg2rad(self):
    """Degrees to radians."""
    return ops.multiply(self, math.pi / 180)


@method()
def rad2deg(self):
    """Radians to degrees."""
    return ops.multiply(self, 180 / math.pi)


@method()
def logit(self, eps: float | None = None):
    """log(x/(1 − x)); with ``eps``, x clamped to [eps, 1 − eps] first (no gradient outside), as ``torch.logit``."""
    x = self
    if eps is not None:
        lo, hi = eps, 1 - eps
        outside = ops.stop(ops.less(x, lo)) | ops.stop(ops.greater(x, hi))
        x = ops.where(outside, np.clip(_values(x), lo, hi), x)
    return ops.log(ops.divide(x, ops.subtract(1, x)))


@method()
def xlogy(self, other):
    """self·log(other), and 0 where self is 0 (unless other is NaN), as ``torch.xlogy``."""
    other = _tensor(other, "xlogy")
    y = _values(other)
    # Where self is 0 and log(other) is infinite, 1 stands for other: 0·log 1 = 0 (0·∞ would be NaN). Elsewhere the
    # product is x·log y itself, so ∂/∂x = log y also at x = 0, as PyTorch's.
    infinite = (_values(_tensor(self, "xlogy")) == 0) & ((y == 0) | np.isinf(y))
    safe = ops.where(infinite, np.ones((), other.dtype), other) if infinite.any() else other
    return ops.multiply(self, ops.log(safe))


def _special(name: str, rule: str, doc: str):
    """A function of SciPy's special functions, through its rule (registered when SciPy is installed)."""

    def function(self):
        try:
            entry = lookup(rule)
        except KeyError:
            raise MissingDependencyError(f"Tensor.{name} needs SciPy (its special functions), which is not "
                                         "installed; install it with: pip install 'chainrule[scipy]'") from None
        return ops.apply(entry, (self,))

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


for _name, _rule, _doc in (("erfc", "erfc", "1 − erf(x)."), ("erfinv", "erfinv", "The inverse of erf."),
                           ("lgamma", "gammaln", "log |Γ(x)|."), ("digamma", "digamma", "ψ(x) = Γ′(x)/Γ(x)."),
                           ("i0", "i0", "The modified Bessel function of the first kind, of order 0.")):
    method(_name)(_special(_name, _rule, _doc))


# ---------------------------------------------------------------------------------------------------------------
# Predicates (constant bool tensors) and comparisons of whole tensors.
# ---------------------------------------------------------------------------------------------------------------
def _predicate(name: str, function):
    def predicate(self):
        return _constant(function(_values(self)))

    predicate.__name__ = predicate.__qualname__ = name
    predicate.__doc__ = f"``np.{function.__name__}`` of the values, a bool tensor (no gradient)."
    return predicate


for _function in (np.isfinite, np.isinf, np.isnan, np.isposinf, np.isneginf, np.isreal, np.signbit):
    method(_function.__name__)(_predicate(_function.__name__, _function))


@method()
def isclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """|self − other| ≤ atol + rtol·|other|, elementwise, a bool tensor."""
    return _constant(np.isclose(_values(self), _values(_tensor(other, "isclose")), rtol, atol, equal_nan))


@method()
def allclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether ``isclose`` holds everywhere."""
    return bool(np.allclose(_values(self), _values(_tensor(other, "allclose")), rtol, atol, equal_nan))


@method()
def equal(self, other) -> bool:
    """Whether both have the same shape and the same values (NaN is never equal)."""
    other = _tensor(other, "equal")
    return self.shape == other.shape and bool(np.array_equal(_values(self), _values(other)))


# ---------------------------------------------------------------------------------------------------------------
# dtypes, sizes and new tensors.
# ---------------------------------------------------------------------------------------------------------------
@method()
def is_floating_point(self) -> bool:
    """Whether the dtype is a floating-point one."""
    return self.dtype.kind == "f"


@method()
def is_complex(self) -> bool:
    """Whether the dtype is complex."""
    return self.dtype.kind == "c"


@method()
def is_signed(self) -> bool:
    """Whether the dtype holds negative numbers (bool and unsigned integers do not)."""
    return self.dtype.kind in "ifc"


@method("dim", "ndimension")
def dim(self) -> int:
    """The number of dims."""
    return self.ndim


@method()
def nelement(self) -> int:
    """The number of elements (``numel``)."""
    return int(math.prod(self.shape))


@method()
def element_size(self) -> int:
    """Bytes per element."""
    return self.dtype.itemsize


def _cast(name: str, dtype: Any):
    def cast(self, memory_format: Any = None):
        return self if self.dtype == dtype else ops.astype(self, dtype)

    cast.__name__ = cast.__qualname__ = name
    cast.__doc__ = f"This tensor as {np.dtype(dtype)} (PyTorch's ``{name}()``)."
    return cast


for _name, _dtype in (("bool", np.bool_), ("int", np.int32), ("long", np.int64), ("short", np.int16),
                      ("half", np.float16)):
    method(_name)(_cast(_name, np.dtype(_dtype)))


def _new(self: Tensor, values: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(values, requires_grad=requires_grad)


@method()
def new_zeros(self, *size, dtype: Any = None, requires_grad: bool = False):
    """Zeros of ``size``, in this tensor's dtype unless ``dtype`` is given."""
    return _new(self, np.zeros(_sizes(size, "new_zeros"), dtype or self.dtype), requires_grad)


@method()
def new_ones(self, *size, dtype: Any = None, requires_grad: bool = False):
    """Ones of ``size``, in this tensor's dtype unless ``dtype`` is given."""
    return _new(self, np.ones(_sizes(size, "new_ones"), dtype or self.dtype), requires_grad)


@method()
def new_empty(self, *size, dtype: Any = None, requires_grad: bool = False):
    """A tensor of ``size`` (zeros: chainrule never hands out uninitialised memory)."""
    return _new(self, np.zeros(_sizes(size, "new_empty"), dtype or self.dtype), requires_grad)


@method()
def new_full(self, size, fill_value, *, dtype: Any = None, requires_grad: bool = False):
    """``size`` filled with ``fill_value``, in this tensor's dtype unless ``dtype`` is given."""
    return _new(self, np.full(_sizes((size,), "new_full"), fill_value, dtype or self.dtype), requires_grad)


@method()
def new_tensor(self, data, *, dtype: Any = None, requires_grad: bool = False):
    """A new leaf holding a copy of ``data``, in this tensor's dtype unless ``dtype`` is given."""
    values = data.detach()._array() if isinstance(data, Tensor) else data
    return _new(self, np.array(values, dtype=dtype or self.dtype), requires_grad)


# ---------------------------------------------------------------------------------------------------------------
# Counting, unique values, statistics.
# ---------------------------------------------------------------------------------------------------------------
def _no_gradient(self: Tensor, name: str) -> None:
    if self.requires_grad:
        raise NoDerivativeError(f"{name} has no derivative (its output's size depends on the values); call it on "
                                f"t.detach() for the values without a gradient")


@method()
def unique(self, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,
           dim: int | None = None):
    """The distinct values (sorted), and optionally the inverse indices and counts, as ``torch.unique``."""
    _no_gradient(self, "unique")
    axis = None if dim is None else _dim(dim, self.ndim, "unique")
    values = _values(self)
    out = np.unique(values, return_inverse=True, return_counts=True, axis=axis)
    inverse = out[1].reshape(self.shape if axis is None else (self.shape[axis],))
    results = [_constant(out[0])]
    if return_inverse:
        results.append(_constant(inverse.astype(np.int64)))
    if return_counts:
        results.append(_constant(out[2].astype(np.int64)))
    return results[0] if len(results) == 1 else tuple(results)


@method()
def bincount(self, weights=None, minlength: int = 0):
    """How often each value 0, 1, ... occurs in this 1-D integer tensor, or the sums of ``weights`` per value (the
    gradient flows to the weights)."""
    labels = _indices(self, "bincount", "the tensor")
    if labels.ndim != 1 or (labels < 0).any():
        raise ValueError(f"bincount: expects a 1-D tensor of non-negative integers, got shape {labels.shape}"
                         + (f" with {int(labels.min())}" if labels.size and labels.min() < 0 else ""))
    n = builtins.max(int(labels.max()) + 1 if labels.size else 0, int(minlength))
    if weights is None:
        return _constant(np.bincount(labels, minlength=n).astype(np.int64))
    weights = _tensor(weights, "bincount")
    if weights.shape != labels.shape:
        raise ShapeError(f"bincount: weights of shape {weights.shape}; expected the tensor's shape {labels.shape}")
    if weights.dtype.kind != "f":
        weights = ops.astype(weights, np.float64)
    return ops.scatter(weights, (labels,), (n,))


@method()
def histc(self, bins: int = 100, min: float = 0, max: float = 0):
    """Counts of the values in ``bins`` equal bins over [min, max] (the data's range when both are 0), in this
    tensor's dtype; values outside are left out. Counts are piecewise constant: no gradient."""
    values = _values(self)
    if self.dtype.kind != "f":
        raise TypeError(f"histc: expects a floating-point tensor, got dtype {self.dtype}")
    lo, hi = float(min), float(max)
    if lo == hi and values.size:
        lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise ValueError(f"histc: max ({hi}) must be at least min ({lo})")
    counts, _ = np.histogram(values, bins=int(bins), range=(lo, hi))
    return _constant(counts.astype(self.dtype))


@method()
def cov(self, *, correction: int = 1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows (observations in the columns), as ``torch.cov``;
    ``aweights`` get their gradient."""
    x = _need(self, (0, 1, 2), "cov", "the tensor")
    x = ops.reshape(x, (1, -1)) if x.ndim < 2 else x
    n = x.shape[1]
    weights = None
    if fweights is not None:
        weights = _tensor(fweights, "cov")
        if weights.ndim != 1 or weights.shape[0] != n or weights.dtype.kind not in "iu":
            raise ValueError(f"cov: fweights must be a 1-D integer tensor of {n} observations")
        weights = ops.astype(weights, x.dtype if x.dtype.kind in "fc" else np.float64)
    if aweights is not None:
        a = _tensor(aweights, "cov")
        if a.ndim != 1 or a.shape[0] != n:
            raise ValueError(f"cov: aweights must be a 1-D tensor of {n} observations, got shape {a.shape}")
        weights = a if weights is None else ops.multiply(weights, a)
    if weights is None:
        total = n
        average = ops.mean(x, 1, keepdims=True)
    else:
        total = ops.sum(weights)
        average = ops.divide(ops.sum(ops.multiply(x, weights), 1, keepdims=True), total)
    if correction == 0:
        factor = total
    elif aweights is None:
        factor = total - correction if weights is None else ops.subtract(total, correction)
    else:
        factor = ops.subtract(total, ops.multiply(correction, ops.divide(ops.sum(ops.multiply(weights, aweights)),
                                                                          total)))
    factor = builtins.max(factor, 0) if isinstance(factor, numbers.Number) else ops.maximum(factor, 0)
    centred = ops.subtract(x, average)
    weighted = centred if weights is None else ops.multiply(centred, weights)
    other = ops.conj(centred) if centred.dtype.kind == "c" else centred
    out = ops.divide(ops.matmul(weighted, ops.transpose(other)), factor)
    return ops.reshape(out, ()) if self.ndim < 2 else out


@method()
def corrcoef(self):
    """Pearson's correlation coefficients of the variables in the rows, clipped to [−1, 1]."""
    c = cov(self)
    if c.ndim == 0:
        return ops.divide(c, c)
    d = np.diagonal(c)
    s = ops.sqrt(d)
    out = ops.divide(ops.divide(c, ops.unsqueeze(s, 1)), ops.unsqueeze(s, 0))
    return ops.clip(out, -1, 1)


# ---------------------------------------------------------------------------------------------------------------
# Linear algebra: cnp.linalg through NumPy's functions.
# ---------------------------------------------------------------------------------------------------------------
_SLOGDET = _result("slogdet", "sign logabsdet")
_QR = _result("qr", "Q R")
_SVD = _result("svd", "U S V")


@method()
def det(self):
    """The determinant of each square matrix of the last two dims."""
    return np.linalg.det(self)


@method()
def slogdet(self):
    """``(sign, logabsdet)`` of the determinant."""
    sign, logabsdet = np.linalg.slogdet(self)
    return _SLOGDET(sign, logabsdet)


@method()
def logdet(self):
    """log det: NaN where the determinant is negative, −inf where it is 0, as ``torch.logdet``."""
    sign, logabsdet = np.linalg.slogdet(self)
    if self.dtype.kind == "c":
        return ops.add(ops.log(sign), logabsdet)
    signs = ops.stop(sign)
    fill = np.where(signs < 0, np.nan, -np.inf).astype(self.dtype)
    return ops.where(signs > 0, logabsdet, fill)


@method("inverse")
def inverse(self):
    """The inverse of each square matrix."""
    return np.linalg.inv(self)


@method()
def pinverse(self, rcond: float = 1e-15):
    """The Moore–Penrose pseudo-inverse (singular values below rcond·largest count as 0)."""
    return np.linalg.pinv(self) if rcond == 1e-15 else np.linalg.pinv(self, rcond=rcond)  # NumPy's default: 1e-15


@method()
def matrix_power(self, n: int):
    """The matrix to the integer power ``n`` (negative: of the inverse)."""
    return np.linalg.matrix_power(self, n)


@method()
def cholesky(self, upper: bool = False):
    """The Cholesky factor L (L Lᴴ = self), or U = Lᴴ with ``upper=True``."""
    return np.linalg.cholesky(self, upper=bool(upper))


@method()
def qr(self, some: bool = True):
    """``(Q, R)``: reduced (``some=True``) or complete."""
    q, r = np.linalg.qr(self, mode="reduced" if some else "complete")
    return _QR(q, r)


@method()
def svd(self, some: bool = True, compute_uv: bool = True):
    """``(U, S, V)`` with self = U diag(S) Vᴴ (V, not Vᴴ, as ``torch.svd``); ``compute_uv=False``: zero U and V."""
    if not compute_uv:
        s = np.linalg.svd(self, compute_uv=False)
        m, n = self.shape[-2:]
        k = builtins.min(m, n)
        batch = self.shape[:-2]
        return _SVD(_constant(np.zeros(batch + (m, k if some else m), self.dtype)), s,
                    _constant(np.zeros(batch + (n, k if some else n), self.dtype)))
    u, s, vh = np.linalg.svd(self, full_matrices=not some)
    return _SVD(u, s, _adjoint(vh))


def _install() -> None:
    taken = sorted(name for name in _METHODS if hasattr(Tensor, name))
    if taken:  # never replace a method of the class: NumPy's meaning stays where both have a name
        raise ValueError(f"chainrule.torch_methods: Tensor already has {taken}")
    for name, function in _METHODS.items():
        setattr(Tensor, name, function)
    Tensor.mT = property(_matrix_transpose, doc="The last two dims swapped (a stack of matrices transposed).")
    Tensor.mH = property(_adjoint, doc="The conjugate transpose of the last two dims.")
    Tensor.H = property(_hermitian, doc="The conjugate transpose of a matrix.")
    Tensor.nbytes = property(lambda self: int(math.prod(self.shape)) * self.dtype.itemsize,
                             doc="The bytes the values take.")
    Tensor.itemsize = property(lambda self: self.dtype.itemsize, doc="Bytes per element.")


_install()
