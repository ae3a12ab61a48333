"""Many backward passes in one: a cotangent with a leading batch axis, carried through the unchanged rules.

``jacobian`` needs one vector-Jacobian product per output element. Rather than walking the graph once per row,
the rows travel together: the upstream gradient becomes a ``Batched`` array of shape ``(B, *shape)``, which reports
its per-example ``shape`` to the rules, so every rule written for one cotangent works for B of them. Arithmetic
broadcasts the per-example part against the rules' unbatched arrays, and the namespace below (the ``m`` the rules
receive) shifts axes by one wherever a rule names them. Each NumPy call then handles all B rows at once.
"""

from __future__ import annotations

import builtins

import numpy as np

from ..rules import numpy_math


class Batched:
    """B cotangents stacked along a leading axis; ``shape`` and ``ndim`` describe one of them.

    ``basis`` is set when the rows are unit vectors, as a Jacobian's seeds are: row i, flattened, is the unit vector
    e_(basis + i). Shape changes keep it, and a matrix times such rows picks its columns instead of multiplying.
    """

    __slots__ = ("basis", "value")
    __array_ufunc__ = None  # ndarray (op) Batched defers to Batched's reflected operators

    def __init__(self, value: np.ndarray, basis: int | None = None) -> None:
        self.value = value
        self.basis = basis

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape[1:]

    @property
    def ndim(self) -> int:
        return self.value.ndim - 1

    @property
    def dtype(self) -> np.dtype:
        return self.value.dtype

    def copy(self) -> Batched:
        return Batched(self.value.copy())

    def __getitem__(self, index) -> Batched:
        # The batch axis goes last while indexing: NumPy may move the axes of split advanced indices to the front,
        # but it never touches trailing axes that the index does not reach.
        moved = np.moveaxis(self.value, 0, -1)
        return Batched(np.moveaxis(moved[_explicit(index, self.ndim)], -1, 0))

    def __neg__(self) -> Batched:
        return Batched(-self.value)

    def __add__(self, other):
        a, b = _aligned(self, other)
        return Batched(a + b)

    __radd__ = __add__

    def __sub__(self, other):
        a, b = _aligned(self, other)
        return Batched(a - b)

    def __rsub__(self, other):
        a, b = _aligned(self, other)
        return Batched(b - a)

    def __mul__(self, other):
        a, b = _aligned(self, other)
        return Batched(a * b)

    __rmul__ = __mul__

    def __truediv__(self, other):
        a, b = _aligned(self, other)
        return Batched(a / b)

    def __rtruediv__(self, other):
        a, b = _aligned(self, other)
        return Batched(b / a)


def _aligned(x: Batched, other) -> tuple:
    """x's array and other's, shaped so that NumPy broadcasts the per-example parts and keeps the batch axis."""
    value = x.value
    if type(other) is Batched:
        extra = x.ndim - other.ndim
        other = other.value
        if extra > 0:
            other = other.reshape((other.shape[0],) + (1,) * extra + other.shape[1:])
        elif extra < 0:
            value = value.reshape((value.shape[0],) + (1,) * -extra + value.shape[1:])
        return value, other
    extra = np.ndim(other) - x.ndim
    if extra > 0:  # a per-example array with fewer axes than the unbatched operand: put the batch axis first
        value = value.reshape((value.shape[0],) + (1,) * extra + value.shape[1:])
    return value, other


def _raw(x):
    return x.value if type(x) is Batched else x


def _shift(axis):
    """Per-example axes as axes of the batched array (negative axes already count from the end)."""
    if axis is None:
        return None
    if isinstance(axis, tuple):
        return tuple(a + 1 if a >= 0 else a for a in axis)
    return axis + 1 if axis >= 0 else axis


# ---------------------------------------------------------------------------------------------------------------
# The namespace: NumPy's for unbatched arrays; batch-aware where a Batched cotangent can arrive.
# ---------------------------------------------------------------------------------------------------------------
batched = True  # chain_rule applies rules that are not ``batchable`` row by row (``rows``, ``stack_rows``)


def __getattr__(name: str):
    return getattr(numpy_math, name)


def rows(g: Batched) -> np.ndarray:
    """The cotangents one at a time."""
    return g.value


def stack_rows(gradients: list) -> Batched:
    """Row-by-row gradients as one batch again."""
    return Batched(np.stack(gradients))


def sum(x, axis=None, keepdims=False):
    if type(x) is not Batched:
        return numpy_math.sum(x, axis, keepdims)
    axes = tuple(range(1, x.value.ndim)) if axis is None else _shift(axis)
    return Batched(np.sum(x.value, axis=axes, keepdims=keepdims))


def cumsum(x, axis):
    if type(x) is not Batched:
        return numpy_math.cumsum(x, axis)
    return Batched(np.cumsum(x.value, axis=_shift(axis)))


def flip(x, axis):
    if type(x) is not Batched:
        return np.flip(x, axis)
    return Batched(np.flip(x.value, _shift(axis)))


def mean(x, axis=None, keepdims=False):
    if type(x) is not Batched:
        return numpy_math.mean(x, axis, keepdims)
    axes = tuple(range(1, x.value.ndim)) if axis is None else _shift(axis)
    return Batched(np.mean(x.value, axis=axes, keepdims=keepdims))


def reshape(x, shape):
    if type(x) is not Batched:
        return np.reshape(x, shape)
    return Batched(np.reshape(x.value, (x.value.shape[0], *shape)), x.basis)


def broadcast_to(x, shape):
    if type(x) is not Batched:
        return np.broadcast_to(x, shape)
    value = x.value.reshape((x.value.shape[0],) + (1,) * (len(shape) - x.ndim) + x.shape)
    return Batched(np.broadcast_to(value, (x.value.shape[0], *shape)))


def transpose(x, axes=None):
    if type(x) is not Batched:
        return np.transpose(x, axes)
    axes = tuple(range(x.ndim))[::-1] if axes is None else axes
    return Batched(np.transpose(x.value, (0, *(a + 1 for a in axes))))


def expand_dims(x, axis):
    if type(x) is not Batched:
        return np.expand_dims(x, axis)
    return Batched(np.expand_dims(x.value, _shift(tuple(axis) if not isinstance(axis, int) else axis)), x.basis)


def swapaxes(x, a, b):
    if type(x) is not Batched:
        return np.swapaxes(x, a, b)
    return Batched(np.swapaxes(x.value, _shift(a), _shift(b)))


def matmul(a, b):
    if type(a) is not Batched and type(b) is not Batched:
        return np.matmul(a, b)
    if (type(b) is Batched and b.basis is not None and isinstance(a, np.ndarray) and a.ndim == 2
            and b.shape in ((a.shape[1],), (a.shape[1], 1))):
        # a @ e_j is a's column j (b's rows are unit vectors of shape (k,) or (k, 1)): no product to compute.
        columns = np.ascontiguousarray(np.transpose(a[:, b.basis:b.basis + len(b.value)]))
        return Batched(columns if b.ndim == 1 else columns[..., None])
    # One matrix product for all rows where the shapes allow (NumPy would loop over the rows, one small product each).
    if type(b) is Batched and b.ndim == 1 and np.ndim(a) <= 2:
        return Batched(np.matmul(b.value, np.transpose(a)))  # row i: a @ b_i = b_i @ aᵀ
    if type(b) is Batched and b.ndim == 2 and type(a) is not Batched and np.ndim(a) == 2:
        count, k, n = b.value.shape  # row i: a @ b_i = (b_iᵀ aᵀ)ᵀ, all the b_iᵀ stacked as (count·n, k)
        rows = np.swapaxes(b.value, 1, 2).reshape(count * n, k)
        return Batched(np.swapaxes(np.matmul(rows, np.transpose(a)).reshape(count, n, a.shape[0]), 1, 2))
    if type(a) is Batched and a.ndim >= 1 and type(b) is not Batched and np.ndim(b) == 2:
        rows = a.value.reshape(-1, a.value.shape[-1])  # (B·…, k) @ (k, n): the batch and stack axes are rows
        return Batched(np.matmul(rows, b).reshape(a.value.shape[:-1] + (b.shape[-1],)))
    if type(b) is Batched and b.ndim == 1:
        # A vector per row: make each a (k, 1) matrix behind a's batch axes, multiply, drop the 1 again.
        rows = b.value.reshape((b.value.shape[0],) + (1,) * builtins.max(np.ndim(a) - 2, 0) + (b.shape[0], 1))
        return Batched(np.matmul(_raw(a), rows)[..., 0])
    return Batched(np.matmul(_raw(a), _raw(b)))


def real(x):
    return Batched(np.real(x.value)) if type(x) is Batched else np.real(x)


def conj(x):
    return Batched(np.conj(x.value)) if type(x) is Batched else np.conj(x)


def astype(x, dtype):
    if type(x) is not Batched:
        return numpy_math.astype(x, dtype)
    return Batched(x.value.astype(dtype, copy=False))


def where(condition, a, b):
    if type(a) is not Batched and type(b) is not Batched:
        return np.where(condition, a, b)
    return Batched(np.where(condition, _raw(a), _raw(b)))


def scatter(g, index, shape):
    if type(g) is not Batched:
        return numpy_math.scatter(g, index, shape)
    index = _explicit(index, len(shape))
    if g.basis is not None and numpy_math.is_basic_index(index):
        order = np.arange(np.prod(shape, dtype=np.intp)).reshape(shape)[index].ravel()
        if order.size and order[0] == 0 and order[-1] == order.size - 1 and (np.diff(order) == 1).all():
            return reshape(g, shape)  # the index took every element in order (as [..., 0] of (k, 1)): a reshape
    out = np.zeros((*shape, g.value.shape[0]), dtype=g.dtype)  # the batch axis last, as in Batched.__getitem__
    rows = np.moveaxis(g.value, 0, -1)
    if numpy_math.is_basic_index(index):
        out[index] = rows
    else:
        np.add.at(out, index, rows)
    return Batched(np.moveaxis(out, -1, 0))


def _explicit(index, ndim: int) -> tuple:
    """``index`` as a tuple that names every axis it reaches, with no Ellipsis (so a trailing axis stays free)."""
    items = index if isinstance(index, tuple) else (index,)
    if not any(i is Ellipsis for i in items):
        return items
    used = 0
    for i in items:
        if i is None or i is Ellipsis:
            continue
        used += i.ndim if isinstance(i, np.ndarray) and i.dtype == bool else 1
    position = next(k for k, i in enumerate(items) if i is Ellipsis)
    fill = (slice(None),) * (ndim - used)
    return items[:position] + fill + tuple(i for i in items[position + 1:] if i is not Ellipsis)
