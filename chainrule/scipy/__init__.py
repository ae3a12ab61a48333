"""``chainrule.scipy``: SciPy's names and signatures, differentiable (``pip install chainrule[scipy]``).

``special`` (erf, gammaln, digamma, polygamma, betaln, logsumexp, Bessel functions...), ``stats`` (norm, t, gamma,
beta, chi2, poisson, dirichlet, multivariate_normal), ``linalg`` (solve_triangular, cho_factor, cho_solve, sqrtm,
solve_sylvester), ``signal`` (convolve) and ``integrate`` (odeint). Each function is a rule of the table
(``chainrule/rules/scipy_*.py``) or an honest composition of rules, so gradients of any order, ``jvp`` and
explanations work through it. A function with a
Tensor among its inputs returns a Tensor; with none, it returns what SciPy returns. The core of chainrule never
imports SciPy; this package does, when it is imported.

>>> import chainrule as cr
>>> from chainrule.scipy import special
>>> float(cr.grad(special.gammaln)(3.0))   # ψ(3) = 1 + 1/2 − γ
0.9227843350984671
"""

from __future__ import annotations

from ..errors import require

require("scipy", "scipy")

from . import integrate, linalg, signal, special, stats  # noqa: E402

__all__ = ["integrate", "linalg", "signal", "special", "stats"]
