"""The modules that register portable forwards (one import line each)."""

from . import (
    matfun,  # noqa: F401  (sqrtm, solve_sylvester)
    ode,  # noqa: F401  (odeint)
)
