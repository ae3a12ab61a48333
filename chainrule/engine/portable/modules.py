"""The modules that register portable forwards (one import line each)."""
from . import incomplete  # noqa: F401  (erfinv, erfcinv, ndtri, gammainc, gammaincc, betainc, stdtr)
