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
from . import backends


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
        value = self.value
        if type(value) is np.ndarray:
            return Batched(np.moveaxis(np.moveaxis(value, 0, -1)[_explicit(index)], -1, 0))
        m = backends.backend(value).m  # another library: NumPy's indexing there (engine.array_index)
        moved = m.xp.moveaxis(value, 0, -1)
        return Batched(m.xp.moveaxis(m.getitem(moved, _explicit(index)), -1, 0))

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
            other = _reshape(other, (other.shape[0],) + (1,) * extra + tuple(other.shape[1:]))
        elif extra < 0:
            value = _reshape(value, (value.shape[0],) + (1,) * -extra + tuple(value.shape[1:]))
        return value, other
    extra = np.ndim(other) - x.ndim
    if extra > 0:  # a per-example array with fewer axes than the unbatched operand: put the batch axis first
        value = _reshape(value, (value.shape[0],) + (1,) * extra + tuple(value.shape[1:]))
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
# The namespace: the library's own math for unbatched arrays; batch-aware where a Batched cotangent can arrive.
# ---------------------------------------------------------------------------------------------------------------
class BatchingMath:
    """The ``m`` that rules receive in a batched backward pass, over one library's math namespace ``inner``
    (``numpy_math``, or the Array API namespace of another library's backend, so that the batch stays in that
    library and on its device). Names it does not define are ``inner``'s."""

    batched = True  # chain_rule applies rules that are not ``batchable`` row by row (``rows``, ``stack_rows``)

    def __init__(self, inner, xp) -> None:
        self.unbatched = inner  # what _rowwise hands the rules, one cotangent at a time
        self.xp = xp
        # Rules marked batchable take a Batched cotangent where arrays of the library give way to it in products
        # (array * Batched calls Batched's reflected operator); array-api-strict's refuse any other operand type,
        # so there every rule but the elementwise ones (which multiply g first) runs row by row.
        self.batches_rules = _defers(xp)

    def __getattr__(self, name: str):
        return getattr(self.unbatched, name)

    def rows(self, g: Batched) -> list:
        """The cotangents one at a time."""
        return [g.value[i, ...] for i in range(g.value.shape[0])]

    def stack_rows(self, gradients: list) -> Batched:
        """Row-by-row gradients as one batch again."""
        return Batched(self.unbatched.stack(gradients))

    def eye(self, n, like):
        return self.unbatched.eye(n, _raw(like))

    def tril_mask(self, n, k, like):
        return self.unbatched.tril_mask(n, k, _raw(like))

    def flip(self, x, axis):
        if type(x) is not Batched:
            return self.unbatched.flip(x, axis)
        return Batched(self.unbatched.flip(x.value, _shift(axis)))

    def sum(self, x, axis=None, keepdims=False):
        if type(x) is not Batched:
            return self.unbatched.sum(x, axis, keepdims)
        axes = tuple(range(1, x.value.ndim)) if axis is None else _shift(axis)
        return Batched(self.unbatched.sum(x.value, axis=axes, keepdims=keepdims))

    def cumsum(self, x, axis):
        if type(x) is not Batched:
            return self.unbatched.cumsum(x, axis)
        return Batched(self.unbatched.cumsum(x.value, axis=_shift(axis)))

    def mean(self, x, axis=None, keepdims=False):
        if type(x) is not Batched:
            return self.unbatched.mean(x, axis, keepdims)
        axes = tuple(range(1, x.value.ndim)) if axis is None else _shift(axis)
        return Batched(self.unbatched.mean(x.value, axis=axes, keepdims=keepdims))

    def reshape(self, x, shape):
        if type(x) is not Batched:
            return self.unbatched.reshape(x, shape)
        return Batched(self.unbatched.reshape(x.value, (x.value.shape[0], *shape)), x.basis)

    def broadcast_to(self, x, shape):
        if type(x) is not Batched:
            return self.unbatched.broadcast_to(x, shape)
        value = _reshape(x.value, (x.value.shape[0],) + (1,) * (len(shape) - x.ndim) + x.shape)
        return Batched(self.unbatched.broadcast_to(value, (x.value.shape[0], *shape)))

    def transpose(self, x, axes=None):
        if type(x) is not Batched:
            return self.unbatched.transpose(x, axes)
        axes = tuple(range(x.ndim))[::-1] if axes is None else axes
        return Batched(self.unbatched.transpose(x.value, (0, *(a + 1 for a in axes))))

    def expand_dims(self, x, axis):
        if type(x) is not Batched:
            return self.unbatched.expand_dims(x, axis)
        return Batched(self.unbatched.expand_dims(x.value, _shift(tuple(axis) if not isinstance(axis, int) else axis)),
                       x.basis)

    def swapaxes(self, x, a, b):
        if type(x) is not Batched:
            return self.unbatched.swapaxes(x, a, b)
        return Batched(self.unbatched.swapaxes(x.value, _shift(a), _shift(b)))

    def matmul(self, a, b):
        inner = self.unbatched
        if type(a) is not Batched and type(b) is not Batched:
            return inner.matmul(a, b)
        if (type(b) is Batched and b.basis is not None and type(a) is np.ndarray and a.ndim == 2
                and b.shape in ((a.shape[1],), (a.shape[1], 1))):
            # a @ e_j is a's column j (b's rows are unit vectors of shape (k,) or (k, 1)): no product to compute.
            columns = np.ascontiguousarray(np.transpose(a[:, b.basis:b.basis + len(b.value)]))
            return Batched(columns if b.ndim == 1 else columns[..., None])
        # One matrix product for all rows where the shapes allow (a library would loop over the rows, one small
        # product each).
        if type(b) is Batched and b.ndim == 1 and np.ndim(a) <= 2:
            return Batched(inner.matmul(b.value, inner.transpose(a)))  # row i: a @ b_i = b_i @ aᵀ
        if type(b) is Batched and b.ndim == 2 and type(a) is not Batched and np.ndim(a) == 2:
            count, k, n = b.value.shape  # row i: a @ b_i = (b_iᵀ aᵀ)ᵀ, all the b_iᵀ stacked as (count·n, k)
            rows = _reshape(inner.swapaxes(b.value, 1, 2), (count * n, k))
            product = _reshape(inner.matmul(rows, inner.transpose(a)), (count, n, a.shape[0]))
            return Batched(inner.swapaxes(product, 1, 2))
        if type(a) is Batched and a.ndim >= 1 and type(b) is not Batched and np.ndim(b) == 2:
            rows = _reshape(a.value, (-1, a.value.shape[-1]))  # (B·…, k) @ (k, n): batch and stack axes are rows
            return Batched(_reshape(inner.matmul(rows, b), tuple(a.value.shape[:-1]) + (b.shape[-1],)))
        if type(b) is Batched and b.ndim == 1:
            # A vector per row: make each a (k, 1) matrix behind a's batch axes, multiply, drop the 1 again.
            rows = _reshape(b.value, (b.value.shape[0],) + (1,) * builtins.max(np.ndim(a) - 2, 0) + (b.shape[0], 1))
            return Batched(inner.matmul(_raw(a), rows)[..., 0])
        return Batched(inner.matmul(_raw(a), _raw(b)))

    def real(self, x):
        return Batched(self.unbatched.real(x.value)) if type(x) is Batched else self.unbatched.real(x)

    def conj(self, x):
        return Batched(self.unbatched.conj(x.value)) if type(x) is Batched else self.unbatched.conj(x)

    def astype(self, x, dtype):
        if type(x) is not Batched:
            return self.unbatched.astype(x, dtype)
        return Batched(self.unbatched.astype(x.value, dtype))

    def where(self, condition, a, b):
        if type(a) is not Batched and type(b) is not Batched:
            return self.unbatched.where(condition, a, b)
        return Batched(self.unbatched.where(condition, _raw(a), _raw(b)))

    def transfer(self, x, to, back):
        return Batched(to(x.value), x.basis) if type(x) is Batched else to(x)

    def getitem(self, x, index):
        return x[index] if type(x) is Batched else self.unbatched.getitem(x, index)

    def scatter(self, g, index, shape):
        if type(g) is not Batched:
            return self.unbatched.scatter(g, index, shape)
        if g.basis is not None and numpy_math.is_basic_index(index):
            order = np.arange(np.prod(shape, dtype=np.intp)).reshape(shape)[index].ravel()  # host metadata only
            if order.size and order[0] == 0 and order[-1] == order.size - 1 and (np.diff(order) == 1).all():
                return self.reshape(g, shape)  # the index took every element in order (as [..., 0] of (k, 1))
        # The batch axis last, as in Batched.__getitem__: the index then reaches the same axes as unbatched.
        out = self.unbatched.scatter(self.xp.moveaxis(g.value, 0, -1), _explicit(index), (*shape, g.value.shape[0]))
        return Batched(self.xp.moveaxis(out, -1, 0))


def _defers(xp) -> bool:
    """Whether ``array (op) Batched`` reaches Batched's reflected operator for arrays of namespace ``xp``."""
    if xp is np:
        return True  # Batched.__array_ufunc__ = None
    try:
        return type(xp.asarray(1.0) * Batched(xp.asarray([1.0]))) is Batched
    except TypeError:
        return False


NUMPY = BatchingMath(numpy_math, np)
_NAMESPACES: dict[int, BatchingMath] = {}


def namespace(like) -> BatchingMath:
    """The batching namespace for cotangents like array ``like``: NumPy's, or the one of like's library."""
    if type(like) is np.ndarray or not backends.is_foreign(like):
        return NUMPY
    backend = backends.backend(like)
    found = _NAMESPACES.get(id(backend))
    if found is None:
        found = _NAMESPACES[id(backend)] = BatchingMath(backend.m, backend.xp)
    return found


def _reshape(value, shape):
    """``value`` reshaped, in its own library."""
    if type(value) is np.ndarray:
        return value.reshape(shape)
    return backends.backend(value).xp.reshape(value, tuple(shape))


def _explicit(index) -> tuple:
    """``index`` for the array with a trailing batch axis: a ``...`` in it stops before that axis (a trailing
    ``:`` names it). The ``...`` itself stays, even when it stands for no axis: between two index arrays it still
    parts them, and NumPy then moves their axes to the front."""
    items = index if isinstance(index, tuple) else (index,)
    return (*items, slice(None)) if any(i is Ellipsis for i in items) else items
