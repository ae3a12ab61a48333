"""The modules that register portable forwards (one import line each)."""
from . import eig  # noqa: F401
