"""Every NumPy index on tensors of other array libraries (array-api-strict on its CPU device and on its fake device
``device1``, PyTorch CPU tensors), and the small gaps closed beside it (astype, imag, power at 0).

The references are independent of chainrule's own code: NumPy's ``data[index]`` for values, ``np.add.at`` for the
gradient (repeated places add up), the same for the second derivative of a cubic, central differences of the
library's own forward, and NumPy's IndexError message (the NumPy path's text) for bad indices. A grid of index items
in every pair (and a Hypothesis search of longer indices) covers integer arrays mixed with None, ``...``, slices and
ints in any position, masks (whole-array and per-axis), lists, boolean scalars, negative and empty indices.
"""

from __future__ import annotations

import itertools

import array_api_strict as strict
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from chainrule.engine import backends

DEVICE1 = strict.Device("device1")
CPU = strict.Device("CPU_DEVICE")
LIBRARIES = ["strict", "strict-device1", "torch"]
SHAPE = (3, 4, 5)
DATA = np.random.default_rng(0).standard_normal(SHAPE)


def put(lib: str, array) -> object:
    array = np.array(array, copy=True)
    if lib == "torch":
        return torch.asarray(array)
    return strict.asarray(array, device=DEVICE1 if lib == "strict-device1" else CPU)


def get(lib: str, x) -> np.ndarray:
    if lib == "torch":
        assert type(x) is torch.Tensor
        return x.detach().resolve_conj().numpy()
    assert x.device == (DEVICE1 if lib == "strict-device1" else CPU)  # never moved off the device
    return np.asarray(strict.asarray(x, device=CPU))


MASK_45 = np.random.default_rng(1).random((4, 5)) > 0.4
MASK_345 = np.random.default_rng(2).random(SHAPE) > 0.5
# Index items: ints (negative too), slices (negative steps, empty, out of the axis), None, ..., integer arrays
# (repeats, negatives, 2-D, 0-d, empty), lists, masks of one axis, two axes and all three, boolean scalars.
ITEMS = [0, -1, 2, np.int64(1), slice(None), slice(1, 3), slice(None, None, -2), slice(3, 0, -1), slice(5, 5),
         slice(-9, 9), None, Ellipsis, np.array([0, 2, 2]), np.array([-1, 0]), np.array([[1], [0]]), np.array(1),
         np.array([], dtype=np.int64), [0, 1, 1], [-2], [], np.array([True, False, True]), [True, False, True],
         np.array([False, False, False]), np.array([True, False, True, True]), MASK_45, MASK_345, np.ones((3, 4), bool),
         np.array(True), True, False, np.bool_(False)]


def _valid_pairs():
    cases = []
    for a, b in itertools.product(range(len(ITEMS)), repeat=2):
        index = (ITEMS[a], ITEMS[b])
        try:
            DATA[index]
        except IndexError:
            continue
        cases.append(index)
    return cases


def _expected_gradient(data, index, w):
    out = np.zeros_like(data)
    np.add.at(out, index, w)
    return out


def _check(lib: str, data: np.ndarray, index, second: bool = True) -> None:
    """Values, gradient and second derivative of x[index] in ``lib`` against NumPy's (np.add.at)."""
    rng = np.random.default_rng(3)
    expected = data[index]
    w, v = rng.standard_normal(expected.shape), rng.standard_normal(data.shape)
    x = cr.tensor(put(lib, data), requires_grad=True)
    y = x[index]
    found = get(lib, y._data)
    assert found.shape == expected.shape, (index, found.shape, expected.shape)
    np.testing.assert_array_equal(found, expected)
    (y * cr.tensor(put(lib, w))).sum().backward()
    np.testing.assert_array_equal(get(lib, x.grad._data), _expected_gradient(data, index, w))
    if second:
        W, V = cr.tensor(put(lib, w)), cr.tensor(put(lib, v))

        def cubic(t):
            return (t[index] ** 3 * W).sum()

        h = cr.grad(lambda t: (cr.grad(cubic)(t) * V).sum())(cr.tensor(put(lib, data)))
        reference = _expected_gradient(data, index, 6 * w * data[index] * v[index])
        np.testing.assert_allclose(get(lib, h._data), reference, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("lib", LIBRARIES)
def test_every_pair_of_index_items(lib):
    """Each item alone and every pair NumPy takes (about 700): values, gradient, second derivative as NumPy's."""
    cases = list(ITEMS) + _valid_pairs()
    checked = 0
    for index in cases:
        try:
            DATA[index]
        except IndexError:
            continue
        _check(lib, DATA, index, second=checked % 4 == 0)
        checked += 1
    assert checked > 600


# Longer indices where NumPy's rule for the place of the arrays' axes decides the result.
PLACES = [
    (slice(None), np.array([0, 2, 2]), np.array([1, 3, 0])),  # adjacent arrays: their axes stay in place
    (np.array([0, 2]), slice(None), np.array([1, 4])),  # apart: in front
    (np.array([0, 2]), None, np.array([1, 3])),  # a None between parts them
    (slice(None), np.array([0, 2]), Ellipsis, np.array([1, 3])),  # a ... of no axes between parts them too
    (1, slice(None), np.array([[2], [0]])),  # an int is an array here: apart, in front
    (slice(None), 1, np.array([[2], [0]])),  # adjacent to the int
    (None, 1, Ellipsis, [0, 0]),
    (True, slice(None), np.array([1, 3])),  # a boolean scalar is an array of one new axis
    (0, slice(None), True),
    (slice(None), 0, slice(None), True),
    (slice(1, None), MASK_45),
    (np.array([[True, False, True, False]] * 3), np.array([4, 0, 0, 1, 2, 2])),  # a 2-axis mask with an array
    (Ellipsis, np.array([[1, 1], [0, 3]]), slice(None, None, -1)),
    (np.array([], dtype=np.int64), slice(None), 0),  # an empty selection: no place is read, the gradient is zero
    (slice(5, 5), np.array([0, 0])),
    (np.array([-3, 2, -3]), np.array([-1]), np.array([-5, 4, 0])),  # negatives, repeats, all three axes
]


@pytest.mark.parametrize("lib", LIBRARIES)
@pytest.mark.parametrize("index", PLACES, ids=range(len(PLACES)))
@pytest.mark.parametrize("block", [None, 8])
def test_where_numpy_puts_the_arrays_axes(lib, index, block, monkeypatch):
    """(With block 8, the one-hot scatter-add of libraries without one of their own runs a few rows at a time.)"""
    if block is not None:
        monkeypatch.setattr(backends.ArrayAPIMath, "ONE_HOT_BLOCK", block)
    _check(lib, DATA, index)


@given(st.lists(st.sampled_from(range(len(ITEMS))), min_size=1, max_size=4), st.sampled_from(LIBRARIES))
def test_random_indices_of_up_to_four_items(positions, lib):
    index = tuple(ITEMS[k] for k in positions)
    try:
        DATA[index]
    except IndexError:
        with pytest.raises(IndexError) as found:
            cr.tensor(put(lib, DATA))[index]
        with pytest.raises(IndexError) as numpy_path:
            cr.tensor(DATA)[index]
        assert str(found.value) == str(numpy_path.value)
        return
    _check(lib, DATA, index)


@pytest.mark.parametrize("lib", LIBRARIES)
def test_gradient_matches_central_differences(lib):
    """⟨grad, v⟩ of Σ w·sin(x[index]) against central differences of the library's own forward."""
    rng = np.random.default_rng(4)
    for index in PLACES[:6] + [(MASK_345,), ([[2], [0]], None, MASK_45)]:
        w = rng.standard_normal(DATA[index].shape)
        v = rng.standard_normal(SHAPE)

        def f(values, index=index, w=w):
            t = cr.tensor(put(lib, values))
            return float(get(lib, (cr.sin(t[index]) * cr.tensor(put(lib, w))).sum()._data))

        x = cr.tensor(put(lib, DATA), requires_grad=True)
        (cr.sin(x[index]) * cr.tensor(put(lib, w))).sum().backward()
        eps = 1e-6
        numeric = (f(DATA + eps * v) - f(DATA - eps * v)) / (2 * eps)
        analytic = float(np.sum(get(lib, x.grad._data) * v))
        assert abs(numeric - analytic) <= 1e-8 * max(1.0, abs(numeric)), (index, numeric, analytic)


@pytest.mark.parametrize("lib", LIBRARIES)
def test_index_arrays_of_the_library_itself(lib):
    """Index arrays (integer and boolean) already in the library, bare or as Tensors, as NumPy's of the same values."""
    rows, mask = np.array([2, -1, 2]), MASK_45
    x = cr.tensor(put(lib, DATA), requires_grad=True)
    w = np.random.default_rng(5).standard_normal(DATA[rows, :, 1:].shape)
    y = x[put(lib, rows), :, 1:]
    np.testing.assert_array_equal(get(lib, y._data), DATA[rows, :, 1:])
    (y * cr.tensor(put(lib, w))).sum().backward()
    np.testing.assert_array_equal(get(lib, x.grad._data), _expected_gradient(DATA, (rows, slice(None), slice(1, None)),
                                                                              w))
    z = x[1, cr.tensor(put(lib, mask))]
    np.testing.assert_array_equal(get(lib, z._data), DATA[1, mask])
    assert get(lib, x[cr.tensor(put(lib, np.array(True)))]._data).shape == (1, *SHAPE)


@pytest.mark.parametrize("lib", ["strict", "torch"])
def test_an_index_of_another_library_or_device_is_refused(lib):
    x = cr.tensor(put(lib, DATA))
    other = torch.asarray([0, 1]) if lib == "strict" else strict.asarray([0, 1])
    with pytest.raises(TypeError, match="move it explicitly"):
        x[other]
    if lib == "strict":
        with pytest.raises(ValueError, match="device"):
            x[strict.asarray([0, 1], device=DEVICE1)]


@pytest.mark.parametrize("lib", LIBRARIES)
def test_zero_dimensional_tensors(lib):
    data = np.array(2.5)
    for index in [(), None, Ellipsis, True, False, (None, None), (Ellipsis, None), np.array(True), (True, None),
                  (None, False, Ellipsis)]:
        _check(lib, data, index)
    with pytest.raises(IndexError, match="too many indices for array: array is 0-dimensional, but 1 were indexed"):
        cr.tensor(put(lib, data))[0]


BAD = [
    (7,), (0, -5), (slice(None), np.array([0, 4])), (np.array([3]), slice(None)), (Ellipsis, [5]), (True, [3]),
    (np.array([-4, 0]),), (np.array([[9]]),), (7, [True, False, True]), (np.array([0, 9]), 9),  # the int is first
    (np.array([0, 1]), np.array([0, 1, 2])), (np.array([True, True]),), (slice(None), np.ones((4, 4), bool)),
    (0, 0, 0, 0), (Ellipsis, Ellipsis), (np.array([1.5]),), ("a",), (np.array([5]), np.array([0, 1, 2])),
    (0, np.array([0, 2, 2]), np.array([-1, 3]), np.array([[1], [0]])),
]


@pytest.mark.parametrize("lib", LIBRARIES)
@pytest.mark.parametrize("index", BAD, ids=range(len(BAD)))
def test_bad_indices_raise_numpys_index_error(lib, index):
    """The same IndexError, word for word, as on NumPy's path (never a wrapped index, never the library's text)."""
    with pytest.raises(IndexError) as numpy_path:
        cr.tensor(DATA)[index]
    with pytest.raises(IndexError) as found:
        cr.tensor(put(lib, DATA), requires_grad=True)[index]
    assert str(found.value) == str(numpy_path.value)
    assert str(found.value).startswith(("'getitem' on a tensor of shape (3, 4, 5): ", "tensor indices must be"))


@pytest.mark.parametrize("lib", LIBRARIES)
def test_arrays_that_pick_nothing_are_not_bounds_checked(lib):
    """As NumPy: [5] broadcast with an empty array picks nothing, so its 5 is never read."""
    index = (np.array([5]), np.array([], dtype=np.int64))
    _check(lib, DATA, index)


@pytest.mark.parametrize("lib", LIBRARIES)
def test_jacobian_and_hessian_through_indexing(lib):
    """The batched paths (jacobian, hessian) index with the batch axis last: the same matrices as NumPy's."""
    data = DATA[0]
    for index in [(np.array([0, 2, 2]), slice(None, None, -1)), (True, slice(None), [1, -1]), (data > 0,),
                  (None, 1, Ellipsis, [0, 0]), ([[0], [2]], None, [1, 3]), (Ellipsis, None), ([],)]:
        expected = np.zeros(data[index].shape + data.shape)
        for k in np.ndindex(data[index].shape):
            e = np.zeros(data[index].shape)
            e[k] = 2.0
            expected[k] = _expected_gradient(data, index, e)
        hessian = np.zeros(data.shape * 2)
        flat = hessian.reshape(data.size, data.size)
        np.add.at(flat, np.diag_indices(data.size), _expected_gradient(data, index, 6 * data[index]).ravel())
        for x in (cr.tensor(data), cr.tensor(put(lib, data))):
            found = cr.jacobian(lambda t, index=index: t[index] * 2.0)(x)
            value = found.data if type(found._data) is np.ndarray else get(lib, found._data)
            np.testing.assert_array_equal(value, expected)
            found = cr.hessian(lambda t, index=index: (t[index] ** 3).sum())(x)
            value = found.data if type(found._data) is np.ndarray else get(lib, found._data)
            np.testing.assert_allclose(value, hessian, rtol=1e-14, atol=1e-14)


# ---------------------------------------------------------------------------------------------------------------
# astype and imag (they were KNOWN_GAPS of tests/test_array_api.py), power at 0.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lib", LIBRARIES)
def test_astype_between_real_and_complex_dtypes(lib):
    """d/dx of Re((x→complex)²) + Im((x→complex)(1 + 2i)) = 2x + 2, in x's dtype; float32 ↔ float64 casts back;
    the same as torch's autograd."""
    data = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    x = cr.tensor(put(lib, data), requires_grad=True)
    y = x.astype("complex64")
    assert backends.numpy_dtype(y._data.dtype) == np.complex64
    (cr.real(y * y) + cr.imag(y * (1 + 2j))).sum().backward()
    assert x.grad.dtype == np.float32
    reference = torch.tensor(data, requires_grad=True)
    z = reference.to(torch.complex64)
    ((z * z).real + (z * (1 + 2j)).imag).sum().backward()
    np.testing.assert_array_equal(get(lib, x.grad._data), reference.grad.numpy())
    np.testing.assert_array_equal(get(lib, x.grad._data), 2 * data + 2)
    x.grad = None
    (x.astype("float64") ** 3).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(get(lib, x.grad._data), 3 * data.astype(np.float64) ** 2, rtol=1e-7)


@pytest.mark.parametrize("lib", LIBRARIES)
def test_imag_of_a_real_tensor_is_zeros_with_zero_gradient(lib):
    for dtype in (np.float32, np.float64):
        data = np.array([[1.5, -2.0], [0.0, 3.0]], dtype=dtype)
        x = cr.tensor(put(lib, data), requires_grad=True)
        y = cr.imag(x)
        assert y.dtype == dtype and y.shape == (2, 2)
        np.testing.assert_array_equal(get(lib, y._data), np.imag(data))
        (y * 5.0 + x * x).sum().backward()
        np.testing.assert_array_equal(get(lib, x.grad._data), 2 * data)  # imag adds nothing
        second = cr.grad(lambda t: (cr.grad(lambda s: (cr.imag(s) * s).sum())(t) * 2.0).sum())(cr.tensor(put(lib,
                                                                                                             data)))
        np.testing.assert_array_equal(get(lib, second._data), np.zeros_like(data))
    z = np.array([1.0 + 2.0j, -0.5j])
    t = cr.tensor(put(lib, z), requires_grad=True)
    (cr.imag(t) * cr.tensor(put(lib, np.array([2.0, -1.0])))).sum().backward()
    np.testing.assert_array_equal(get(lib, t.grad._data), [-2j, 1j])  # the covector of Im: −i·g


@pytest.mark.parametrize("lib", LIBRARIES)
def test_power_at_zero_is_finite_as_numpys_and_torchs(lib):
    """a**b at a = 0: d/db is 0 where b >= 0 (0**b is flat), d/da is b·0**(b−1) with 0**0 = 1 and 0 at b = 0 —
    NumPy's path and torch's own autograd give the same; also the second derivatives and jvp."""
    a, b = np.zeros(5), np.array([0.0, 1.0, 2.0, 3.0, 0.0])
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    (ta**tb).sum().backward()
    found = cr.grad(lambda p, q: (p**q).sum(), argnums=(0, 1))(cr.tensor(put(lib, a)), cr.tensor(put(lib, b)))
    numpy_path = cr.grad(lambda p, q: (p**q).sum(), argnums=(0, 1))(a, b)
    for ours, theirs, numpys in zip(found, (ta.grad, tb.grad), numpy_path, strict=True):
        np.testing.assert_array_equal(get(lib, ours._data), theirs.numpy())
        np.testing.assert_array_equal(get(lib, ours._data), numpys)
    np.testing.assert_array_equal(get(lib, found[0]._data), [0.0, 1.0, 0.0, 0.0, 0.0])
    scalar = cr.grad(lambda p, q: (p**q).sum())(cr.tensor(put(lib, np.array(0.0))), cr.tensor(put(lib, np.array(0.0))))
    assert float(get(lib, scalar._data)) == 0.0
    hessian = cr.hessian(lambda q: (cr.tensor(put(lib, a)) ** q).sum())(cr.tensor(put(lib, b)))
    np.testing.assert_array_equal(get(lib, hessian._data), np.zeros((5, 5)))
    _, tangent = cr.jvp(lambda p, q: (p**q).sum(), (cr.tensor(put(lib, a)), cr.tensor(put(lib, b))),
                        (cr.tensor(put(lib, np.ones(5))), cr.tensor(put(lib, np.ones(5)))))
    assert float(get(lib, tangent._data)) == 1.0  # only b = 1 moves: d(a¹) = da
