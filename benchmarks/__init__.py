"""Benchmarks of chainrule (not tests: they report, they do not assert). Run ``python -m benchmarks.overhead``."""
