"""Transforms over containers (nested dicts, lists, tuples), has_aux, and the pytree helper they use.

Gradients are checked against hand-derived formulas, central differences on the flattened leaves, and torch.func
(which takes dicts too) on the same function written with torch.
"""

from __future__ import annotations

import collections
import importlib.util
import math
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_close

import chainrule as cr
from chainrule.pytree import flatten, tree_map, unflatten

EPS = 1e-6
RNG = np.random.default_rng(10)


# ---------------------------------------------------------------------------------------------------------------
# The helper.
# ---------------------------------------------------------------------------------------------------------------
def test_flatten_orders_dict_keys_sorted_and_rebuilds_the_original_order():
    tree = {"b": 2.0, "a": [1.0, None, (3.0, {"z": 5.0, "y": 4.0})]}
    leaves, treedef = flatten(tree)
    assert leaves == [1.0, 3.0, 4.0, 5.0, 2.0]
    rebuilt = treedef.unflatten([10.0, 30.0, 40.0, 50.0, 20.0])
    assert rebuilt == {"b": 20.0, "a": [10.0, None, (30.0, {"z": 50.0, "y": 40.0})]}
    assert list(rebuilt) == ["b", "a"] and list(rebuilt["a"][2][1]) == ["z", "y"]
    assert flatten({"a": 1, "b": 2})[1] == flatten({"b": 2, "a": 1})[1]  # same keys, same structure
    assert treedef.paths() == ["['a'][0]", "['a'][2][0]", "['a'][2][1]['y']", "['a'][2][1]['z']", "['b']"]


def test_flatten_keeps_namedtuples_none_and_unsortable_keys():
    Point = collections.namedtuple("Point", "x y")
    leaves, treedef = flatten({1: Point(1.0, 2.0), "a": None})  # 1 and "a" do not sort: insertion order
    assert leaves == [1.0, 2.0]
    assert unflatten(treedef, [3.0, 4.0]) == {1: Point(3.0, 4.0), "a": None}
    assert type(unflatten(treedef, [3.0, 4.0])[1]) is Point
    assert flatten(None)[0] == [] and flatten(None)[1].unflatten([]) is None
    assert flatten(np.ones(3))[1].is_leaf


def test_unflatten_and_tree_map_refuse_mismatches():
    _, treedef = flatten([1.0, 2.0])
    with pytest.raises(ValueError, match="holds 2 leaves but 3 were given"):
        treedef.unflatten([1, 2, 3])
    assert tree_map(lambda a, b: a + b, {"x": 1, "y": (2,)}, {"x": 10, "y": (20,)}) == {"x": 11, "y": (22,)}
    with pytest.raises(ValueError, match="structures differ"):
        tree_map(lambda a, b: a + b, {"x": 1}, {"y": 1})


# ---------------------------------------------------------------------------------------------------------------
# grad over containers.
# ---------------------------------------------------------------------------------------------------------------
def _loss(p, lib):
    """A scalar of every leaf: sum(sin(w) * v0) + b² · sum(t0) + c · b + sum(v1²)."""
    w, b, c = p["w"], p["b"], p["sub"]["c"]
    v0, v1 = p["sub"]["v"]
    (t0,) = p["sub"]["t"]
    return (lib.sin(w) * v0).sum() + b ** 2 * t0.sum() + c * b + (v1 * v1).sum()


def _params():
    return {"w": RNG.normal(size=3), "b": 0.7, "sub": {"c": -1.3, "v": [RNG.normal(size=3), RNG.normal(size=(2, 2))],
                                                       "t": (RNG.normal(size=2),)}, "skip": None}


def _hand_gradient(p):
    w, b, c = p["w"], p["b"], p["sub"]["c"]
    v0, v1 = p["sub"]["v"]
    (t0,) = p["sub"]["t"]
    return {"w": np.cos(w) * v0, "b": 2 * b * t0.sum() + c,
            "sub": {"c": b, "v": [np.sin(w), 2 * v1], "t": (np.full(2, b ** 2),)}, "skip": None}


def _central_differences(f, p):
    """∂f/∂leaf for every leaf, by central differences, rebuilt into p's structure."""
    leaves, treedef = flatten(p)
    grads = []
    for i, leaf in enumerate(leaves):
        x = np.asarray(leaf, dtype=np.float64)
        g = np.zeros(x.shape)
        for j in np.ndindex(x.shape):
            d = np.zeros(x.shape)
            d[j] = EPS
            plus, minus = list(leaves), list(leaves)
            plus[i], minus[i] = x + d, x - d
            g[j] = (float(f(treedef.unflatten(plus))) - float(f(treedef.unflatten(minus)))) / (2 * EPS)
        grads.append(g)
    return treedef.unflatten(grads)


def _assert_tree_close(actual, expected, rtol=1e-12, atol=None):
    a_leaves, a_def = flatten(actual)
    e_leaves, e_def = flatten(expected)
    assert a_def == e_def, f"structure {a_def!r} != expected {e_def!r}"
    for path, a, e in zip(a_def.paths(), a_leaves, e_leaves, strict=True):
        assert_close(a, e, rtol=rtol, atol=atol, err_msg=path)


def test_grad_of_a_nested_dict_has_its_structure_and_each_leaf_its_form():
    p = _params()
    g = cr.grad(lambda q: _loss(q, cr))(p)
    assert type(g) is dict and list(g) == list(p)
    assert type(g["b"]) is float and type(g["sub"]["c"]) is float
    assert type(g["w"]) is np.ndarray and type(g["sub"]["t"]) is tuple and type(g["sub"]["v"]) is list
    assert g["skip"] is None
    _assert_tree_close(g, _hand_gradient(p))
    numeric = _central_differences(lambda q: _loss({k: (np.asarray(v) if k in "bw" else v) for k, v in q.items()}
                                               | {"skip": None}, np), p)
    _assert_tree_close(g, numeric, rtol=1e-7)


def test_grad_of_a_nested_dict_agrees_with_torch_func():
    torch = pytest.importorskip("torch")
    from torch.func import grad as torch_grad

    p = _params()
    p_torch = tree_map(lambda x: torch.tensor(x, dtype=torch.float64), {k: v for k, v in p.items() if k != "skip"})
    expected = tree_map(lambda t: t.numpy() if t.ndim else float(t), torch_grad(lambda q: _loss(q, torch))(p_torch))
    g = cr.grad(lambda q: _loss(q, cr))(p)
    del g["skip"]
    _assert_tree_close(g, expected, rtol=1e-14)


def test_grad_keeps_tensor_leaves_as_tensors_and_value_and_grad_gives_the_value():
    p = {"a": cr.tensor([1.0, 2.0]), "b": [np.array(3.0), 4.0]}
    value, g = cr.value_and_grad(lambda q: (q["a"] * q["b"][0]).sum() * q["b"][1])(p)
    assert isinstance(value, cr.Tensor) and float(value.data) == 36.0
    assert isinstance(g["a"], cr.Tensor) and type(g["b"][0]) is np.ndarray and type(g["b"][1]) is float
    _assert_tree_close(g, {"a": np.array([12.0, 12.0]), "b": [np.array(12.0), 9.0]})


def test_grad_of_lists_tuples_and_argnums_picking_a_container():
    x = np.array([0.3, -0.8])

    def f(x, params, scale):
        w, (b,) = params
        return scale * (cr.tanh(w @ x + b) ** 2).sum()

    params = [np.array([[1.0, 2.0], [-0.5, 0.25]]), (np.array([0.1, -0.2]),)]
    w, (b,) = params
    z = np.tanh(w @ x + b)
    dz = 2.5 * 2 * z * (1 - z ** 2)  # d/d(pre-activation)
    g = cr.grad(f, argnums=1)(x, params, 2.5)
    assert type(g) is list and type(g[1]) is tuple
    _assert_tree_close(g, [np.outer(dz, x), (dz,)])
    gx, gp, gs = cr.grad(f, argnums=(0, 1, 2))(x, params, 2.5)
    _assert_tree_close(gx, w.T @ dz)
    _assert_tree_close(gp, g)
    assert gs == pytest.approx((z ** 2).sum(), rel=1e-14)
    # A tuple argument, and an empty container (no leaves: the gradient is the same empty container).
    assert cr.grad(lambda t: t[0] * t[1] ** 2)((3.0, 2.0)) == (4.0, 12.0)
    assert cr.grad(lambda a, e: a ** 2, argnums=(0, 1))(3.0, {}) == (6.0, {})


def test_a_leaf_that_cannot_be_differentiated_is_named_by_its_path():
    with pytest.raises(TypeError, match=re.escape("grad (argument 0, leaf ['sub'][1]): cannot differentiate with "
                                                  "respect to str")):
        cr.grad(lambda p: p["a"])({"a": 1.0, "sub": [2.0, "three"]})


# ---------------------------------------------------------------------------------------------------------------
# vjp, jvp, jacobian, hessian over containers.
# ---------------------------------------------------------------------------------------------------------------
def _vector_f(p):
    return cr.sin(p["x"]) * p["y"][0] + p["y"][1] * p["x"] ** 2


def test_vjp_jvp_and_jacobian_of_a_dict_agree_with_each_other_and_by_hand():
    p = {"x": np.array([0.4, -1.1, 2.0]), "y": (1.5, np.array([0.5, 0.2, -0.3]))}
    x, (s, v) = p["x"], p["y"]
    jac = cr.jacobian(_vector_f)(p)
    _assert_tree_close(jac, {"x": np.diag(np.cos(x) * s + 2 * v * x), "y": (np.sin(x), np.diag(x ** 2))})
    out, vjp_fn = cr.vjp(_vector_f, p)
    u = np.array([1.0, -2.0, 0.5])
    (gp,) = vjp_fn(u)
    _assert_tree_close(gp, tree_map(lambda j: np.tensordot(u, j, axes=1), jac))
    tangent = {"x": np.array([0.3, 0.1, -0.2]), "y": (0.7, np.array([1.0, 2.0, 3.0]))}
    value, t_out = cr.jvp(_vector_f, (p,), (tangent,))
    expected = sum(np.tensordot(j, t, axes=np.ndim(t)) for j, t in zip(flatten(jac)[0], flatten(tangent)[0],
                                                                     strict=True))
    assert_close(t_out, expected)
    assert_close(value, out)
    with pytest.raises(ValueError, match="tangent 0 has structure"):
        cr.jvp(_vector_f, (p,), ({"x": tangent["x"], "y": [0.7, tangent["y"][1]]},))
    with pytest.raises(cr.ShapeError, match=re.escape("(leaf ['x'])")):
        cr.jvp(_vector_f, (p,), ({"x": np.ones(2), "y": tangent["y"]},))


def test_jacobian_of_a_dict_output_nests_outputs_outside_inputs():
    jac = cr.jacobian(lambda p: {"sq": p["a"] ** 2, "pair": (p["a"] * p["b"], p["b"])})({"a": 3.0, "b": 2.0})
    assert jac == {"sq": {"a": 6.0, "b": 0.0}, "pair": ({"a": 2.0, "b": 3.0}, {"a": 0.0, "b": 1.0})}


def test_hessian_of_a_dict_agrees_with_torch_func():
    torch = pytest.importorskip("torch")
    from torch.func import hessian as torch_hessian

    def f(p, lib):
        return (lib.exp(p["w"] * p["b"]) * p["w"]).sum() + p["b"] ** 3

    p = {"w": np.array([0.2, -0.5]), "b": 0.8}
    h = cr.hessian(lambda q: f(q, cr))(p)
    ht = torch_hessian(lambda q: f(q, torch))(tree_map(lambda x: torch.tensor(x, dtype=torch.float64), p))
    _assert_tree_close(h, tree_map(lambda t: t.numpy(), ht), rtol=1e-14)
    w, b = p["w"], p["b"]
    assert h["b"]["b"] == pytest.approx((np.exp(w * b) * w ** 3).sum() + 6 * b, rel=1e-14)
    assert type(h["b"]["b"]) is float and h["w"]["w"].shape == (2, 2) and h["w"]["b"].shape == (2,)


# ---------------------------------------------------------------------------------------------------------------
# has_aux.
# ---------------------------------------------------------------------------------------------------------------
def _with_aux(x):
    y = cr.sin(x)
    return (y * y).sum(), {"y": y, "note": "kept"}


def test_has_aux_returns_the_aux_beside_the_gradient_as_jax():
    x = np.array([0.3, 1.2])
    g, aux = cr.grad(_with_aux, has_aux=True)(x)
    assert_close(g, 2 * np.sin(x) * np.cos(x))
    assert type(aux["y"]) is np.ndarray and aux["note"] == "kept"
    assert_close(aux["y"], np.sin(x))
    (value, aux2), g2 = cr.value_and_grad(_with_aux, has_aux=True)(x)
    assert type(value) is float and value == pytest.approx((np.sin(x) ** 2).sum(), rel=1e-15)
    assert_close(g2, g)
    assert_close(aux2["y"], np.sin(x))


def test_has_aux_nests_and_works_with_containers():
    # d/dx of the inner gradient, the inner aux riding along: d²/dx² (x³) = 6x.
    def inner(x):
        g, aux = cr.grad(lambda z: (z ** 3, z * 10), has_aux=True)(x)
        return g, aux

    g2, aux = cr.grad(inner, has_aux=True)(2.0)
    assert g2 == 12.0 and float(aux) == 20.0
    g, aux = cr.grad(lambda p: (p["a"] * p["b"], p["a"]), has_aux=True)({"a": 2.0, "b": 5.0})
    assert g == {"a": 5.0, "b": 2.0} and aux == 2.0


@pytest.mark.parametrize("returned, described", [
    (lambda x: x ** 2, "Tensor"),
    (lambda x: (x, x, x), "a tuple of length 3"),
])
def test_has_aux_refuses_a_function_that_does_not_return_a_pair(returned, described):
    with pytest.raises(TypeError, match=re.escape(f"must return a pair (value, aux), but it returned {described}")):
        cr.grad(returned, has_aux=True)(1.0)
    with pytest.raises(TypeError, match="must return a pair"):
        cr.value_and_grad(returned, has_aux=True)(1.0)


# ---------------------------------------------------------------------------------------------------------------
# The scipy.optimize example.
# ---------------------------------------------------------------------------------------------------------------
def test_the_scipy_optimize_example_fits_its_model(capsys):
    pytest.importorskip("scipy")
    path = Path(__file__).resolve().parents[1] / "examples" / "scipy_optimize.py"
    spec = importlib.util.spec_from_file_location("scipy_optimize", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main()
    out = capsys.readouterr().out
    fitted = dict(re.findall(r"^(\w+) = (\S+)$", out, flags=re.M))
    # The data are made with a = 2, b = -0.5, c = 0.3 and noise of 0.01: the fit lands near them.
    assert math.isclose(float(fitted["a"]), 2.0, abs_tol=0.02)
    assert math.isclose(float(fitted["b"]), -0.5, abs_tol=0.02)
    assert math.isclose(float(fitted["c"]), 0.3, abs_tol=0.02)
    assert "gradient at the optimum agrees with central differences" in out
    # The round trip the example relies on: unravel(ravel(p)) is p, in sorted-key order.
    unravel = example.unraveler({"b": 0.0, "a": np.zeros(2)})
    assert_close(example.ravel({"b": 3.0, "a": np.array([1.0, 2.0])}), np.array([1.0, 2.0, 3.0]))
    back = unravel(np.array([1.0, 2.0, 3.0]))
    assert back["b"] == 3.0 and back["a"].tolist() == [1.0, 2.0]


# ---------------------------------------------------------------------------------------------------------------
# Container outputs in vjp and jvp (a function returning a tuple, list or dict, e.g. a jvp nested inside a vjp).
# ---------------------------------------------------------------------------------------------------------------
def _pair_out(x, y):
    return {"p": cr.sin(x) * y, "q": [x * x, cr.exp(y).sum()]}


def test_vjp_of_a_container_output_adds_the_inner_products_and_agrees_with_torch():
    import torch

    x, y = RNG.standard_normal(3), RNG.standard_normal(3)
    ct = {"p": RNG.standard_normal(3), "q": [RNG.standard_normal(3), 0.7]}
    out, vjp_fn = cr.vjp(_pair_out, x, y)
    assert set(out) == {"p", "q"} and isinstance(out["q"], list) and isinstance(out["q"][1], float)
    gx, gy = vjp_fn(ct)
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    total = (
        ((torch.sin(tx) * ty) * torch.tensor(ct["p"])).sum()
        + (tx * tx * torch.tensor(ct["q"][0])).sum()
        + torch.exp(ty).sum() * ct["q"][1]
    )
    total.backward()
    assert_close(gx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert_close(gy, ty.grad.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="structure"):
        vjp_fn({"p": ct["p"]})
    with pytest.raises(cr.ShapeError, match=r"at .*q.*shape \(2,\)"):
        vjp_fn({"p": ct["p"], "q": [np.ones(2), 1.0]})


def test_jvp_of_a_container_output_matches_central_differences_per_leaf():
    x, y = RNG.standard_normal(3), RNG.standard_normal(3)
    tx, ty = RNG.standard_normal(3), RNG.standard_normal(3)
    out, tangent = cr.jvp(_pair_out, (x, y), (tx, ty))

    def plain(x, y):  # the same function in NumPy, for the numeric side
        return {"p": np.sin(x) * y, "q": [x * x, np.exp(y).sum()]}

    plus, minus = plain(x + EPS * tx, y + EPS * ty), plain(x - EPS * tx, y - EPS * ty)
    numeric = tree_map(lambda a, b: (a - b) / (2 * EPS), plus, minus)
    assert_close(tangent["p"], numeric["p"], rtol=1e-7, atol=1e-8)
    assert_close(tangent["q"][0], numeric["q"][0], rtol=1e-7, atol=1e-8)
    assert_close(tangent["q"][1], numeric["q"][1], rtol=1e-7, atol=1e-8)
    assert_close(out["p"], np.sin(x) * y, rtol=1e-15, atol=0)


def test_vjp_of_a_jvp_with_a_tuple_output_is_second_order():
    # d/dx of (f(x), f'(x) v) for f = sin^3: the second component's gradient is f''(x) v, a closed form.
    x, v = 0.3, 1.7

    def pair(x):
        return cr.jvp(lambda z: cr.sin(z) ** 3, (x,), (v,))

    _, vjp_fn = cr.vjp(pair, x)
    (g,) = vjp_fn((0.0, 1.0))
    f2 = 6 * np.sin(x) * np.cos(x) ** 2 - 3 * np.sin(x) ** 3
    assert g == pytest.approx(f2 * v, rel=1e-12)
    (g,) = vjp_fn((1.0, 0.0))
    assert g == pytest.approx(3 * np.sin(x) ** 2 * np.cos(x), rel=1e-12)
