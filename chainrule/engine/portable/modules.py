"""The modules that register portable forwards (one import line each)."""
