"""The modules that register portable forwards (one import line each)."""
from . import (
    eig,  # noqa: F401  (eig, eigvals; PyTorch's own geev where it has it)
    incomplete,  # noqa: F401  (erfinv, erfcinv, ndtri, gammainc, gammaincc, betainc, stdtr)
)
