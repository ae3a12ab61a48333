"""A user's own primitive (cr.primitive): one entry in the rule table, read by every part of the engine.

References: PyTorch's own log1p and hypot (autograd, create_graph) and the analytic derivatives; central differences
come from NumPy directly (tests/helpers.py) and from cr.gradcheck.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.rules import registry

torch = pytest.importorskip("torch")

EPS = 1e-6


@pytest.fixture(autouse=True)
def _restore_table(monkeypatch):
    """Each test's primitives leave the rule table when it ends (other tests iterate the whole table)."""
    registry.load_all()  # first: the lazily loaded modules (linalg, fft) register once, outside the snapshot
    monkeypatch.setattr(registry, "_TABLE", dict(registry._TABLE))
    monkeypatch.setattr(registry, "_REPLACEABLE", set(registry._REPLACEABLE))


def make_log1p(**options):
    p = cr.primitive(np.log1p, name="my_log1p", text="1/(1 + x)", tex=r"\frac{1}{1 + x}", **options)
    return p.defvjp(lambda g, y, x: g / (1 + x))


def make_hypot(with_jvp=False):
    """hypot(a, b) = √(a² + b²), broadcasting: the vjps return the output's shape, the engine sums them back."""
    p = cr.primitive(lambda a, b: np.hypot(a, b), name="my_hypot", text=("a/y", "b/y"))
    p.defvjp(lambda g, y, a, b: g * a / y, lambda g, y, a, b: g * b / y)
    if with_jvp:
        p.defjvp(lambda t, y, a, b: t * a / y, lambda t, y, a, b: t * b / y)
    return p


def central(f, x, v, eps=EPS):
    return (f(x + eps * v) - f(x - eps * v)) / (2 * eps)


# ---------------------------------------------------------------------------------------------------------------
# Backward, against PyTorch and central differences.
# ---------------------------------------------------------------------------------------------------------------
def test_log1p_gradient_matches_torch_and_central_differences():
    p = make_log1p()
    x = np.array([-0.5, 0.0, 0.3, 2.0])
    grad = cr.grad(lambda x: (p(x) * cr.sin(x)).sum())(x)
    xt = torch.tensor(x, requires_grad=True)
    (torch.log1p(xt) * torch.sin(xt)).sum().backward()
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-13, atol=0)
    numeric = [central(lambda v: np.sum(np.log1p(v) * np.sin(v)), x, e) for e in np.eye(4)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-8)
    assert cr.gradcheck(lambda x: p(x) * x, x)


def test_two_input_primitive_with_broadcasting_matches_torch():
    p = make_hypot()
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.5, 2, (3, 1)), rng.uniform(-2, 2, (4,))
    u = rng.standard_normal((3, 4))
    ga, gb = cr.grad(lambda a, b: (p(a, b) * u).sum(), argnums=(0, 1))(a, b)
    at, bt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (torch.hypot(at, bt) * torch.tensor(u)).sum().backward()
    assert ga.shape == (3, 1) and gb.shape == (4,)
    np.testing.assert_allclose(ga, at.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(gb, bt.grad.numpy(), rtol=1e-13)
    assert cr.gradcheck(lambda a, b: p(a, b), a, b)


def test_gradcheck_catches_a_wrong_vjp():
    p = cr.primitive(np.log1p, name="bad_log1p").defvjp(lambda g, y, x: g / (2 + x))
    with pytest.raises(cr.GradcheckError, match="input 0"):
        cr.gradcheck(lambda x: p(x), np.array([0.5, 1.0]))


# ---------------------------------------------------------------------------------------------------------------
# Higher order, forward mode, Jacobians.
# ---------------------------------------------------------------------------------------------------------------
def test_grad_of_grad_is_analytic_and_torchs():
    p = make_log1p()
    for x0 in (-0.5, 0.25, 3.0):
        d2 = cr.grad(cr.grad(lambda x: p(x) * x))(x0)  # (x log1p x)'' = 2/(1+x) - x/(1+x)²
        assert d2 == pytest.approx(2 / (1 + x0) - x0 / (1 + x0) ** 2, rel=1e-14)
        xt = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        (d1,) = torch.autograd.grad(torch.log1p(xt) * xt, xt, create_graph=True)
        (d2t,) = torch.autograd.grad(d1, xt)
        assert d2 == pytest.approx(d2t.item(), rel=1e-14)
    d3 = cr.grad(cr.grad(cr.grad(p)))(1.0)  # log1p''' = 2/(1+x)³
    assert d3 == pytest.approx(2 / 8, rel=1e-14)


def test_hessian_of_two_input_primitive_matches_torch():
    p = make_hypot()
    a, b = np.array([0.7, -1.2, 2.0]), np.array([1.5, 0.4, -0.3])
    h = cr.hessian(lambda a, b: (p(a, b) ** 2 * a).sum(), argnums=(0, 1))(a, b)
    ht = torch.autograd.functional.hessian(lambda a, b: (torch.hypot(a, b) ** 2 * a).sum(),
                                           (torch.tensor(a), torch.tensor(b)))
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(h[i][j], ht[i][j].numpy(), rtol=1e-12, atol=1e-14)


def test_jacobian_matches_torch():
    p = make_hypot()
    a, b = np.array([[0.5], [1.5]]), np.array([1.0, -2.0, 0.25])
    ja, jb = cr.jacobian(p, argnums=(0, 1))(a, b)
    ta, tb = torch.autograd.functional.jacobian(torch.hypot, (torch.tensor(a), torch.tensor(b)))
    np.testing.assert_allclose(ja, ta.numpy(), rtol=1e-13)
    np.testing.assert_allclose(jb, tb.numpy(), rtol=1e-13)


@pytest.mark.parametrize("with_jvp", [True, False], ids=["defjvp", "derived"])
def test_jvp_agrees_with_vjp_and_central_differences(with_jvp):
    p = make_hypot(with_jvp)
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.5, 2, (2, 3)), rng.uniform(-2, 2, (3,))
    ta, tb = rng.standard_normal(a.shape), rng.standard_normal(b.shape)
    u = rng.standard_normal((2, 3))
    y, t = cr.jvp(p, (a, b), (ta, tb))
    np.testing.assert_array_equal(y, np.hypot(a, b))
    _, pullback = cr.vjp(p, a, b)
    ua, ub = pullback(u)
    assert np.sum(u * t) == pytest.approx(np.sum(ua * ta) + np.sum(ub * tb), rel=1e-13)
    numeric = (np.hypot(a + EPS * ta, b + EPS * tb) - np.hypot(a - EPS * ta, b - EPS * tb)) / (2 * EPS)
    np.testing.assert_allclose(t, numeric, rtol=1e-7)


def test_derived_jvp_inside_grad_is_differentiable():
    # d/dx of (log1p'(x) · t) = -t/(1+x)², through the forward mode derived from the vjp.
    p = make_log1p()
    x, t = np.array([0.5, 1.0, 3.0]), np.array([1.0, -2.0, 0.5])
    g = cr.grad(lambda x: cr.jvp(p, (x,), (t,))[1].sum())(x)
    np.testing.assert_allclose(g, -t / (1 + x) ** 2, rtol=1e-14)
    xt = torch.tensor(x, requires_grad=True)
    _, tangent = torch.autograd.functional.jvp(torch.log1p, (xt,), (torch.tensor(t),), create_graph=True)
    tangent.sum().backward()
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-14)


def test_a_zero_tangent_skips_a_missing_jvp_and_a_needed_one_is_an_error():
    p = cr.primitive(lambda x, w: x * w, name="scale").defvjp(lambda g, y, x, w: g * w, lambda g, y, x, w: g * x)
    p.defjvp(lambda t, y, x, w: t * w, None)
    x, w = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    np.testing.assert_array_equal(cr.jvp(p, (x, w), (np.ones(2), np.zeros(2)))[1], [3.0, 4.0])
    with pytest.raises(cr.NoDerivativeError, match=r"'scale' has no jvp for argument 1 \('w'\)"):
        cr.jvp(p, (x, w), (np.ones(2), np.ones(2)))


def test_float32_stays_float32():
    p = make_log1p()
    x = np.array([0.5, 1.5], dtype=np.float32)
    y, t = cr.jvp(p, (x,), (np.ones(2, np.float32),))
    g = cr.grad(lambda x: p(x).sum())(x)
    h = cr.hessian(lambda x: p(x).sum())(x)
    assert y.dtype == t.dtype == g.dtype == h.dtype == np.float32
    np.testing.assert_allclose(g, 1 / (1 + x), rtol=1e-6)
    # A vjp that computes in float64 is cast back to the input's dtype.
    q = cr.primitive(np.log1p, name="wide_log1p").defvjp(lambda g, y, x: g / (1 + x.astype(np.float64)))
    assert cr.grad(lambda x: q(x).sum())(x).dtype == np.float32


def test_keyword_parameters_reach_forward_and_vjps():
    p = cr.primitive(lambda x, power=2.0: np.abs(x) ** power, name="abs_pow")
    p.defvjp(lambda g, y, x, power=2.0: g * power * cr.sign(x) * cr.abs(x) ** (power - 1))
    x = np.array([-1.5, 0.5, 2.0])
    np.testing.assert_allclose(cr.grad(lambda x: p(x, power=3.0).sum())(x), 3 * np.sign(x) * np.abs(x) ** 2,
                               rtol=1e-14)
    np.testing.assert_allclose(cr.grad(lambda x: p(x).sum())(x), 2 * x, rtol=1e-14)


def test_nondiff_argument_gets_no_gradient_and_needs_no_vjp():
    # take(x, k) = x[k] for an integer k that is never differentiated.
    p = cr.primitive(lambda x, k: x[int(k)] * 1.0, name="pick", nondiff_argnums=(1,))
    p.defvjp(lambda g, y, x, k: cr.where(cr.tensor(np.arange(np.shape(x)[0]) == k), g, 0.0), None)
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(cr.grad(lambda x: p(x, 1))(x), [0.0, 1.0, 0.0])
    xt, kt = cr.tensor(x, requires_grad=True), cr.tensor(2.0, requires_grad=True)
    p(xt, kt).backward()
    assert kt.grad is None  # marked non-differentiable: no gradient, by the user's declaration
    np.testing.assert_array_equal(xt.grad.data, [0.0, 0.0, 1.0])


# ---------------------------------------------------------------------------------------------------------------
# Redefinition.
# ---------------------------------------------------------------------------------------------------------------
def test_defining_again_replaces_and_old_graphs_keep_their_rule():
    old = cr.primitive(lambda x: 2.0 * x, name="scaled").defvjp(lambda g, y, x: 2.0 * g)
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y_old = old(x).sum()
    new = cr.primitive(lambda x: 3.0 * x, name="scaled").defvjp(lambda g, y, x: 3.0 * g)
    assert registry.lookup("scaled") is new.rule is not old.rule
    assert [r.name for r in registry.all_rules()].count("scaled") == 1
    y_old.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])  # the rule it was recorded with
    x.grad = None
    new(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


@pytest.mark.parametrize("name", ["exp", "asin", "softmax"])
def test_builtin_names_cannot_be_replaced(name):
    before = registry.lookup(name)
    with pytest.raises(ValueError, match=f"'{name}' is the name of a built-in rule"):
        cr.primitive(np.exp, name=name)
    rule = registry.Rule(name=name, forward=np.exp, kind=registry.GENERAL, arity=1, vjps=(registry.NO_GRAD,))
    with pytest.raises(ValueError, match="built-in"):
        registry.register(rule, replace=True)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(rule)
    assert registry.lookup(name) is before


def test_a_builtin_cannot_take_a_users_name_silently():
    cr.primitive(np.tanh, name="my_tanh").defvjp(lambda g, y, x: g * (1 - y * y))
    rule = registry.Rule(name="my_tanh", forward=np.tanh, kind=registry.GENERAL, arity=1, vjps=(registry.NO_GRAD,))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(rule)


# ---------------------------------------------------------------------------------------------------------------
# Errors.
# ---------------------------------------------------------------------------------------------------------------
def test_missing_vjp_for_a_needed_gradient_names_primitive_and_argument():
    p = cr.primitive(lambda x, w: x * w, name="times").defvjp(lambda g, y, x, w: g * w, None)
    x, w = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    np.testing.assert_array_equal(cr.grad(lambda x: p(x, w).sum())(x), w)  # w needs no gradient here
    with pytest.raises(cr.NoDerivativeError, match=r"'times' has no vjp for argument 1 \('w'\).*defvjp"):
        cr.grad(lambda w: p(x, w).sum())(w)


def test_differentiating_before_defvjp_is_an_error_but_the_forward_runs():
    p = cr.primitive(np.log1p, name="undefined_yet")
    np.testing.assert_array_equal(p(np.array([0.0, 1.0])).data, np.log1p([0.0, 1.0]))
    with pytest.raises(cr.NoDerivativeError, match=r"'undefined_yet' has no derivative yet.*defvjp"):
        cr.grad(p)(0.5)
    # Also NotImplementedError (as HIPS autograd raises), and still a RuntimeError, in reverse and forward mode.
    for mode in (lambda: cr.grad(p)(0.5), lambda: cr.jvp(p, (0.5,), (1.0,))):
        with pytest.raises(NotImplementedError):
            mode()
        with pytest.raises(RuntimeError):
            mode()


@pytest.mark.parametrize(("forward", "found"), [
    (lambda x: (x > 0).astype(np.int64), "an array of dtype int64"),
    (lambda x: x > 0, "an array of dtype bool"),
    (lambda x: (x, x), "tuple"),
    (lambda x: x.astype(np.str_), "an array of dtype <U"),
])
def test_forward_must_return_a_float_array(forward, found):
    p = cr.primitive(forward, name="bad_forward").defvjp(lambda g, y, x: g)
    with pytest.raises(TypeError, match=rf"primitive 'bad_forward': the forward returned {found}"):
        p(np.array([1.0, -1.0]))


def test_vjp_of_wrong_shape_names_primitive_argument_and_shapes():
    p = cr.primitive(lambda a, b: a * b, name="bad_shape")
    p.defvjp(lambda g, y, a, b: g * b, lambda g, y, a, b: cr.sum(g * a, axis=0))  # the 2nd should keep b's shape
    a, b = np.ones((2, 3)), np.ones((2, 3))
    with pytest.raises(cr.ShapeError, match=r"argument 1 \('b'\) of primitive 'bad_shape' returned shape \(3,\); "
                                            r"expected the argument's shape \(2, 3\)"):
        cr.grad(lambda b: p(a, b).sum())(b)


def test_vjp_returning_none_is_an_error():
    p = cr.primitive(np.sin, name="lazy").defvjp(lambda g, y, x: None)
    with pytest.raises(TypeError, match=r"argument 0 \('x'\) of primitive 'lazy' returned None"):
        cr.grad(p)(0.5)


def test_numpy_in_a_vjp_differentiates_again_through_numpys_protocols():
    # np.cos on a Tensor is chainrule's cos (NumPy's __array_ufunc__ protocol), so a vjp written with NumPy
    # functions that chainrule.numpy has can be differentiated again.
    p = cr.primitive(np.sin, name="np_sin").defvjp(lambda g, y, x: g * np.cos(x))
    assert cr.grad(p)(0.5) == pytest.approx(np.cos(0.5), rel=1e-15)
    assert cr.grad(cr.grad(p))(0.5) == pytest.approx(-np.sin(0.5), rel=1e-15)


def test_a_numpy_function_without_a_derivative_in_a_vjp_is_a_clear_error_at_higher_order():
    p = cr.primitive(np.sin, name="np_sin2").defvjp(lambda g, y, x: g * np.nextafter(np.cos(x), 2.0))
    with pytest.raises(TypeError, match=r"primitive 'np_sin2' failed on Tensors.*chainrule functions"):
        cr.grad(cr.grad(p))(0.5)


def test_wrong_counts_are_clear_errors():
    with pytest.raises(ValueError, match=r"forward takes 2 argument\(s\) \(a, b\), but 1 vjp"):
        cr.primitive(lambda a, b: a + b, name="two").defvjp(lambda g, y, a, b: g)
    p = make_log1p()
    with pytest.raises(TypeError, match=r"'my_log1p' takes 1 positional argument"):
        p(np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="defjvp was given 2 jvp"):
        p.defjvp(lambda t, y, x: t, None)
    with pytest.raises(ValueError, match="name must be an identifier"):
        cr.primitive(np.sin, name="my op")
    with pytest.raises(ValueError, match="give name="):
        cr.primitive(lambda x: x)
    with pytest.raises(TypeError, match="keyword argument 'scale' is a Tensor that requires grad"):
        p(np.ones(2), scale=cr.tensor(1.0, requires_grad=True))
    with pytest.raises(ValueError, match="argument 0 is in nondiff_argnums"):
        cr.primitive(np.sin, name="nd", nondiff_argnums=(0,)).defvjp(lambda g, y, x: g)


# ---------------------------------------------------------------------------------------------------------------
# chainrule rules, explanations.
# ---------------------------------------------------------------------------------------------------------------
def _row(out: str, name: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(name + " ")]


def test_rules_command_checks_the_primitive_at_its_sample(capsys):
    make_log1p(sample=(np.array([0.5, 2.0]),))
    assert main(["rules"]) == 0
    (row,) = _row(capsys.readouterr().out, "my_log1p")
    assert "1/(1 + x)" in row and row.endswith("OK")
    engine, numeric = (float(v) for v in row.split()[-3:-1])
    assert engine == pytest.approx(numeric, rel=1e-6)


def test_rules_command_fails_on_a_wrong_vjp_and_lists_one_without_sample(capsys):
    cr.primitive(np.log1p, name="wrong_log1p", text="1/(2 + x)", sample=(np.array([0.5]),)).defvjp(
        lambda g, y, x: g / (2 + x))
    make_hypot()
    assert main(["rules"]) == 1
    out = capsys.readouterr().out
    (row,) = _row(out, "wrong_log1p")
    assert row.endswith("FAIL")
    rows = _row(out, "my_hypot")
    assert len(rows) == 2 and all("no sample" in r and r.endswith("not checked") for r in rows)
    assert "1 FAILED; 2 listed but not checked" in out


def test_rules_command_reports_a_failing_primitive_without_crashing(capsys):
    cr.primitive(np.sin, name="raises", sample=(np.array([0.5, 1.0]),)).defvjp(lambda g, y, x: g[None] * x)
    assert main(["rules"]) == 1
    (row,) = _row(capsys.readouterr().out, "raises")
    assert "error: ShapeError" in row and row.endswith("FAIL")


def test_rules_command_imports_the_users_module(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_primitives_for_rules.py").write_text(
        "import numpy as np\nimport chainrule as cr\n"
        "cube = cr.primitive(lambda x: x ** 3, name='cube', text='3*x**2', sample=(np.array([0.5, -1.0]),))\n"
        "cube.defvjp(lambda g, y, x: 3 * g * x * x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_primitives_for_rules", raising=False)
    assert main(["rules", "--import", "my_primitives_for_rules"]) == 0
    (row,) = _row(capsys.readouterr().out, "cube")
    assert "3*x**2" in row and row.endswith("OK")


def test_explain_shows_the_primitives_name_text_and_tex():
    p = make_log1p()
    e = cr.explain(lambda x: p(x) * 2, x=0.5)
    assert e.gradients == {"x": pytest.approx(2 / 1.5, rel=1e-15)}
    text = e.to_text()
    assert "v1 = my_log1p(x)" in text and "my_log1p: 1/(1 + x)" in text
    latex = e.to_latex()
    assert r"\operatorname{my\_log1p}(x):\quad \frac{1}{1 + x}" in latex
    assert r"v_{1} &= \operatorname{my\_log1p}\left(x\right)" in latex
    assert r"\frac{1}{1 + x}" in e.to_markdown()


# ---------------------------------------------------------------------------------------------------------------
# The README's example runs.
# ---------------------------------------------------------------------------------------------------------------
def test_readme_example_runs(capsys):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("### Your own primitive", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    x = np.array([-1.0, 0.0, 3.0])
    sigmoid = 1 / (1 + np.exp(-x))
    numbers = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", out.split("my_softplus")[0])]
    np.testing.assert_allclose(numbers[:3], sigmoid, rtol=1e-6)  # the gradient
    assert numbers[3] == pytest.approx(0.25)  # the second derivative at 0
    np.testing.assert_allclose(numbers[4:7], sigmoid, rtol=1e-6)  # the jvp with tangent 1
    assert "my_softplus: sigmoid(x)" in out
