"""Version counters: a value changed in place between forward and backward makes backward raise (never a wrong
gradient), and nothing else does.

Each "raises" case below gave a silently wrong gradient before the counters existed (x·x after ``x.data[:] = 100``
gave [200, 200, 200] instead of [2, 4, 6]).
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.engine import versions

# Ways to change an array in place, each given the array that .data (or a view of it) handed out.
WRITES = {
    "setitem": lambda a: a.__setitem__(slice(None), 100.0),
    "iadd": lambda a: a.__iadd__(1.0),
    "copyto": lambda a: np.copyto(a, 7.0),
    "fill": lambda a: a.fill(0.5),
    "slice view": lambda a: a[1:].__setitem__(0, -3.0),
    "reshaped view": lambda a: a.reshape(-1).__setitem__(0, -3.0),
    "np.reshape view": lambda a: np.reshape(a, -1).__setitem__(0, -3.0),
    "out=": lambda a: np.multiply(a, 2.0, out=a),
    "ufunc.at": lambda a: np.add.at(a, [0], 1.0),
    "sort": lambda a: a.sort(),
    "np.put": lambda a: np.put(a, [0], 9.0),
    "np.place": lambda a: np.place(a, a > 0, 4.0),
    "np.putmask": lambda a: np.putmask(a, a > 0, 4.0),
    "partition": lambda a: a.partition(0),
}
VALUES = np.array([3.0, 1.0, 2.0])  # unsorted, so that sort and partition change it


def _leaf_graph():
    x = cr.tensor(VALUES, requires_grad=True)
    return x, (x * x).sum()


def _intermediate_graph():
    x = cr.tensor(VALUES, requires_grad=True)
    h = x * 2.0
    return h, (h * h).sum()


@pytest.mark.parametrize("create_graph", [False, True], ids=["fast", "create_graph"])
@pytest.mark.parametrize("make", [_leaf_graph, _intermediate_graph], ids=["leaf", "intermediate"])
@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_a_saved_value_changed_in_place_makes_backward_raise(write, make, create_graph):
    changed, y = make()
    write(changed.data)
    with pytest.raises(cr.GraphError, match=r"saved by 'multiply' for its backward \(input \d, shape \(3,\)\) was "
                                            r"changed in place"):
        y.backward(create_graph=create_graph)


def test_the_message_names_the_op_the_input_and_the_fix():
    x = cr.tensor(VALUES, requires_grad=True)
    w = cr.tensor(np.ones((2, 3)), requires_grad=False)
    y = cr.tanh(cr.matmul(w, x)).sum()  # matmul's gradient for x reads w (input 0), not x
    w.data[0, 0] = 5.0
    with pytest.raises(cr.GraphError) as info:
        y.backward()
    assert str(info.value) == (
        "one of the values saved by 'matmul' for its backward (input 0, shape (2, 3)) was changed in place after it "
        "was recorded (it is now at version 1); compute again after the change, or change a copy (t.data.copy())"
    )


def test_a_0d_leaf_changed_in_place_raises():
    # The operators read a 0-d leaf as a NumPy scalar copy, so the node holds no view of it: the leaf still counts.
    x = cr.tensor(2.0, requires_grad=True)
    y = x * x
    x.data[...] = 5.0
    with pytest.raises(cr.GraphError, match="'multiply'"):
        y.backward()
    with pytest.raises(cr.GraphError, match="'multiply'"):
        y.backward(create_graph=True)


@pytest.mark.parametrize("how", ["reshape", "transpose", "getitem", "detach", "numpy"])
def test_writing_through_another_tensor_that_shares_the_memory_raises(how):
    x = cr.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    y = (x * x).sum()
    other = {"reshape": lambda: x.reshape(6), "transpose": lambda: x.T, "getitem": lambda: x[1],
             "detach": x.detach, "numpy": lambda: x}[how]()
    array = other.numpy() if how == "numpy" else other.data
    array[(0,) * array.ndim] = 0.0
    with pytest.raises(cr.GraphError, match="'multiply'"):
        y.backward()


def test_a_changed_parameter_of_an_op_raises():
    x = cr.tensor([0.2, 0.6, 1.4], requires_grad=True)
    lo = cr.tensor([0.0, 0.5, 0.0])
    y = cr.clip(x, lo, 1.0).sum()  # the mask of clip's derivative reads its bounds
    lo.data[1] = 0.7
    with pytest.raises(cr.GraphError, match="parameter 'lo'"):
        y.backward()


def test_forward_mode_and_transforms_raise_too():
    def f(x):
        y = x * x
        x.data[:] = 0.0  # inside f, between the op and the derivative
        return y.sum()

    with pytest.raises(cr.GraphError, match="'multiply' for its forward mode"):
        cr.jvp(lambda x: f(x), (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))
    with pytest.raises(cr.GraphError, match="'multiply' for its backward"):
        cr.grad(f)(cr.tensor([1.0, 2.0]))


def test_retain_graph_then_an_optimizer_step_then_backward_raises():
    model = nn.Sequential(nn.Linear(3, 4, seed=0), nn.Tanh(), nn.Linear(4, 2, seed=1))
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = model(cr.ones(4, 3)).sum()  # the gradient for the hidden layer reads the second layer's weight
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(cr.GraphError, match="'linear'"):
        loss.backward()


@pytest.mark.parametrize("change", ["load_state_dict", "init"])
def test_loading_or_initializing_parameters_counts_as_a_change(change):
    model = nn.Sequential(nn.Linear(3, 4, seed=0), nn.Tanh(), nn.Linear(4, 2, seed=1))
    state = nn.Sequential(nn.Linear(3, 4, seed=2), nn.Tanh(), nn.Linear(4, 2, seed=3)).state_dict()
    loss = model(cr.ones(4, 3)).sum()
    if change == "load_state_dict":
        model.load_state_dict(state)
    else:
        nn.init.constant_(model[2].weight, 0.5)
    with pytest.raises(cr.GraphError, match="'linear'"):
        loss.backward()


# ---------------------------------------------------------------------------------------------------------------
# No false alarms.
# ---------------------------------------------------------------------------------------------------------------
def test_writing_a_value_no_derivative_reads_does_not_raise():
    torch = pytest.importorskip("torch")
    x = cr.tensor(VALUES, requires_grad=True)
    w = cr.tensor([0.5, -1.0, 2.0], requires_grad=True)
    unrelated = cr.tensor(VALUES.copy())
    # add's derivatives read nothing; multiply by a constant reads only the constant (x·2: ∂/∂x = 2), and sin's
    # derivative reads its input h = x + w + x·2, which nobody changes.
    y = cr.sin(x + w + x * 2.0).sum()
    x.data[:] = 100.0
    w.data[:] = 100.0
    unrelated.data[:] = 0.0
    y.backward()
    tx = torch.tensor(VALUES, requires_grad=True)
    tw = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    torch.sin(tx + tw + tx * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-15)


def test_writing_after_backward_and_computing_again_gives_the_new_gradient():
    torch = pytest.importorskip("torch")
    x = cr.tensor(VALUES, requires_grad=True)
    (x * x).sum().backward()
    x.data[:] = [4.0, -1.0, 0.5]  # after backward (no retain_graph): the graph is gone
    x.grad = None
    y = (cr.exp(x) * x).sum()  # a fresh forward after the write
    y.backward()
    tx = torch.tensor([4.0, -1.0, 0.5], dtype=torch.float64, requires_grad=True)
    (torch.exp(tx) * tx).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-15)
    # and the same graph again after another write between forward and backward would raise
    y = (cr.exp(x) * x).sum()
    x.data += 1.0
    with pytest.raises(cr.GraphError):
        y.backward()


def test_a_write_before_the_forward_does_not_count_when_something_else_is_written_after():
    x = cr.tensor(VALUES, requires_grad=True)
    other = cr.tensor([1.0, 2.0])
    x.data[:] = [4.0, -1.0, 0.5]  # before the graph is made
    y = (x * x).sum()
    other.data[0] = 0.0  # after it, but the graph never saw `other`: backward must look at x's own last write
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [8.0, -2.0, 1.0], rtol=1e-15)


def test_reading_data_does_not_raise():
    x = cr.tensor(VALUES, requires_grad=True)
    h = x * 2.0
    y = (h * h).sum()
    read = [np.sum(x.data), x.data + 1.0, h.data[1:] * 2.0, np.exp(h.data), x.data.copy(), float(x.data[0]),
            repr(h.data), x.numpy().mean(), np.concatenate([x.data, h.data]), x.data.T, np.sort(h.data)]
    assert len(read) == 11
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 8.0 * VALUES, rtol=1e-15)


def test_replacing_data_is_not_a_change_in_place():
    x = cr.tensor(VALUES, requires_grad=True)
    y = (x * x).sum()
    x.data = np.array([10.0, 20.0, 30.0])  # a new array: the graph keeps the old one, which is unchanged
    x.data[:] = 0.0  # ...and writing the new array does not touch what the graph saved either
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * VALUES, rtol=1e-15)


def test_a_0d_intermediate_written_in_place_keeps_its_recorded_gradient():
    # A 0-d op result holds a NumPy scalar, which the graph keeps: .data hands out a new array, so writing it
    # changes later computations but not the one recorded, whose gradient stays right.
    x = cr.tensor(0.5, requires_grad=True)
    h = cr.sin(x)
    y = h * h
    h.data[...] = 10.0
    y.backward()
    np.testing.assert_allclose(float(x.grad), 2 * np.sin(0.5) * np.cos(0.5), rtol=1e-15)


def test_training_loop_with_in_place_updates_runs():
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((32, 3)), rng.standard_normal((32, 1))
    model = nn.Sequential(nn.Linear(3, 8, seed=1), nn.Tanh(), nn.Linear(8, 1, seed=2))
    opt = optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(cr.tensor(xs)), cr.tensor(ys))
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.7 * losses[0]


def test_arithmetic_on_data_gives_plain_arrays_and_views_stay_tracked():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    d = x.data
    assert isinstance(d, np.ndarray) and d is x.data
    assert repr(d) == np.array_repr(d) == repr(np.array([[1.0, 2.0], [3.0, 4.0]]))
    for result in (d + 1, d * d, np.exp(d), d @ d, d.sum(axis=0), np.concatenate([d, d]), d.copy(), d[[0, 1]],
                   d.astype(np.float32), np.where(d > 2, d, 0.0), d > 2):
        assert type(result) is np.ndarray, type(result)
    for view in (d[1:], d.T, d.reshape(4), np.reshape(d, 4)):
        assert isinstance(view, versions.TrackedArray)
    import pickle

    assert type(pickle.loads(pickle.dumps(d))) is np.ndarray


def test_counts_die_with_their_arrays():
    x = cr.tensor(VALUES)
    array = x._data
    x.data += 1.0
    x.data[0] = 2.0
    assert versions.version(array) == 2 and versions.version(x.data[1:]) == 2
    key = id(array)
    assert key in versions.VERSIONS
    del x, array
    gc.collect()
    assert key not in versions.VERSIONS


@pytest.mark.parametrize("function", [np.linalg.svd, np.linalg.qr, np.linalg.eigh, np.linalg.slogdet,
                                      np.unique_counts])
def test_numpy_functions_returning_named_tuples_work_on_data(function):
    a = cr.tensor(np.array([[2.0, 1.0], [1.0, 3.0]]))
    result = function(a.data)
    expected = function(a.data.view(np.ndarray))
    assert type(result) is type(expected)
    for got, want in zip(result, expected, strict=True):
        assert type(got) is type(want)
        np.testing.assert_array_equal(got, want)


def test_bump_counts_each_of_several_arrays_once_at_one_time():
    a, b = np.ones(3), np.ones((2, 2))
    view = b[0]  # a view counts for the array that owns the memory
    node_before = next(versions.node_sequence)
    versions.bump(a, view)
    assert versions.version(a) == 1 and versions.version(b) == 1 and versions.version(view) == 1
    assert versions.VERSIONS[id(a)][1] == versions.VERSIONS[id(b)][1] == versions.LAST_WRITE[0] > node_before
    versions.bump(b)
    assert versions.version(a) == 1 and versions.version(b) == 2
