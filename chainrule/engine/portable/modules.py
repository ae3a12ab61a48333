"""The modules that register portable forwards (one import line each)."""
from . import bessel  # noqa: F401
