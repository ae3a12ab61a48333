"""Symbolic derivatives from the rule table: each rule's derivative evaluated on SymPy symbols.

The rules in :mod:`chainrule.rules.elementwise` are written against a math namespace ``m``. With NumPy they compute
a backward pass; with :data:`sympy_math` (this module) the very same line gives the formula::

    >>> from chainrule.symbolic.formulas import formula
    >>> formula("tan")
    tan(x)**2 + 1
    >>> formula("sigmoid")
    (1 - sigmoid(x))*sigmoid(x)

:func:`derivative` differentiates a parsed expression by the chain rule over its tree, using only those rule
formulas (never ``sympy.diff``), then simplifies the result. SymPy is an optional extra
(``pip install 'chainrule[symbolic]'``); this is the only module that imports it.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from fractions import Fraction

from ..engine import RuleApplication, tangent_rule
from ..engine import local_derivative as engine_local_derivative
from ..errors import ExpressionError, require
from ..rules import elementwise as _elementwise  # noqa: F401 - registers the table this module reads
from ..rules.registry import ELEMENTWISE, Rule, lookup
from . import budget, parser

sympy = require("sympy", "symbolic")

__all__ = ["chain_rule", "derivative", "derivatives", "formula", "forward", "sigmoid", "sympy_math", "tidy",
           "tidy_stages", "to_sympy"]


# ---------------------------------------------------------------------------------------------------------------
# sigmoid as a SymPy function: kept whole, so formulas read σ(x)(1 − σ(x)) rather than a tower of exponentials.
# ---------------------------------------------------------------------------------------------------------------
class sigmoid(sympy.Function):
    """σ(x) = 1/(1 + e^(−x)); its derivative is σ(x)(1 − σ(x)), and ``.rewrite(sympy.exp)`` expands it."""

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sympy.S.Half
        if x.is_Float:
            return 1 / (1 + sympy.exp(-x))
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise sympy.ArgumentIndexError(self, argindex)
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sympy.exp(-x))

    def _eval_evalf(self, prec):
        return (1 / (1 + sympy.exp(-self.args[0])))._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return True if self.args[0].is_real else None

    def _latex(self, printer, exp=None):
        arg = printer._print(self.args[0])
        power = f"^{{{exp}}}" if exp else ""
        return rf"\sigma{power}\left({arg}\right)"


def _heaviside(x):
    """[x > 0], the table's ``step``: H(0) = 0, the convention at kinks."""
    return sympy.Heaviside(x, 0)


class _SympyMath:
    """The math namespace ``m`` for formulas: the names the rules use, on SymPy expressions."""

    exp = staticmethod(sympy.exp)
    log = staticmethod(sympy.log)
    sqrt = staticmethod(sympy.sqrt)
    sin = staticmethod(sympy.sin)
    cos = staticmethod(sympy.cos)
    tan = staticmethod(sympy.tan)
    sinh = staticmethod(sympy.sinh)
    cosh = staticmethod(sympy.cosh)
    tanh = staticmethod(sympy.tanh)
    abs = staticmethod(sympy.Abs)
    sign = staticmethod(sympy.sign)
    maximum = staticmethod(sympy.Max)
    minimum = staticmethod(sympy.Min)
    sigmoid = sigmoid
    step = staticmethod(_heaviside)
    csc = staticmethod(sympy.csc)
    sec = staticmethod(sympy.sec)
    cot = staticmethod(sympy.cot)
    arcsin = staticmethod(sympy.asin)
    arccos = staticmethod(sympy.acos)
    arctan = staticmethod(sympy.atan)
    arctan2 = staticmethod(sympy.atan2)
    arcsinh = staticmethod(sympy.asinh)
    arccosh = staticmethod(sympy.acosh)
    arctanh = staticmethod(sympy.atanh)
    cbrt = staticmethod(sympy.cbrt)
    pi = sympy.pi

    @staticmethod
    def sinc(x):
        """NumPy's normalised sinc, sin(πx)/(πx) (SymPy's own sinc is sin(x)/x)."""
        return sympy.sin(sympy.pi * x) / (sympy.pi * x)
    erf = staticmethod(sympy.erf)

    @staticmethod
    def where_positive(x, a, b):
        """a where x > 0, else b (leaky_relu's two sides)."""
        return sympy.Piecewise((a, x > 0), (b, True))

    @staticmethod
    def ones_like(x):
        return sympy.S.One

    @staticmethod
    def zeros_like(x):
        return sympy.S.Zero

    @staticmethod
    def logical_not(c):
        # A condition is a 0/1 indicator in formulas, so "not c" is 1 - c.
        return 1 - c

    @staticmethod
    def where(c, a, b):
        return c * a + (1 - c) * b

    @staticmethod
    def stop(x):
        return x

    @staticmethod
    def has_zero(raw):
        return False  # a formula is the generic case: the rules' masks at 0 are not written into it


#: The math namespace that turns the rule table's derivatives into formulas.
sympy_math = _SympyMath()


def forward(rule: Rule, *xs, **params):
    """The rule's function on SymPy expressions (its ``expression`` entry evaluated with ``sympy_math``)."""
    if rule.expression is None:
        raise ExpressionError(f"'{rule.name}' has no expression in the rule table, so it has no symbolic formula")
    accepted = inspect.signature(rule.expression).parameters
    return rule.expression(*xs, sympy_math, **{k: v for k, v in params.items() if k in accepted})


# Floats that the rule table writes as Python numbers for speed (float32 stays float32), restored to exact form.
_KNOWN_CONSTANTS = (
    (math.log(2.0), lambda: sympy.log(2)),
    (1 / math.log(2.0), lambda: 1 / sympy.log(2)),
    (math.log(10.0), lambda: sympy.log(10)),
    (1 / math.log(10.0), lambda: 1 / sympy.log(10)),
    (math.pi, lambda: sympy.pi),
    (math.e, lambda: sympy.E),
    (math.sqrt(0.5), lambda: 1 / sympy.sqrt(2)),
    (1 / math.sqrt(2 * math.pi), lambda: 1 / sympy.sqrt(2 * sympy.pi)),
    (2 / math.sqrt(math.pi), lambda: 2 / sympy.sqrt(sympy.pi)),
    (math.sqrt(2 / math.pi), lambda: sympy.sqrt(2 / sympy.pi)),
    (0.044715, lambda: sympy.Rational(44715, 10**6)),  # GELU's tanh form: x + 0.044715 x³
    (3 * 0.044715, lambda: sympy.Rational(3 * 44715, 10**6)),
)


def exact_number(value: float):
    """A Python number as SymPy writes it best: an integer or short fraction exactly, a known constant by name."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return sympy.Integer(int(value))
    for known, make in _KNOWN_CONSTANTS:
        if math.isclose(value, known, rel_tol=1e-15):
            return make()
    fraction = Fraction(value).limit_denominator(1000)
    if float(fraction) == value:
        return sympy.Rational(fraction.numerator, fraction.denominator)
    return sympy.Float(value)


def _exact(expr):
    """Replace the Floats of ``expr`` by exact numbers where they are exact (0.5 -> 1/2, 1/ln 2 -> 1/log(2))."""
    expr = sympy.sympify(expr)
    floats = expr.atoms(sympy.Float)
    if not floats:
        return expr
    return expr.xreplace({f: exact_number(float(f)) for f in floats})


# ---------------------------------------------------------------------------------------------------------------
# One rule's formula.
# ---------------------------------------------------------------------------------------------------------------
def _symbols(rule: Rule) -> list:
    return [sympy.Symbol(name, real=True) for name in rule.args]


def _parameters(local: Callable, arity: int, given: dict) -> dict:
    """Keyword parameters of a local derivative (slope, lo, hi): the values given, else symbols of their names."""
    params = {}
    for i, p in enumerate(inspect.signature(local).parameters.values()):
        if i < arity + 2 or p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue
        params[p.name] = given.get(p.name, sympy.Symbol(p.name, real=True))
    return params


def local_derivative(rule: Rule, wrt: int, xs: list, y, params: dict | None = None):
    """The rule's local derivative for input ``wrt`` at symbolic inputs ``xs`` and output ``y``: the engine's
    ``local_derivative`` in the SymPy namespace."""
    return _exact(sympy.sympify(engine_local_derivative(rule, wrt, xs, y, sympy_math, params or {})))


def formula(rule_name: str, wrt: int | str = 0, **params):
    """The derivative of an elementwise rule with respect to its input ``wrt`` (index or name), as SymPy.

    The inputs are real symbols named as in the table (``x``; ``a``, ``b``; ``x``, ``a`` for log_a x); parameters
    such as leaky_relu's ``slope`` are symbols unless given.

    >>> formula("power", "b")
    a**b*log(a)
    """
    try:
        rule = lookup(rule_name)
    except KeyError as exc:
        raise ExpressionError(str(exc.args[0])) from None
    if rule.kind != ELEMENTWISE:
        raise ExpressionError(
            f"formula: '{rule.name}' is a {rule.kind} array rule; symbolic formulas cover the elementwise table"
        )
    if isinstance(wrt, str):
        if wrt not in rule.args:
            raise ExpressionError(f"formula: '{rule.name}' has inputs {rule.args}, not {wrt!r}")
        wrt = rule.args.index(wrt)
    if not 0 <= wrt < rule.arity:
        raise ExpressionError(f"formula: '{rule.name}' has {rule.arity} input(s); wrt={wrt} is out of range")
    xs = _symbols(rule)
    local = rule.derivatives[wrt]
    if not callable(local):  # ONE, MINUS_ONE or NO_GRAD: a constant, whatever the output
        return local_derivative(rule, wrt, xs, None)
    extra = _parameters(local, rule.arity, params) if callable(local) else {}
    y = forward(rule, *xs, **extra)
    return local_derivative(rule, wrt, xs, y, extra)


# ---------------------------------------------------------------------------------------------------------------
# The chain rule over an expression tree, symbolically.
# ---------------------------------------------------------------------------------------------------------------
class _Dual:
    """A symbolic value with its derivative along one variable; arithmetic applies the rule table."""

    __slots__ = ("tangent", "value")

    def __init__(self, value, tangent=sympy.S.Zero) -> None:
        self.value = value
        self.tangent = tangent

    def __add__(self, other):
        return _apply("add", self, other)

    def __radd__(self, other):
        return _apply("add", other, self)

    def __sub__(self, other):
        return _apply("subtract", self, other)

    def __rsub__(self, other):
        return _apply("subtract", other, self)

    def __mul__(self, other):
        return _apply("multiply", self, other)

    def __rmul__(self, other):
        return _apply("multiply", other, self)

    def __truediv__(self, other):
        return _apply("divide", self, other)

    def __rtruediv__(self, other):
        return _apply("divide", other, self)

    def __pow__(self, other):
        return _apply("power", self, other)

    def __rpow__(self, other):
        return _apply("power", other, self)

    def __neg__(self):
        return _apply("negative", self)


def _dual(x) -> _Dual:
    return x if isinstance(x, _Dual) else _Dual(exact_number(x))


def _apply(name: str, *args) -> _Dual:
    """One node of the tree: its symbolic value, and its tangent by the chain rule, sum_i local_i * tangent_i."""
    rule = lookup(name)
    duals = [_dual(a) for a in args]
    xs = [d.value for d in duals]
    y = forward(rule, *xs)
    ts = [d.tangent if d.tangent != 0 else None for d in duals]
    tangent = tangent_rule(RuleApplication(rule, {}), ts, sympy_math, xs, y)
    return _Dual(y, sympy.S.Zero if tangent is None else _exact(tangent))


class _DualNamespace:
    """The functions of the parser's grammar, applied through the rule table to dual numbers."""

    def __init__(self) -> None:
        self.pi = _Dual(sympy.pi)
        self.e = _Dual(sympy.E)

    def __getattr__(self, name: str):
        if name == "log":
            return lambda x, base=None: _apply("log", x) if base is None else _apply("logb", x, base)
        try:
            rule = lookup(name)
        except KeyError:
            raise AttributeError(name) from None
        if rule.kind != ELEMENTWISE or rule.expression is None:
            raise AttributeError(name)
        return lambda *args: _apply(rule.name, *args)


def _tree(expr) -> parser.Expr:
    return parser.parse(expr) if isinstance(expr, str) else expr


def _symbol_env(tree, wrt: str | None) -> dict[str, _Dual]:
    names = set(parser.variables(tree))
    return {
        name: _Dual(sympy.Symbol(name, real=True), sympy.S.One if name == wrt else sympy.S.Zero)
        for name in names
    }


def _exact_dual(value: float) -> _Dual:
    return _Dual(exact_number(value))


def _evaluate(tree: parser.Expr, wrt: str | None) -> _Dual:
    # Numbers enter as exact SymPy numbers, so constant parts are SymPy's arithmetic too (1/0 is zoo, not a
    # ZeroDivisionError); what that costs (9**9**9 exactly) is bounded by the budget.
    return _dual(parser.evaluate(tree, _symbol_env(tree, wrt), _DualNamespace(), number=_exact_dual))


def to_sympy(expr):
    """A parsed expression (or its text) as a SymPy expression over real symbols.

    >>> to_sympy("sigmoid(w*x + b)")
    sigmoid(b + w*x)
    """
    return _evaluate(_tree(expr), None).value


def chain_rule(tree: parser.Expr, wrt: str):
    """The unsimplified d tree / d wrt by forward accumulation over the tree (no budget: see :func:`derivative`)."""
    return _evaluate(tree, wrt).tangent


def derivative(expr, wrt: str, simplify: bool = True):
    """d expr / d wrt, built by the chain rule over the expression tree from the rule table's formulas.

    ``expr`` is a parsed tree (:func:`chainrule.symbolic.parser.parse`) or its text. Every node contributes its
    rule's local derivative times its inputs' derivatives (forward accumulation); ``sympy.diff`` is never used.
    SymPy works within a budget (:mod:`chainrule.symbolic.budget`): past it, the formula is returned as far as it
    was simplified, and if not even the unsimplified one was ready, ExpressionError says so.

    >>> derivative("x**3 + sin(x)", "x")
    3*x**2 + cos(x)
    >>> derivative("sigmoid(w*x + b)", "w")
    x*(1 - sigmoid(b + w*x))*sigmoid(b + w*x)
    """
    if not isinstance(wrt, str) or not wrt.isidentifier():
        raise ExpressionError(f"derivative: wrt must be a variable name, got {wrt!r}")
    tree = _tree(expr)
    found, _ = derivatives(tree, (wrt,), simplify)
    if found is None:
        raise ExpressionError(
            f"no symbolic derivative of '{parser.to_string(tree)}': SymPy ran past its budget "
            f"({budget.SECONDS:g} s, {budget.MEMORY >> 20} MB) before the chain rule's formula was ready"
        )
    return found[wrt]


_CACHE: dict = {}  # finished results only: trees are immutable and compare by structure
_CACHE_SIZE = 256


def derivatives(tree: parser.Expr, names: tuple[str, ...], simplify: bool = True,
                max_chars: int | None = None) -> tuple[dict | None, bool]:
    """({name: d tree / d name} as far as SymPy got within its budget, or None; whether it finished).

    The unsimplified formulas come first, then each one tidied in turn, so a budget that runs out still leaves the
    chain rule's raw formulas. With ``max_chars``, a formula whose text is longer becomes None (a 75-level power
    tower's derivative is some 70,000 characters, which nobody reads).
    """
    key = (tree, tuple(names), simplify, max_chars)
    if key in _CACHE:
        return _CACHE[key], True

    def bounded(form):
        return None if max_chars is not None and len(str(form)) > max_chars else form

    def stages():
        raw = {name: chain_rule(tree, name) for name in names}
        current = {name: bounded(form) for name, form in raw.items()}
        yield current
        if simplify:
            for name in names:
                for form in tidy_stages(raw[name]):
                    current = {**current, name: bounded(form) or current[name]}
                    yield current

    result, finished = budget.run(stages)
    if finished:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = result
    return result, finished


def tidy(expr):
    """A simplified form that still reads like the chain rule's product (the last of :func:`tidy_stages`)."""
    best = expr
    for best in tidy_stages(expr):  # noqa: B007 - the last one is the answer
        pass
    return best


def tidy_stages(expr):
    """Ever simpler forms of ``expr`` that still read like the chain rule's product, cheapest first.

    ``sympy.simplify`` alone turns 2 sin x (sin x + cos x) e^(2x) into −√2 cos(2x + π/4) e^(2x) + …, and can take
    seconds on hyperbolic functions. Common factors pulled out (``factor_terms``) read better and cost milliseconds.
    A rational simplification (``cancel``), and for small expressions the full ``simplify``, are taken only when much
    shorter (fewer than 70% of the operations), e.g. when a quotient cancels to a constant.
    """
    best = sympy.factor_terms(expr)
    yield best
    candidates = []
    if not expr.has(sympy.Heaviside, sympy.Piecewise, sympy.Abs, sympy.sign, sympy.Max, sympy.Min):
        candidates.append(lambda: sympy.factor_terms(sympy.cancel(expr)))
    if sympy.count_ops(expr) <= SIMPLIFY_LIMIT:
        candidates.append(lambda: sympy.simplify(expr))
    for make in candidates:
        try:
            candidate = make()
        except sympy.PolynomialError:  # cancel() cannot treat some expressions as rational functions
            continue
        if sympy.count_ops(candidate) < 0.7 * sympy.count_ops(best):
            best = candidate
            yield best


#: Expressions with at most this many operations also try the full (slow) ``sympy.simplify``.
SIMPLIFY_LIMIT = 12
