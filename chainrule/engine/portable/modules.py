"""The modules that register portable forwards (one import line each)."""

from . import (
    bessel,  # noqa: F401  (i0, i1, iv, ive, j0, j1, jv, y0, y1, yv)
    eig,  # noqa: F401  (eig, eigvals; PyTorch's own geev where it has it)
    gamma,  # noqa: F401  (gammaln, gamma, rgamma, digamma, polygamma, beta, betaln)
    incomplete,  # noqa: F401  (erfinv, erfcinv, ndtri, gammainc, gammaincc, betainc, stdtr)
    matfun,  # noqa: F401  (sqrtm, solve_sylvester)
    ode,  # noqa: F401  (odeint)
)
