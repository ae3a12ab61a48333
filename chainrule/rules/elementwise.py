"""The table of elementwise derivatives: the text's list, then the rest of the API.

Conventions, as in PyTorch's derivatives.yaml: ``x`` (or ``a``, ``b``) is an input, ``y`` the op's output, ``m`` the
math namespace (NumPy arrays, differentiable Tensors or SymPy symbols). Each function returns the *local derivative*
∂y/∂input; the engine multiplies it by the upstream gradient ``g`` (backward) or by a tangent ``t`` (forward mode) and
undoes broadcasting. Python numbers in a rule take the operand's dtype, so float32 stays float32.

Each entry also writes the function itself against ``m`` (``expression``): on SymPy symbols it is the formula that
explanations differentiate by this table, and that the tests differentiate with ``sympy.diff`` to check the rule.

Arithmetic uses Python's operators rather than the ufuncs: on arrays they are the same ufuncs, and on the NumPy
scalars that 0-d results are, they take NumPy's fast scalar path (about 10x cheaper than calling the ufunc).

Kinks and edges, one convention (tested in tests/rules/test_conventions.py): a piecewise-linear function's derivative
at its kink is that of its flat side, 0 — abs'(0) = 0, relu'(0) = 0, clip'(x) = 0 on the clip bounds — and
the rules maximum/minimum send gradient only to an input that strictly wins (a tie sends 0 to both). So relu(x),
maximum(x, 0) and clip(x, 0, None) agree everywhere. leaky_relu'(0) = slope (the negative side). When both inputs of
``cr.maximum``/``minimum`` carry gradients, ops composes them with ``where`` so that a tie sends half to each
(maximum(x, x) = x then has derivative 1); reductions max/min share ties evenly too.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from . import numpy_math
from .registry import ELEMENTWISE, MINUS_ONE, NO_GRAD, ONE, Rule, Sample, is_complex, register

LN2 = math.log(2.0)
LN10 = math.log(10.0)

# The entries that take complex inputs: the holomorphic functions NumPy defines over C (their local derivative is
# f'(z), and the engine forms g·f'(z), the covector convention of HIPS autograd and JAX), plus abs and angle, real
# functions of z whose local derivative is the covector ∂f/∂x − i ∂f/∂y (backward g·local, forward Re(t·local)).
# Every other entry raises TypeError on complex input (see Rule.supports_complex).
COMPLEX = {
    "add", "subtract", "multiply", "divide", "power", "negative", "exp", "log", "logb", "log2", "log10", "log1p",
    "expm1", "sqrt", "sin", "cos", "tan", "csc", "sec", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "arcsinh", "arccosh", "arctanh", "square", "reciprocal", "exp2", "abs", "angle", "sinc",
}
# Ops without a gradient that NumPy defines on complex numbers: equality, logical not, rint (both parts rounded).
COMPLEX_NO_GRADIENT = {"equal", "not_equal", "logical_not", "rint"}

UNARY_SAMPLES = (Sample(((),)), Sample(((5,),)), Sample(((2, 3),)))
BINARY_SAMPLES = (
    Sample(((4,), (4,))),
    Sample(((2, 3), (3,))),
    Sample(((2, 1), (1, 3))),
    Sample(((), (2, 2))),
)


def unary(name, forward, *, text, tex, display, expression=None, domain=(-2.0, 2.0), aliases=(), order=2, note="",
          params=None, public=True, method=True, grammar=True, **names):
    """Register a one-input elementwise rule; decorates its local derivative ``d(x, y, m, **params)``.

    By default it is ``cr.<name>``, ``t.<name>()`` and a function of the expression grammar; ``names`` are the
    entry's other names (symbol, tex_name, operator, written_as).
    """
    samples = UNARY_SAMPLES if params is None else tuple(Sample(s.shapes, params) for s in UNARY_SAMPLES)
    names.setdefault("supports_complex", name in COMPLEX)

    def decorate(derivative):
        register(
            Rule(
                name=name, forward=forward, kind=ELEMENTWISE, arity=1, args=("x",), derivatives=(derivative,),
                text=(text,), tex=(tex,), display=display, expression=expression, domain=domain, samples=samples,
                order=order, aliases=aliases, note=note, public=public, method=method, grammar=grammar, **names,
            )
        )
        return derivative

    return decorate


def binary(name, forward, da, db, *, text, tex, display, expression=None, domain=(-2.0, 2.0), aliases=(), note="",
           order=2, args=("a", "b"), public=True, method=False, grammar=False, **names):
    """Register a two-input elementwise rule with local derivatives ``da(a, b, y, m)`` and ``db(a, b, y, m)``.

    By default it is ``cr.<name>`` (not a Tensor method, nor a function of the expression grammar); ``names`` are
    the entry's other names (operator, written_as...).
    """
    names.setdefault("supports_complex", name in COMPLEX)
    register(
        Rule(
            name=name, forward=forward, kind=ELEMENTWISE, arity=2, args=args, derivatives=(da, db),
            text=text, tex=tex, display=display, expression=expression, domain=domain, samples=BINARY_SAMPLES,
            order=order, aliases=aliases, note=note, public=public, method=method, grammar=grammar, **names,
        )
    )


# ---------------------------------------------------------------------------------------------------------------
# Arithmetic.
# ---------------------------------------------------------------------------------------------------------------
binary("add", operator.add, ONE, ONE, expression=lambda a, b, m: a + b,
       text=("1", "1"), tex=("1", "1"), display="a + b", operator="+")
binary("subtract", operator.sub, ONE, MINUS_ONE, expression=lambda a, b, m: a - b,
       text=("1", "-1"), tex=("1", "-1"), display="a - b",
       aliases=("sub",), operator="-")
binary("multiply", operator.mul, lambda a, b, y, m: b, lambda a, b, y, m: a,
       expression=lambda a, b, m: a * b,
       text=("b", "a"), tex=("b", "a"), display=r"a \cdot b", aliases=("mul",), operator="*")
binary("divide", operator.truediv, lambda a, b, y, m: 1 / b, lambda a, b, y, m: -y / b,
       expression=lambda a, b, m: a / b,
       text=("1/b", "-a/b**2"), tex=(r"\frac{1}{b}", r"-\frac{a}{b^2}"), display=r"\frac{a}{b}",
       domain=((-2.0, 2.0), (0.5, 2.0)), aliases=("div", "true_divide"), operator="/")
def _d_power_base(a, b, y, m):
    # d/da a**b = b a**(b-1); where b = 0, a**0 = 1 is flat, so 0 even at a = 0 (where the formula is 0·inf = nan).
    if type(b) is int or type(b) is float:
        return b * a ** (b - 1) if b != 0 else m.zeros_like(a)
    raw = m.stop(b)
    if m.has_zero(raw):
        return b * a ** m.where(raw == 0, 1, b - 1)
    return b * a ** (b - 1)


def _d_power_exponent(a, b, y, m):
    # d/db a**b = a**b ln a. At a = 0, 0**b = 0 is flat for b > 0, so 0 there (as PyTorch, JAX and autograd), where
    # the formula is 0·(-inf) = nan. ln a is taken with a's zeros replaced by 1, which makes the product y·0: 0 for
    # b >= 0, still nan for b < 0 (y = inf, no derivative). Masking ln a rather than the product keeps the second
    # derivative finite as well (a masked product's derivative would be 0·ln 0 again).
    if type(a) is int or type(a) is float:
        return y * m.log(a if a != 0 else 1)
    raw = m.stop(a)
    if m.has_zero(raw):
        return y * m.log(m.where(raw == 0, 1, a))
    return y * m.log(a)


binary("power", operator.pow, _d_power_base, _d_power_exponent,
       expression=lambda a, b, m: a**b,
       text=("b*a**(b - 1)", "a**b*log(a)"), tex=(r"b\,a^{b-1}", r"a^{b}\ln a"), display="a^{b}",
       domain=((0.5, 2.0), (-2.0, 2.0)), aliases=("pow",), operator="**", method=True,
       note="d/da a**0 = 0, also at a = 0; d/db a**b = 0 at a = 0 for b >= 0 (0**b is flat there), nan for "
            "a < 0 as ln a is, and for a = 0, b < 0 (0**b = inf); with a constant exponent it is never formed")


unary("negative", operator.neg, expression=lambda x, m: -x,
      text="-1", tex="-1", display="-x", aliases=("neg",), operator="-", method=False,
      grammar=False)(MINUS_ONE)


# ---------------------------------------------------------------------------------------------------------------
# The text's table: exponentials and logarithms.
# ---------------------------------------------------------------------------------------------------------------
@unary("exp", np.exp, expression=lambda x, m: m.exp(x),
       text="exp(x)", tex="e^{x}", display="e^{x}", tex_name=r"\exp")
def d_exp(x, y, m):
    return y


@unary("log", np.log, expression=lambda x, m: m.log(x),
       text="1/x", tex=r"\frac{1}{x}", display=r"\ln x", domain=(0.2, 3.0),
       note="log of a negative number is nan (NumPy warns), never an exception mid-graph",
       symbol="ln", tex_name=r"\ln")  # cr.log(x, base) and t.log(base) are written in ops.py: they reach logb too
def d_log(x, y, m):
    return 1 / x


binary("logb", lambda x, base: np.log(x) / numpy_math.log(base),
       lambda x, a, y, m: 1 / (x * m.log(a)), lambda x, a, y, m: -y / (a * m.log(a)),
       expression=lambda x, a, m: m.log(x) / m.log(a),
       text=("1/(x*log(a))", "-log(x)/(a*log(a)**2)"),
       tex=(r"\frac{1}{x \ln a}", r"-\frac{\ln x}{a \ln^2 a}"), display=r"\log_{a} x",
       domain=((0.2, 3.0), (1.5, 4.0)), args=("x", "a"), public=False, grammar=True, written_as="log")


@unary("log2", np.log2, expression=lambda x, m: m.log(x) / m.log(2),
       text="1/(x*log(2))", tex=r"\frac{1}{x \ln 2}", display=r"\log_2 x", domain=(0.2, 3.0),
       tex_name=r"\log_2")
def d_log2(x, y, m):
    return 1 / (x * LN2)


@unary("log10", np.log10, expression=lambda x, m: m.log(x) / m.log(10),
       text="1/(x*log(10))", tex=r"\frac{1}{x \ln 10}", display=r"\log_{10} x",
       domain=(0.2, 3.0), tex_name=r"\log_{10}")
def d_log10(x, y, m):
    return 1 / (x * LN10)


@unary("log1p", np.log1p, expression=lambda x, m: m.log(1 + x),
       text="1/(1 + x)", tex=r"\frac{1}{1+x}", display=r"\ln(1+x)", domain=(-0.5, 2.0))
def d_log1p(x, y, m):
    return 1 / (1 + x)


@unary("expm1", np.expm1, expression=lambda x, m: m.exp(x) - 1,
       text="exp(x)", tex="e^{x}", display="e^{x} - 1")
def d_expm1(x, y, m):
    return y + 1


@unary("sqrt", np.sqrt, expression=lambda x, m: m.sqrt(x),
       text="1/(2*sqrt(x))", tex=r"\frac{1}{2\sqrt{x}}", display=r"\sqrt{x}",
       domain=(0.2, 3.0), note="sqrt'(0) = inf, as 1/(2*sqrt(0)) is", symbol="√")
def d_sqrt(x, y, m):
    return 0.5 / y


# ---------------------------------------------------------------------------------------------------------------
# The text's table: trigonometric functions and their inverses.
# ---------------------------------------------------------------------------------------------------------------
@unary("sin", np.sin, expression=lambda x, m: m.sin(x),
       text="cos(x)", tex=r"\cos x", display=r"\sin x", tex_name=r"\sin")
def d_sin(x, y, m):
    return m.cos(x)


@unary("cos", np.cos, expression=lambda x, m: m.cos(x),
       text="-sin(x)", tex=r"-\sin x", display=r"\cos x", tex_name=r"\cos")
def d_cos(x, y, m):
    return -m.sin(x)


@unary("tan", np.tan, expression=lambda x, m: m.tan(x),
       text="sec(x)**2 = 1 + tan(x)**2", tex=r"\sec^2 x", display=r"\tan x", domain=(-1.2, 1.2), tex_name=r"\tan")
def d_tan(x, y, m):
    return 1 + y * y


@unary("csc", lambda x: 1 / np.sin(x), expression=lambda x, m: m.csc(x),
       text="-csc(x)*cot(x)", tex=r"-\csc x \cot x", display=r"\csc x",
       domain=(0.3, 2.8), tex_name=r"\csc")
def d_csc(x, y, m):
    return -y / m.tan(x)


@unary("sec", lambda x: 1 / np.cos(x), expression=lambda x, m: m.sec(x),
       text="sec(x)*tan(x)", tex=r"\sec x \tan x", display=r"\sec x",
       domain=(-1.2, 1.2), tex_name=r"\sec")
def d_sec(x, y, m):
    return y * m.tan(x)


@unary("cot", lambda x: np.cos(x) / np.sin(x), expression=lambda x, m: m.cot(x),
       text="-csc(x)**2 = -(1 + cot(x)**2)", tex=r"-\csc^2 x",
       display=r"\cot x", domain=(0.3, 2.8), tex_name=r"\cot")
def d_cot(x, y, m):
    return -(1 + y * y)


@unary("arcsin", np.arcsin, expression=lambda x, m: m.arcsin(x),
       text="1/sqrt(1 - x**2)", tex=r"\frac{1}{\sqrt{1-x^2}}", display=r"\arcsin x",
       domain=(-0.9, 0.9), aliases=("asin",), tex_name=r"\arcsin")
def d_arcsin(x, y, m):
    return 1 / m.sqrt(1 - x * x)


@unary("arccos", np.arccos, expression=lambda x, m: m.arccos(x),
       text="-1/sqrt(1 - x**2)", tex=r"-\frac{1}{\sqrt{1-x^2}}", display=r"\arccos x",
       domain=(-0.9, 0.9), aliases=("acos",), tex_name=r"\arccos")
def d_arccos(x, y, m):
    return -1 / m.sqrt(1 - x * x)


@unary("arctan", np.arctan, expression=lambda x, m: m.arctan(x),
       text="1/(1 + x**2)", tex=r"\frac{1}{1+x^2}", display=r"\arctan x",
       aliases=("atan",), tex_name=r"\arctan")
def d_arctan(x, y, m):
    return 1 / (1 + x * x)


# ---------------------------------------------------------------------------------------------------------------
# Hyperbolic functions and the activations of neural networks.
# ---------------------------------------------------------------------------------------------------------------
@unary("sinh", np.sinh, expression=lambda x, m: m.sinh(x),
       text="cosh(x)", tex=r"\cosh x", display=r"\sinh x", tex_name=r"\sinh")
def d_sinh(x, y, m):
    return m.cosh(x)


@unary("cosh", np.cosh, expression=lambda x, m: m.cosh(x),
       text="sinh(x)", tex=r"\sinh x", display=r"\cosh x", tex_name=r"\cosh")
def d_cosh(x, y, m):
    return m.sinh(x)


@unary("tanh", np.tanh, expression=lambda x, m: m.tanh(x),
       text="1 - tanh(x)**2", tex=r"1 - \tanh^2 x", display=r"\tanh x", tex_name=r"\tanh")
def d_tanh(x, y, m):
    return 1 - y * y


@unary("sigmoid", numpy_math.sigmoid, expression=lambda x, m: m.sigmoid(x),
       text="sigmoid(x)*(1 - sigmoid(x))", tex=r"\sigma(x)\,(1 - \sigma(x))",
       display=r"\sigma(x) = \frac{1}{1 + e^{-x}}", domain=(-4.0, 4.0), symbol="σ",
       tex_name=r"\sigma")
def d_sigmoid(x, y, m):
    return y * (1 - y)


@unary("softplus", lambda x: np.logaddexp(0, x), expression=lambda x, m: m.log(1 + m.exp(x)),
       text="sigmoid(x)", tex=r"\sigma(x)", display=r"\ln(1 + e^{x})",
       domain=(-4.0, 4.0))
def d_softplus(x, y, m):
    return m.sigmoid(x)


@unary("leaky_relu", lambda x, slope=0.01: np.where(x > 0, x, x * slope),
       expression=lambda x, m, slope=0.01: m.where_positive(x, x, slope * x),
       text="1 if x > 0 else slope", tex=r"[x > 0] + \text{slope}\,[x \le 0]", display=r"\max(x, \text{slope}\,x)",
       params={"slope": 0.01}, note="leaky_relu'(0) = slope", grammar=False)
def d_leaky_relu(x, y, m, slope=0.01):
    return slope + (1 - slope) * m.step(x)


@unary("relu", lambda x: np.maximum(x, 0), expression=lambda x, m: m.maximum(x, 0),
       text="1 if x > 0 else 0", tex=r"[x > 0]", display=r"\max(x, 0)",
       note="relu'(0) = 0")
def d_relu(x, y, m):
    return m.step(x)


@unary("abs", np.abs, expression=lambda x, m: m.abs(x),
       text="sign(x)", tex=r"\operatorname{sign} x", display="|x|", aliases=("absolute",),
       note="abs'(0) = 0; for complex z the covector conj(z)/|z| (0 at z = 0)")
def d_abs(x, y, m):
    if not is_complex(x, m):
        return m.sign(x)
    # |z| is real, not holomorphic: its covector ∂/∂x − i ∂/∂y is conj(z)/|z|; at z = 0 it is 0, as abs'(0) = 0.
    raw = m.stop(y)
    if m.has_zero(raw):
        return m.conj(x) / m.where(raw == 0, 1, y)
    return m.conj(x) / y


def _angle(x):
    return np.angle(x)


@unary("angle", _angle, expression=lambda x, m: m.arctan2(0 * x, x), text="0",
       tex="0", display=r"\arg z", method=False, grammar=False,
       note="angle is constant on each half of the real line (gradient 0); for complex z the covector of "
            "atan2(y, x) is -i/z, and 0 at z = 0")
def d_angle(x, y, m):
    if not is_complex(x, m):
        return m.zeros_like(x)
    raw = m.stop(x)
    if m.has_zero(raw):
        return m.where(raw == 0, 0j, -1j / m.where(raw == 0, 1, x))
    return -1j / x


def no_gradient(name, forward, arity, *, display, expression=None, aliases=(), public=True, method=False,
                grammar=False):
    """Register an op through which no gradient flows by definition (sign, step, comparisons)."""
    register(
        Rule(
            name=name, forward=forward, kind=ELEMENTWISE, arity=arity, derivatives=(NO_GRAD,) * arity,
            args=("x",) if arity == 1 else ("a", "b"),
            text=("0 (no gradient)",) * arity, tex=("0",) * arity, display=display, expression=expression,
            aliases=aliases, public=public, method=method, grammar=grammar,
            samples=UNARY_SAMPLES if arity == 1 else BINARY_SAMPLES, order=0,
            supports_complex=name in COMPLEX_NO_GRADIENT,
        )
    )


no_gradient("sign", np.sign, 1, expression=lambda x, m: m.sign(x), display=r"\operatorname{sign} x", method=True,
            grammar=True)
# step(x) = [x > 0] in x's dtype: the local derivative of relu, maximum and clip.
# step and logical_not serve the rules (m.step, m.logical_not): ops has them, cr does not.
no_gradient("step", numpy_math.step, 1, expression=lambda x, m: m.step(x), display="[x > 0]", public=False)
no_gradient("logical_not", np.logical_not, 1, display=r"\lnot x", public=False)
for _name, _ufunc, _symbol in (
    ("less", np.less, "<"), ("less_equal", np.less_equal, r"\le"), ("greater", np.greater, ">"),
    ("greater_equal", np.greater_equal, r"\ge"), ("equal", np.equal, "="), ("not_equal", np.not_equal, r"\ne"),
):
    no_gradient(_name, _ufunc, 2, display=f"a {_symbol} b")


binary("maximum", np.maximum, lambda a, b, y, m: m.step(a - b), lambda a, b, y, m: m.step(b - a),
       expression=lambda a, b, m: m.maximum(a, b),
       text=("1 if a > b else 0", "1 if b > a else 0"), tex=(r"[a > b]", r"[b > a]"), display=r"\max(a, b)",
       note="a tie a == b sends 0 to both inputs, so maximum(x, 0) has relu's derivative (cr.maximum of two "
            "inputs that both carry gradients splits a tie instead)", grammar=True)
binary("minimum", np.minimum, lambda a, b, y, m: m.step(b - a), lambda a, b, y, m: m.step(a - b),
       expression=lambda a, b, m: m.minimum(a, b),
       text=("1 if a < b else 0", "1 if b < a else 0"), tex=(r"[a < b]", r"[b < a]"), display=r"\min(a, b)",
       note="a tie a == b sends 0 to both inputs", grammar=True)


def _clip(x, lo=None, hi=None):
    if lo is None and hi is None:
        return x.copy() if isinstance(x, np.ndarray) else x
    return np.clip(x, lo, hi)


def _clip_expression(x, m, lo=None, hi=None):
    out = x if lo is None else m.maximum(x, lo)
    return out if hi is None else m.minimum(out, hi)


def d_clip(x, y, m, lo=None, hi=None):
    # Strictly inside the bounds the derivative is 1; on a bound it is 0 (the flat side), like relu'(0).
    inside = m.ones_like(x) if lo is None else m.step(x - lo)
    return inside if hi is None else inside * m.step(hi - x)


register(Rule(
    name="clip", forward=_clip, kind=ELEMENTWISE, arity=1, args=("x",), derivatives=(d_clip,), domain=(-0.45, 0.45),
    expression=_clip_expression, text=("1 if lo < x < hi else 0",), tex=(r"[\text{lo} < x < \text{hi}]",),
    display=r"\operatorname{clip}(x)",
    samples=(Sample(((5,),), {"lo": -0.5, "hi": 0.5}), Sample(((2, 3),), {"lo": 0.0, "hi": None}),
             Sample(((4,),), {"lo": None, "hi": 1.0}),
             # Bounds that broadcast the output beyond x: x's gradient sums over the added and stretched axes.
             Sample(((3,),), {"lo": np.array([[-0.6], [0.1]]), "hi": 0.35}),
             Sample(((),), {"lo": None, "hi": np.array([-0.2, 0.1, 0.6])}),
             Sample(((2, 1),), {"lo": np.array([-0.3, 0.0, -0.6]), "hi": np.array([[0.2], [0.6]])})),
    note="clip'(x) = 0 on the bounds, so clip(x, 0, None) has relu's derivative", public=True, method=True,
))

register(Rule(
    name="where", forward=np.where, kind=ELEMENTWISE, arity=3, args=("cond", "a", "b"),
    derivatives=(NO_GRAD, lambda c, a, b, y, m: c, lambda c, a, b, y, m: m.logical_not(c)),
    expression=lambda c, a, b, m: m.where(c, a, b),
    text=("0 (no gradient)", "1 where cond else 0", "0 where cond else 1"),
    tex=("0", r"[\text{cond}]", r"[\lnot\text{cond}]"), display=r"\text{cond} \;?\; a : b",
    samples=(Sample(((4,), (4,), (4,)), boolean=(0,)), Sample(((2, 3), (3,), (2, 1)), boolean=(0,)),
             # The condition broadcasting a scalar a and a smaller b.
             Sample(((2, 3), (), (1, 3)), boolean=(0,))),
    note="the condition gets no gradient", public=True, supports_complex=True,
))


# ---------------------------------------------------------------------------------------------------------------
# NumPy's other elementwise functions (chainrule.numpy, and NumPy's own ufuncs on Tensors).
# ---------------------------------------------------------------------------------------------------------------
@unary("square", np.square, expression=lambda x, m: x * x,
       text="2*x", tex="2 x", display="x^2", method=False, grammar=False)
def d_square(x, y, m):
    return 2 * x


@unary("reciprocal", np.reciprocal, expression=lambda x, m: 1 / x,
       text="-1/x**2", tex=r"-\frac{1}{x^2}", display=r"\frac{1}{x}", domain=(0.5, 2.0), method=False,
       grammar=False)
def d_reciprocal(x, y, m):
    return -y * y


@unary("cbrt", np.cbrt, expression=lambda x, m: m.cbrt(x),
       text="1/(3*x**(2/3))", tex=r"\frac{1}{3 x^{\frac{2}{3}}}", display=r"\sqrt[3]{x}", domain=(0.2, 3.0),
       method=False, grammar=False, note="cbrt'(0) = inf; defined for negative x too, as 1/(3 cbrt(x)^2)")
def d_cbrt(x, y, m):
    return 1 / (3 * y * y)


@unary("exp2", np.exp2, expression=lambda x, m: 2**x,
       text="2**x*log(2)", tex=r"2^{x} \ln 2", display="2^{x}", method=False, grammar=False)
def d_exp2(x, y, m):
    return y * LN2


def _sinc_safe(x, m):
    """x with its zeros replaced by 1, so that sinc's derivative formula never divides by 0 (see d_sinc)."""
    raw = m.stop(x)
    if m.has_zero(raw):
        return m.where(raw == 0, 1, x), raw == 0
    return x, None


@unary("sinc", np.sinc, expression=lambda x, m: m.sin(m.pi * x) / (m.pi * x),
       text="(cos(pi*x) - sin(pi*x)/(pi*x))/x", tex=r"\frac{\cos(\pi x) - \frac{\sin(\pi x)}{\pi x}}{x}",
       display=r"\frac{\sin \pi x}{\pi x}", method=False, grammar=False,
       note="sinc'(0) = 0 (sinc is even); the formula is evaluated at x = 1 there and masked, so no nan")
def d_sinc(x, y, m):
    safe, zero = _sinc_safe(x, m)
    d = (m.cos(math.pi * safe) - m.sinc(safe)) / safe
    return d if zero is None else m.where(zero, 0, d)


@unary("arcsinh", np.arcsinh, expression=lambda x, m: m.arcsinh(x),
       text="1/sqrt(x**2 + 1)", tex=r"\frac{1}{\sqrt{x^2 + 1}}", display=r"\operatorname{arsinh} x",
       aliases=("asinh",), method=False, grammar=False)
def d_arcsinh(x, y, m):
    return 1 / m.sqrt(x * x + 1)


@unary("arccosh", np.arccosh, expression=lambda x, m: m.arccosh(x),
       text="1/sqrt(x**2 - 1)", tex=r"\frac{1}{\sqrt{x^2 - 1}}", display=r"\operatorname{arcosh} x",
       domain=(1.2, 3.0), aliases=("acosh",), method=False, grammar=False,
       note="arccosh is defined for x >= 1 (nan below, as NumPy); its derivative is inf at 1")
def d_arccosh(x, y, m):
    if is_complex(x, m):  # the principal branch's derivative: sqrt(z²−1) has the wrong sign where Re z < 0
        return 1 / (m.sqrt(x - 1) * m.sqrt(x + 1))
    return 1 / m.sqrt(x * x - 1)


@unary("arctanh", np.arctanh, expression=lambda x, m: m.arctanh(x),
       text="1/(1 - x**2)", tex=r"\frac{1}{1 - x^2}", display=r"\operatorname{artanh} x",
       domain=(-0.9, 0.9), aliases=("atanh",), method=False, grammar=False)
def d_arctanh(x, y, m):
    return 1 / (1 - x * x)


binary("arctan2", np.arctan2, lambda a, b, y, m: b / (a * a + b * b), lambda a, b, y, m: -a / (a * a + b * b),
       expression=lambda a, b, m: m.arctan2(a, b),
       text=("b/(a**2 + b**2)", "-a/(a**2 + b**2)"), tex=(r"\frac{b}{a^2 + b^2}", r"-\frac{a}{a^2 + b^2}"),
       display=r"\operatorname{atan2}(a, b)", domain=((-2.0, 2.0), (0.3, 2.0)), aliases=("atan2",),
       note="the angle of the point (b, a); at the origin the derivative is nan (0/0)")
binary("hypot", np.hypot, lambda a, b, y, m: a / y, lambda a, b, y, m: b / y,
       expression=lambda a, b, m: m.sqrt(a * a + b * b),
       text=("a/sqrt(a**2 + b**2)", "b/sqrt(a**2 + b**2)"),
       tex=(r"\frac{a}{\sqrt{a^2 + b^2}}", r"\frac{b}{\sqrt{a^2 + b^2}}"), display=r"\sqrt{a^2 + b^2}",
       note="at the origin the derivative is nan (0/0), as for sqrt(a**2 + b**2)")
binary("logaddexp", np.logaddexp, lambda a, b, y, m: m.exp(a - y), lambda a, b, y, m: m.exp(b - y),
       expression=lambda a, b, m: m.log(m.exp(a) + m.exp(b)),
       text=("exp(a)/(exp(a) + exp(b))", "exp(b)/(exp(a) + exp(b))"),
       tex=(r"\frac{e^{a}}{e^{a} + e^{b}}", r"\frac{e^{b}}{e^{a} + e^{b}}"), display=r"\ln(e^{a} + e^{b})",
       note="the derivatives are formed as exp(a - y), never overflowing")
binary("logaddexp2", np.logaddexp2, lambda a, b, y, m: 2 ** (a - y), lambda a, b, y, m: 2 ** (b - y),
       expression=lambda a, b, m: m.log(2**a + 2**b) / m.log(2),
       text=("2**a/(2**a + 2**b)", "2**b/(2**a + 2**b)"),
       tex=(r"\frac{2^{a}}{2^{a} + 2^{b}}", r"\frac{2^{b}}{2^{a} + 2^{b}}"), display=r"\log_2(2^{a} + 2^{b})")

# Rounding: piecewise constant, so no gradient (0 almost everywhere; at a jump there is no derivative, and 0 is
# the convention of NumPy-based autodiff: autograd, JAX and PyTorch).
for _name, _ufunc in (("floor", np.floor), ("ceil", np.ceil), ("rint", np.rint), ("trunc", np.trunc)):
    no_gradient(_name, _ufunc, 1, display=rf"\operatorname{{{_name}}} x")
