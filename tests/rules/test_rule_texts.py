"""What people read is right: each elementwise entry's ``text`` and ``tex`` equal ``sympy.diff`` of its own
``expression``.

The text is read with SymPy's parser; the TeX with the small reader below, which knows exactly the TeX the table
writes (fractions, roots, powers, the named functions, Iverson brackets [x > 0], \\text{name} and products written
side by side) and rejects anything else, so a TeX string the reader cannot follow fails rather than passes. The
derivative they are compared with is SymPy's, of the entry's ``expression`` (σ expanded to 1/(1 + e^(−x)), so its
own derivative rule is not used): never the rule's code.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

sympy = pytest.importorskip("sympy", reason="the check reads formulas with SymPy (pip install 'chainrule[symbolic]')")

from sympy.parsing.sympy_parser import parse_expr  # noqa: E402

from chainrule.rules.registry import ELEMENTWISE, NO_GRAD, all_rules  # noqa: E402
from chainrule.symbolic.formulas import forward, sigmoid  # noqa: E402

# Values of the entries' parameters at the points where the texts are compared.
PARAMETERS = {"slope": 0.1, "lo": -0.5, "hi": 0.5}
RULE_PARAMETERS = {"leaky_relu": ("slope",), "clip": ("lo", "hi")}
BOOLEAN_INPUTS = {"where": (0,)}  # inputs that are conditions: 0 or 1


def _sigma(t):
    return 1 / (1 + sympy.exp(-t))


# ---------------------------------------------------------------------------------------------------------------
# The TeX the table writes, read into SymPy.
# ---------------------------------------------------------------------------------------------------------------
_TEX_FUNCTIONS = {
    r"\sin": sympy.sin, r"\cos": sympy.cos, r"\tan": sympy.tan, r"\sec": sympy.sec, r"\csc": sympy.csc,
    r"\cot": sympy.cot, r"\sinh": sympy.sinh, r"\cosh": sympy.cosh, r"\tanh": sympy.tanh, r"\ln": sympy.log,
    r"\sigma": _sigma, r"\operatorname{sign}": sympy.sign, r"\operatorname{erf}": sympy.erf,
}
_TEX_TOKEN = re.compile(r"\\operatorname\{\w+\}|\\text\{\w+\}|\\[A-Za-z]+|\\,|\d+(?:\.\d+)?|[A-Za-z]|\S")
_RELATIONS = {"<": sympy.StrictLessThan, ">": sympy.StrictGreaterThan, r"\le": sympy.LessThan,
              r"\ge": sympy.GreaterThan}


class _TexReader:
    """Recursive descent over the tokens: sums of products of powers of atoms."""

    def __init__(self, tex: str, symbols: dict) -> None:
        self.tokens = [t for t in _TEX_TOKEN.findall(tex) if t not in (r"\,", r"\cdot")]
        self.symbols = symbols
        self.k = 0

    def read(self):
        value = self.sum()
        if self.k != len(self.tokens):
            raise ValueError(f"unread TeX from {' '.join(self.tokens[self.k:])!r}")
        return value

    def peek(self) -> str:
        return self.tokens[self.k] if self.k < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if not token or (expected is not None and token != expected):
            raise ValueError(f"expected {expected!r}, found {token!r}")
        self.k += 1
        return token

    def sum(self):
        value = -self.product() if self.peek() == "-" and self.take() else self.product()
        while self.peek() in ("+", "-"):
            sign = self.take()
            value = value + self.product() if sign == "+" else value - self.product()
        return value

    def product(self):
        value = self.power()
        while self.peek() and self.peek() not in ("+", "-", ")", "}", "]", *_RELATIONS):
            value = value * self.power()  # factors side by side multiply: x \ln a, \csc x \cot x
        return value

    def power(self):
        base = self.atom()
        if self.peek() == "^":
            self.take()
            base = base ** self.group_or_token()
        return base

    def group_or_token(self):
        if self.peek() == "{":
            self.take("{")
            value = self.sum()
            self.take("}")
            return value
        return self.atom()

    def atom(self):
        token = self.take()
        if token == "(":
            value = self.sum()
            self.take(")")
            return value
        if token == "{":
            value = self.sum()
            self.take("}")
            return value
        if token == "[":  # an Iverson bracket: 1 where the condition holds, else 0
            value = self.condition()
            self.take("]")
            return value
        if token == r"\frac":
            return self.group_or_token() / self.group_or_token()
        if token == r"\sqrt":
            return sympy.sqrt(self.group_or_token())
        if token in _TEX_FUNCTIONS:  # \sec^2 x is (sec x)^2; the argument is the next atom: \ln a, \cos x
            exponent = None
            if self.peek() == "^":
                self.take()
                exponent = self.group_or_token()
            value = _TEX_FUNCTIONS[token](self.atom())
            return value if exponent is None else value**exponent
        if token == r"\pi":
            return sympy.pi
        if token == "e" and "e" not in self.symbols:
            return sympy.E
        if re.fullmatch(r"\d+(\.\d+)?", token):
            return sympy.Rational(token)
        name = token[len(r"\text{"):-1] if token.startswith(r"\text{") else token
        if name in self.symbols:
            return self.symbols[name]
        raise ValueError(f"unknown TeX {token!r}")

    def condition(self):
        if self.peek() == r"\lnot":  # of a 0/1 condition
            self.take()
            return 1 - self.condition()
        terms = [self.sum()]
        relations = []
        while self.peek() in _RELATIONS:
            relations.append(_RELATIONS[self.take()])
            terms.append(self.sum())
        if not relations:
            return terms[0]  # a condition input, already 0 or 1
        holds = sympy.And(*(r(a, b) for r, a, b in zip(relations, terms, terms[1:], strict=False)))
        return sympy.Piecewise((1, holds), (0, True))


def read_tex(tex: str, symbols: dict):
    """The table's TeX as a SymPy expression over ``symbols``."""
    return _TexReader(tex, symbols).read()


# ---------------------------------------------------------------------------------------------------------------
# The plain text, read with SymPy's parser.
# ---------------------------------------------------------------------------------------------------------------
def read_text(text: str, symbols: dict) -> list:
    """The table's text as SymPy expressions: one, or each side of "A = B"; conditions as Piecewise."""
    text = text.removesuffix(" (no gradient)")
    names = {**symbols, "sigmoid": _sigma, "log": sympy.log, "sign": sympy.sign}

    def expression(s: str):
        return parse_expr(s, local_dict=names)

    def condition(s: str):
        parts = re.split(r"\s*(<|>)\s*", s)
        terms, relations = [expression(p) for p in parts[::2]], parts[1::2]
        return sympy.And(*((a < b) if r == "<" else (a > b)
                           for r, a, b in zip(relations, terms, terms[1:], strict=False)))

    if m := re.fullmatch(r"(.+) if (.+) else (.+)", text):
        return [sympy.Piecewise((expression(m[1]), condition(m[2])), (expression(m[3]), True))]
    if m := re.fullmatch(r"(.+) where (\w+) else (.+)", text):
        c = symbols[m[2]]
        return [expression(m[1]) * c + expression(m[3]) * (1 - c)]
    return [expression(side) for side in text.split(" = ")]


# ---------------------------------------------------------------------------------------------------------------
# The comparison.
# ---------------------------------------------------------------------------------------------------------------
# SciPy's special functions (ψ, Iᵥ, erfc⁻¹...) are beyond the TeX reader and, for several, beyond SymPy's numeric
# evaluation (erfcinv, ndtri); tests/test_scipy_special.py checks their derivatives against mpmath instead.
ELEMENTWISE_RULES = [r for r in all_rules()
                     if r.kind == ELEMENTWISE and r.forward.__module__ != "chainrule.rules.scipy_special"]
CASES = [pytest.param(r, i, id=f"{r.name}-{r.args[i]}") for r in ELEMENTWISE_RULES for i in range(r.arity)]
_PIECEWISE = (sympy.Piecewise, sympy.Heaviside, sympy.Max, sympy.Min, sympy.Abs, sympy.sign, sympy.DiracDelta)


def _domain(rule, i):
    return rule.domain[i] if isinstance(rule.domain[0], tuple) else rule.domain


def _symbols(rule) -> dict:
    symbols = {}
    for i, name in enumerate(rule.args):
        lo, _ = _domain(rule, i)
        symbols[name] = sympy.Symbol(name, positive=True) if lo > 0 else sympy.Symbol(name, real=True)
    for name in RULE_PARAMETERS.get(rule.name, ()):
        symbols[name] = sympy.Symbol(name, real=True)
    return symbols


def _expected(rule, i, symbols):
    """sympy.diff of the entry's own expression (0 where the entry declares no gradient and has no expression)."""
    if rule.expression is None or i in BOOLEAN_INPUTS.get(rule.name, ()):  # a condition has no derivative
        assert rule.derivatives[i] is NO_GRAD, f"'{rule.name}' has a derivative but no expression to check it by"
        return sympy.S.Zero
    xs = [symbols[n] for n in rule.args]
    params = {n: symbols[n] for n in RULE_PARAMETERS.get(rule.name, ())}
    function = forward(rule, *xs, **params)
    if function.has(sigmoid):
        function = function.rewrite(sympy.exp)
    return sympy.diff(function, xs[i])


def _points(rule, symbols, count=8):
    """Random points in the entry's domain, clear of its kinks (0, ties, the clip bounds)."""
    rng = np.random.default_rng(0)
    points = []
    while len(points) < count:
        point = {symbols[n]: sympy.Float(v) for n, v in PARAMETERS.items() if n in symbols}
        for i, name in enumerate(rule.args):
            if i not in BOOLEAN_INPUTS.get(rule.name, ()):
                point[symbols[name]] = sympy.Float(rng.uniform(*_domain(rule, i)))
        values = [float(v) for v in point.values()]
        if all(abs(a - b) > 1e-3 for k, a in enumerate(values) for b in [*values[k + 1:], 0.0]):
            for i in BOOLEAN_INPUTS.get(rule.name, ()):
                point[symbols[rule.args[i]]] = sympy.Integer(len(points) % 2)
            points.append(point)
    return points


def _assert_equal(shown, expected, rule, symbols, what):
    for point in _points(rule, symbols):
        have = complex(shown.subs(point).doit().evalf())
        want = complex(expected.subs(point).doit().evalf())
        assert have == pytest.approx(want, rel=1e-12, abs=1e-12), (
            f"'{rule.name}': its {what} is {have} at {point}, but diff(expression) is {want}")
    if not expected.has(*_PIECEWISE) and not shown.has(*_PIECEWISE):
        difference = sympy.simplify((shown - expected).rewrite(sympy.exp))
        assert difference == 0, f"'{rule.name}': {what} = {shown}, but diff(expression) = {expected}"


@pytest.mark.parametrize(("rule", "i"), CASES)
def test_text_equals_diff_of_expression(rule, i):
    symbols = _symbols(rule)
    expected = _expected(rule, i, symbols)
    for side in read_text(rule.text[i], symbols):
        _assert_equal(side, expected, rule, symbols, f"text {rule.text[i]!r}")


@pytest.mark.parametrize(("rule", "i"), CASES)
def test_tex_equals_diff_of_expression(rule, i):
    symbols = _symbols(rule)
    expected = _expected(rule, i, symbols)
    _assert_equal(read_tex(rule.tex[i], symbols), expected, rule, symbols, f"TeX {rule.tex[i]!r}")


@pytest.mark.parametrize(("tex", "reading"), [
    (r"\sec^2 x", "sec(x)**2"), (r"-\csc x \cot x", "-csc(x)*cot(x)"), (r"\frac{1}{x \ln 2}", "1/(x*log(2))"),
    (r"-\frac{\ln x}{a \ln^2 a}", "-log(x)/(a*log(a)**2)"), (r"b\,a^{b-1}", "b*a**(b - 1)"),
    (r"\frac{1}{2\sqrt{x}}", "1/(2*sqrt(x))"), (r"e^{-x^2}", "exp(-x**2)"), (r"1 - \tanh^2 x", "1 - tanh(x)**2"),
])
def test_the_tex_reader_reads_as_written(tex, reading):
    symbols = {n: sympy.Symbol(n, positive=True) for n in "xab"}
    assert read_tex(tex, symbols) == parse_expr(reading, local_dict=symbols)


@pytest.mark.parametrize("tex", [r"\sec x^", r"\frac{1}", r"\mathrm{x}", r"y", r"[x > 0", r"x ! 2"])
def test_the_tex_reader_rejects_what_it_does_not_know(tex):
    with pytest.raises(ValueError):
        read_tex(tex, {"x": sympy.Symbol("x")})
