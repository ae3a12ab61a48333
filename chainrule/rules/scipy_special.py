"""Special functions of SciPy (``scipy.special``) as elementwise rules: the table behind ``chainrule.scipy.special``.

Same naming as the rest of the table: ``x`` (or ``a``, ``b``) the inputs, ``y`` the output, ``m`` the math
namespace. The forwards are SciPy's ufuncs, imported when first called, so this module loads without SciPy (and
registers nothing when SciPy is not installed: ``chainrule.scipy`` then says which extra to install).

Derivatives that are other special functions (ψ for log Γ, ψ⁽ⁿ⁺¹⁾ for ψ⁽ⁿ⁾, I_{v±1} for I_v) call those entries
through ``special(m, name, x, **params)``: on arrays it is the NumPy forward, on Tensors the differentiable rule, so
every derivative here can be differentiated again; on SymPy symbols it is SymPy's own function.

Orders and shape parameters that SciPy takes as a first argument (``n`` of polygamma, ``v`` of iv, ``a`` of the
regularized incomplete gamma function) are parameters of the entry, not inputs: no gradient flows into them (as in
HIPS autograd), and passing one that requires a gradient is an error that says so (``chainrule/scipy/special.py``).
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np

from . import numpy_math
from .elementwise import UNARY_SAMPLES
from .registry import ELEMENTWISE, NO_GRAD, Rule, Sample, lookup, register

SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2
TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
SQRT_2PI = math.sqrt(2 * math.pi)

BINARY_SAMPLES = (Sample(((4,), (4,))), Sample(((2, 3), (3,))), Sample(((), (2, 2))))


def _float_dtype(*xs) -> np.dtype:
    """The float (complex) dtype NumPy gives ``xs`` together (Python numbers are weak): float32 stays float32,
    complex64 stays complex64."""
    dtype = np.result_type(*xs)
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


def _d_i1(x, y, m):
    """I₁'(x) = I₀(x) − I₁(x)/x, and ½ at x = 0 (where the formula is evaluated at 1 and masked)."""
    raw = m.stop(x)
    if m.has_zero(raw):
        zero = raw == 0
        safe = m.where(zero, 1, x)
        return m.where(zero, 0.5, special(m, "i0", x) - special(m, "i1", safe) / safe)
    return special(m, "i0", x) - y / x


def _scipy(name: str):
    """The forward of ``scipy.special.<name>``, its result cast to the inputs' float dtype (SciPy computes some
    functions, such as polygamma, in float64 whatever the input)."""

    def forward(*xs, **params):
        from scipy import special  # imported on first use only: chainrule itself never imports SciPy

        out = np.asarray(getattr(special, name)(*params.values(), *xs)).astype(_float_dtype(*xs), copy=False)
        return out if out.ndim else out[()]

    forward.__name__ = name
    return forward


def _sympy(name: str):
    """The SymPy function of the entry ``name`` (for formulas), with SciPy's argument order."""
    import sympy

    functions = {
        "erfc": sympy.erfc,
        "erfinv": sympy.erfinv,
        "erfcinv": sympy.erfcinv,
        "gammaln": sympy.loggamma,
        "gamma": sympy.gamma,
        "digamma": sympy.digamma,
        "rgamma": lambda x: 1 / sympy.gamma(x),
        "polygamma": lambda x, n: sympy.polygamma(n, x),
        "iv": lambda x, v: sympy.besseli(v, x),
        "ive": lambda x, v: sympy.besseli(v, x) * sympy.exp(-sympy.Abs(x)),
        "jv": lambda x, v: sympy.besselj(v, x),
        "yv": lambda x, v: sympy.bessely(v, x),
        "i0": lambda x: sympy.besseli(0, x),
        "i1": lambda x: sympy.besseli(1, x),
        "j0": lambda x: sympy.besselj(0, x),
        "j1": lambda x: sympy.besselj(1, x),
        "y0": lambda x: sympy.bessely(0, x),
        "y1": lambda x: sympy.bessely(1, x),
        "ndtr": lambda x: (1 + sympy.erf(x / sympy.sqrt(2))) / 2,
        "log_ndtr": lambda x: sympy.log((1 + sympy.erf(x / sympy.sqrt(2))) / 2),
        "ndtri": lambda x: sympy.sqrt(2) * sympy.erfinv(2 * x - 1),
        "gammainc": lambda x, a: sympy.lowergamma(a, x) / sympy.gamma(a),
        "gammaincc": lambda x, a: sympy.uppergamma(a, x) / sympy.gamma(a),
    }
    return functions[name]


def special(m, name: str, *xs, **params):
    """The entry ``name`` at ``xs`` in the namespace ``m``: NumPy on arrays, the rule on Tensors, SymPy on symbols."""
    apply_rule = getattr(m, "apply_rule", None)
    if apply_rule is None:
        return _sympy(name)(*xs, **params)
    return apply_rule(lookup(name), xs, params)


def _zero_where_a_is(a, b, m):
    """a / b, and 0 where a = 0 (b then replaced by 1, so no 0/0 and no nan in a second derivative either)."""
    raw = m.stop(a)
    if m.has_zero(raw):
        return a / m.where(raw == 0, 1, b)
    return a / b


def _entry(
    name,
    forward,
    derivatives,
    *,
    args=("x",),
    text,
    tex,
    display,
    expression,
    domain=(0.5, 3.0),
    samples=UNARY_SAMPLES,
    params=None,
    note="",
    aliases=(),
    order=2,
    supports_complex=False,
):
    if params is not None:
        samples = tuple(Sample(s.shapes, params) for s in samples)
    register(
        Rule(
            name=name,
            forward=forward,
            kind=ELEMENTWISE,
            arity=len(args),
            args=args,
            derivatives=derivatives,
            text=text,
            tex=tex,
            display=display,
            expression=expression,
            domain=domain,
            samples=samples,
            note=note,
            aliases=aliases,
            order=order,
            supports_complex=supports_complex,
        )
    )


def _register_all() -> None:
    # -- The error function's relatives (erf itself is in nn.py, for gelu). ------------------------------------
    _entry(
        "erfc",
        _scipy("erfc"),
        (lambda x, y, m: -TWO_OVER_SQRT_PI * m.exp(-(x * x)),),
        text=("-2*exp(-x**2)/sqrt(pi)",),
        tex=(r"-\frac{2}{\sqrt{\pi}} e^{-x^2}",),
        display=r"\operatorname{erfc} x",
        expression=lambda x, m: special(m, "erfc", x),
        domain=(-2.0, 2.0),
        supports_complex=True,
    )
    # Inverses: (f⁻¹)' = 1 / f'(f⁻¹(x)), from the output y.
    _entry(
        "erfinv",
        _scipy("erfinv"),
        (lambda x, y, m: SQRT_PI_OVER_2 * m.exp(y * y),),
        text=("sqrt(pi)*exp(erfinv(x)**2)/2",),
        tex=(r"\frac{\sqrt{\pi}}{2} e^{y^2}",),
        display=r"\operatorname{erf}^{-1} x",
        expression=lambda x, m: special(m, "erfinv", x),
        domain=(-0.9, 0.9),
    )
    _entry(
        "erfcinv",
        _scipy("erfcinv"),
        (lambda x, y, m: -SQRT_PI_OVER_2 * m.exp(y * y),),
        text=("-sqrt(pi)*exp(erfcinv(x)**2)/2",),
        tex=(r"-\frac{\sqrt{\pi}}{2} e^{y^2}",),
        display=r"\operatorname{erfc}^{-1} x",
        expression=lambda x, m: special(m, "erfcinv", x),
        domain=(0.1, 1.9),
    )
    # The normal distribution's CDF Φ, its log (accurate far in the left tail) and its inverse.
    _entry(
        "ndtr",
        _scipy("ndtr"),
        (lambda x, y, m: INV_SQRT_2PI * m.exp(-0.5 * (x * x)),),
        text=("exp(-x**2/2)/sqrt(2*pi)",),
        tex=(r"\frac{1}{\sqrt{2\pi}} e^{-\frac{x^2}{2}}",),
        display=r"\Phi(x)",
        expression=lambda x, m: special(m, "ndtr", x),
        domain=(-3.0, 3.0),
        supports_complex=True,
    )
    # (log Φ)' = φ/Φ, formed as exp(−x²/2 − log Φ) so that it stays finite where Φ underflows.
    _entry(
        "log_ndtr",
        _scipy("log_ndtr"),
        (lambda x, y, m: INV_SQRT_2PI * m.exp(-0.5 * (x * x) - y),),
        text=("exp(-x**2/2 - log_ndtr(x))/sqrt(2*pi)",),
        tex=(r"\frac{1}{\sqrt{2\pi}} e^{-\frac{x^2}{2} - y}",),
        display=r"\log \Phi(x)",
        expression=lambda x, m: special(m, "log_ndtr", x),
        domain=(-3.0, 3.0),
        supports_complex=True,
    )
    _entry(
        "ndtri",
        _scipy("ndtri"),
        (lambda x, y, m: SQRT_2PI * m.exp(0.5 * (y * y)),),
        text=("sqrt(2*pi)*exp(ndtri(x)**2/2)",),
        tex=(r"\sqrt{2\pi}\, e^{\frac{y^2}{2}}",),
        display=r"\Phi^{-1}(x)",
        expression=lambda x, m: special(m, "ndtri", x),
        domain=(0.05, 0.95),
    )

    # -- Gamma and its logarithmic derivatives. ------------------------------------------------------------------
    _entry(
        "polygamma",
        _scipy("polygamma"),
        (lambda x, y, m, n=1: special(m, "polygamma", x, n=n + 1),),
        text=("polygamma(n + 1, x)",),
        tex=(r"\psi^{(n+1)}(x)",),
        display=r"\psi^{(n)}(x)",
        expression=lambda x, m, n=1: special(m, "polygamma", x, n=n),
        params={"n": 1},
        note="n, a non-negative integer, is a parameter: no gradient flows into it",
    )
    _entry(
        "digamma",
        _scipy("digamma"),
        (lambda x, y, m: special(m, "polygamma", x, n=1),),
        aliases=("psi",),
        text=("polygamma(1, x)",),
        tex=(r"\psi^{(1)}(x)",),
        display=r"\psi(x)",
        expression=lambda x, m: special(m, "digamma", x),
    )
    _entry(
        "gammaln",
        _scipy("gammaln"),
        (lambda x, y, m: special(m, "digamma", x),),
        text=("digamma(x)",),
        tex=(r"\psi(x)",),
        display=r"\ln\lvert\Gamma(x)\rvert",
        expression=lambda x, m: special(m, "gammaln", x),
        note="log|Γ(x)|; for x < 0 its derivative is still ψ(x)",
    )
    _entry(
        "gamma",
        _scipy("gamma"),
        (lambda x, y, m: y * special(m, "digamma", x),),
        text=("gamma(x)*digamma(x)",),
        tex=(r"\Gamma(x)\, \psi(x)",),
        display=r"\Gamma(x)",
        expression=lambda x, m: special(m, "gamma", x),
        supports_complex=True,
    )
    _entry(
        "rgamma",
        _scipy("rgamma"),
        (lambda x, y, m: -y * special(m, "digamma", x),),
        text=("-digamma(x)/gamma(x)",),
        tex=(r"-\frac{\psi(x)}{\Gamma(x)}",),
        display=r"\frac{1}{\Gamma(x)}",
        expression=lambda x, m: special(m, "rgamma", x),
        supports_complex=True,
    )
    # Regularized incomplete gamma functions P(a, x) and Q(a, x) = 1 − P(a, x), differentiable in x only:
    # ∂P/∂x = x^(a−1) e^(−x) / Γ(a), formed in logs.
    _entry(
        "gammainc",
        _scipy("gammainc"),
        (lambda x, y, m, a=1.5: m.exp((a - 1) * m.log(x) - x - _gammaln_const(a, x, m)),),
        text=("x**(a - 1)*exp(-x)/gamma(a)",),
        tex=(r"\frac{x^{a-1} e^{-x}}{\Gamma(a)}",),
        display=r"P(a, x)",
        expression=lambda x, m, a=1.5: special(m, "gammainc", x, a=a),
        params={"a": 1.5},
        note="a is a parameter: no gradient flows into it (as in HIPS autograd)",
    )
    _entry(
        "gammaincc",
        _scipy("gammaincc"),
        (lambda x, y, m, a=1.5: -m.exp((a - 1) * m.log(x) - x - _gammaln_const(a, x, m)),),
        text=("-x**(a - 1)*exp(-x)/gamma(a)",),
        tex=(r"-\frac{x^{a-1} e^{-x}}{\Gamma(a)}",),
        display=r"Q(a, x)",
        expression=lambda x, m, a=1.5: special(m, "gammaincc", x, a=a),
        params={"a": 1.5},
        note="a is a parameter: no gradient flows into it (as in HIPS autograd)",
    )

    _entry(
        "gammasgn",
        _scipy("gammasgn"),
        (NO_GRAD,),
        text=("0 (no gradient)",),
        tex=("0",),
        display=r"\operatorname{sign} \Gamma(x)",
        expression=None,
        order=0,
        note="piecewise constant: no gradient (its jumps are at the poles 0, -1, -2...)",
    )
    # Regularized incomplete beta function I_x(a, b), differentiable in x only: x^(a−1) (1−x)^(b−1) / B(a, b).
    _entry(
        "betainc",
        _scipy("betainc"),
        (lambda x, y, m, a=1.5, b=2.5: m.exp((a - 1) * m.log(x) + (b - 1) * m.log(1 - x) - _betaln_const(a, b, x, m)),),
        text=("x**(a - 1)*(1 - x)**(b - 1)/beta(a, b)",),
        tex=(r"\frac{x^{a-1} (1 - x)^{b-1}}{B(a, b)}",),
        display=r"I_x(a, b)",
        expression=None,
        params={"a": 1.5, "b": 2.5},
        domain=(0.1, 0.9),
        note="a and b are parameters: no gradient flows into them (as in HIPS autograd)",
    )
    # Student's t CDF in t for df degrees of freedom: its derivative is the density.
    _entry(
        "stdtr",
        _scipy("stdtr"),
        (lambda x, y, m, df=3.0: m.exp(_t_log_norm(df, x, m) - (df + 1) / 2 * m.log(1 + x * x / df)),),
        text=("gamma((df + 1)/2)/(sqrt(pi*df)*gamma(df/2))*(1 + x**2/df)**(-(df + 1)/2)",),
        tex=(
            r"\frac{\Gamma(\frac{\nu + 1}{2})}{\sqrt{\nu\pi}\,\Gamma(\frac{\nu}{2})} "
            r"(1 + \frac{x^2}{\nu})^{-\frac{\nu+1}{2}}",
        ),
        display=r"F_\nu(x)",
        expression=None,
        params={"df": 3.0},
        domain=(-2.0, 2.0),
        note="the degrees of freedom df are a parameter: no gradient flows into them (as in HIPS autograd)",
    )

    # -- Bessel functions: I_v' = (I_{v−1} + I_{v+1})/2, J_v' = (J_{v−1} − J_{v+1})/2, Y likewise. -----------------
    _entry(
        "iv",
        _scipy("iv"),
        (lambda x, y, m, v=1.5: 0.5 * (special(m, "iv", x, v=v - 1) + special(m, "iv", x, v=v + 1)),),
        text=("(besseli(v - 1, x) + besseli(v + 1, x))/2",),
        tex=(r"\frac{I_{v-1}(x) + I_{v+1}(x)}{2}",),
        display=r"I_v(x)",
        expression=lambda x, m, v=1.5: special(m, "iv", x, v=v),
        params={"v": 1.5},
        note="the order v is a parameter: no gradient flows into it",
        supports_complex=True,
    )
    # ive = I_v(x) e^(−|x|): its own recurrence, minus sign(x)·ive, never overflowing.
    _entry(
        "ive",
        _scipy("ive"),
        (lambda x, y, m, v=1.5: 0.5 * (special(m, "ive", x, v=v - 1) + special(m, "ive", x, v=v + 1)) - m.sign(x) * y,),
        text=("(besseli(v - 1, x) + besseli(v + 1, x))*exp(-x)/2 - besseli(v, x)*exp(-x)",),
        tex=(r"\frac{I_{v-1}(x) + I_{v+1}(x)}{2} e^{-x} - I_v(x) e^{-x}",),
        display=r"I_v(x) e^{-\lvert x\rvert}",
        expression=lambda x, m, v=1.5: special(m, "ive", x, v=v),
        params={"v": 1.5},
        note="the order v is a parameter; the texts are for x > 0",
    )
    _entry(
        "jv",
        _scipy("jv"),
        (lambda x, y, m, v=1.5: 0.5 * (special(m, "jv", x, v=v - 1) - special(m, "jv", x, v=v + 1)),),
        text=("(besselj(v - 1, x) - besselj(v + 1, x))/2",),
        tex=(r"\frac{J_{v-1}(x) - J_{v+1}(x)}{2}",),
        display=r"J_v(x)",
        expression=lambda x, m, v=1.5: special(m, "jv", x, v=v),
        params={"v": 1.5},
        note="the order v is a parameter: no gradient flows into it",
        supports_complex=True,
    )
    _entry(
        "yv",
        _scipy("yv"),
        (lambda x, y, m, v=1.5: 0.5 * (special(m, "yv", x, v=v - 1) - special(m, "yv", x, v=v + 1)),),
        text=("(bessely(v - 1, x) - bessely(v + 1, x))/2",),
        tex=(r"\frac{Y_{v-1}(x) - Y_{v+1}(x)}{2}",),
        display=r"Y_v(x)",
        expression=lambda x, m, v=1.5: special(m, "yv", x, v=v),
        params={"v": 1.5},
        note="the order v is a parameter: no gradient flows into it",
        supports_complex=True,
    )
    _entry(
        "i0",
        _scipy("i0"),
        (lambda x, y, m: special(m, "i1", x),),
        text=("besseli(1, x)",),
        tex=(r"I_1(x)",),
        display=r"I_0(x)",
        expression=lambda x, m: special(m, "i0", x),
        domain=(-3.0, 3.0),
    )
    _entry(
        "i1",
        _scipy("i1"),
        (_d_i1,),
        text=("besseli(0, x) - besseli(1, x)/x",),
        tex=(r"I_0(x) - \frac{I_1(x)}{x}",),
        display=r"I_1(x)",
        note="I_1'(0) = 1/2: the formula is evaluated at x = 1 there and masked; written with I_0 and I_1 only "
             "(= (I_0 + I_2)/2), so libraries without I_v have it too",
        expression=lambda x, m: special(m, "i1", x),
        domain=(-3.0, 3.0),
    )
    _entry(
        "j0",
        _scipy("j0"),
        (lambda x, y, m: -special(m, "j1", x),),
        text=("-besselj(1, x)",),
        tex=(r"-J_1(x)",),
        display=r"J_0(x)",
        expression=lambda x, m: special(m, "j0", x),
        domain=(-3.0, 3.0),
    )
    _entry(
        "j1",
        _scipy("j1"),
        (lambda x, y, m: 0.5 * (special(m, "j0", x) - special(m, "jv", x, v=2.0)),),
        text=("(besselj(0, x) - besselj(2, x))/2",),
        tex=(r"\frac{J_0(x) - J_2(x)}{2}",),
        display=r"J_1(x)",
        expression=lambda x, m: special(m, "j1", x),
        domain=(-3.0, 3.0),
    )
    _entry(
        "y0",
        _scipy("y0"),
        (lambda x, y, m: -special(m, "y1", x),),
        text=("-bessely(1, x)",),
        tex=(r"-Y_1(x)",),
        display=r"Y_0(x)",
        expression=lambda x, m: special(m, "y0", x),
    )
    _entry(
        "y1",
        _scipy("y1"),
        (lambda x, y, m: 0.5 * (special(m, "y0", x) - special(m, "yv", x, v=2.0)),),
        text=("(bessely(0, x) - bessely(2, x))/2",),
        tex=(r"\frac{Y_0(x) - Y_2(x)}{2}",),
        display=r"Y_1(x)",
        expression=lambda x, m: special(m, "y1", x),
    )

    # -- Logit, entropy, x log y. ----------------------------------------------------------------------------------
    _entry(
        "logit",
        _scipy("logit"),
        (lambda x, y, m: 1 / (x * (1 - x)),),
        text=("1/(x*(1 - x))",),
        tex=(r"\frac{1}{x (1 - x)}",),
        display=r"\ln\frac{x}{1 - x}",
        expression=lambda x, m: m.log(x / (1 - x)),
        domain=(0.1, 0.9),
    )
    _entry(
        "entr",
        _scipy("entr"),
        (lambda x, y, m: -m.log(x) - 1,),
        text=("-log(x) - 1",),
        tex=(r"-\ln x - 1",),
        display=r"-x \ln x",
        expression=lambda x, m: -x * m.log(x),
        domain=(0.2, 3.0),
        note="defined as 0 at x = 0 and −inf for x < 0, as SciPy's; the derivative is −ln x − 1 for x > 0",
    )
    # xlogy(a, b) = a ln b, and 0 where a = 0 even at b = 0 (SciPy's convention); its derivatives are the
    # textbook ones, ln b and a / b. Where a = 0 the function is 0 for every b, so ∂/∂b is 0 there, also at b = 0
    # (where a / b would be 0/0 = nan: a Dirichlet with α = 1 at a point with a zero component); ∂/∂a keeps ln b,
    # −inf at b = 0, where a ln b does fall to −inf for any a > 0.
    _entry(
        "xlogy",
        _scipy("xlogy"),
        (lambda a, b, y, m: m.log(b), lambda a, b, y, m: _zero_where_a_is(a, b, m)),
        args=("a", "b"),
        text=("log(b)", "a/b"),
        tex=(r"\ln b", r"\frac{a}{b}"),
        display=r"a \ln b",
        expression=lambda a, b, m: a * m.log(b),
        samples=BINARY_SAMPLES,
        note="0 where a = 0 (also at b = 0), as SciPy's; there the derivative in b is 0 too",
        supports_complex=True,
    )
    _entry(
        "xlog1py",
        _scipy("xlog1py"),
        (lambda a, b, y, m: m.log(1 + b), lambda a, b, y, m: _zero_where_a_is(a, 1 + b, m)),
        args=("a", "b"),
        text=("log(1 + b)", "a/(1 + b)"),
        tex=(r"\ln(1 + b)", r"\frac{a}{1 + b}"),
        display=r"a \ln(1 + b)",
        expression=lambda a, b, m: a * m.log(1 + b),
        samples=BINARY_SAMPLES,
        note="0 where a = 0 (also at b = -1), as SciPy's; there the derivative in b is 0 too",
        supports_complex=True,
    )
    # beta and its log: ∂/∂a ln B(a, b) = ψ(a) − ψ(a + b).
    _entry(
        "betaln",
        _scipy("betaln"),
        (
            lambda a, b, y, m: special(m, "digamma", a) - special(m, "digamma", a + b),
            lambda a, b, y, m: special(m, "digamma", b) - special(m, "digamma", a + b),
        ),
        args=("a", "b"),
        text=("digamma(a) - digamma(a + b)", "digamma(b) - digamma(a + b)"),
        tex=(r"\psi(a) - \psi(a + b)", r"\psi(b) - \psi(a + b)"),
        display=r"\ln\lvert B(a, b)\rvert",
        expression=lambda a, b, m: special(m, "gammaln", a) + special(m, "gammaln", b) - special(m, "gammaln", a + b),
        samples=BINARY_SAMPLES,
    )
    _entry(
        "beta",
        _scipy("beta"),
        (
            lambda a, b, y, m: y * (special(m, "digamma", a) - special(m, "digamma", a + b)),
            lambda a, b, y, m: y * (special(m, "digamma", b) - special(m, "digamma", a + b)),
        ),
        args=("a", "b"),
        text=("beta(a, b)*(digamma(a) - digamma(a + b))", "beta(a, b)*(digamma(b) - digamma(a + b))"),
        tex=(r"B(a, b) (\psi(a) - \psi(a + b))", r"B(a, b) (\psi(b) - \psi(a + b))"),
        display=r"B(a, b)",
        expression=lambda a, b, m: special(m, "gamma", a) * special(m, "gamma", b) / special(m, "gamma", a + b),
        samples=BINARY_SAMPLES,
    )


def _of_parameters(name, x, m, *params):
    """The entry ``name`` at parameters (arrays, never differentiated) in x's dtype: a constant, computed in the
    parameters' own library (NumPy's arrays with SciPy; another library's, moved there with x, with its forward)."""
    n = numpy_math.raw_namespace(params[0], m)
    return n.astype(special(n, name, *params), x.dtype)


def _gammaln_const(a, x, m):
    """log Γ(a) of a parameter (a number or an array), in x's dtype: a constant."""
    if np.ndim(a) == 0:
        return math.lgamma(float(a))  # a Python float: a weak scalar next to float32
    return _of_parameters("gammaln", x, m, a)


def _betaln_const(a, b, x, m):
    """log B(a, b) of parameters (never differentiated), in x's dtype."""
    if np.ndim(a) == 0 and np.ndim(b) == 0:
        return math.lgamma(float(a)) + math.lgamma(float(b)) - math.lgamma(float(a) + float(b))
    return _of_parameters("betaln", x, m, a, b)


def _t_log_norm(df, x, m):
    """log of Student's t density's constant, Γ((ν+1)/2) / (√(νπ) Γ(ν/2)), for the parameter ν = df."""
    if np.ndim(df) == 0:
        df = float(df)
        return math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    n = numpy_math.raw_namespace(df, m)
    return (_of_parameters("gammaln", x, m, (df + 1) / 2) - _of_parameters("gammaln", x, m, df / 2)
            - 0.5 * n.astype(n.log(df * math.pi), x.dtype))


if importlib.util.find_spec("scipy") is not None:  # without SciPy the entries could not run: leave them out
    _register_all()
