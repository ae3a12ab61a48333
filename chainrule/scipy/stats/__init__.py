"""``chainrule.scipy.stats``: densities, log-densities and CDFs of SciPy's distributions, differentiable.

Each distribution is a module with SciPy's function names and argument names (``stats.norm.logpdf(x, loc, scale)``,
``stats.multivariate_normal.logpdf(x, mean, cov)``), written as compositions of chainrule's rules (gammaln, betaln,
log_ndtr, gammainc, cholesky, solve_triangular...). Gradients flow into ``x`` and the parameters, except where noted:
an integer count ``k`` of poisson, the shape parameters of the CDFs of t, gamma, beta and chi2 (their derivatives
in the shape are not closed forms; HIPS autograd gives none either). With no Tensor among the arguments each function
is SciPy's own.

>>> import chainrule as cr
>>> from chainrule.scipy import stats
>>> float(cr.grad(stats.norm.logpdf, argnums=1)(1.0, 0.5, 2.0))   # (x − μ)/σ²
0.125
"""

from __future__ import annotations

from . import beta, chi2, dirichlet, gamma, multivariate_normal, norm, poisson, t

__all__ = ["beta", "chi2", "dirichlet", "gamma", "multivariate_normal", "norm", "poisson", "t"]
