"""Shared test configuration: Hypothesis profiles sized for a 2-core machine.

The default profile keeps the suite fast; ``HYPOTHESIS_PROFILE=thorough pytest tests`` runs 20x more examples.
pytest puts this directory on ``sys.path`` (it has a conftest.py and no ``__init__.py``), so test modules in any
sub-directory can ``import helpers``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "suppress_health_check": (HealthCheck.too_slow, HealthCheck.data_too_large),
           "print_blob": True}
settings.register_profile("chainrule", max_examples=50, **_COMMON)
settings.register_profile("thorough", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "chainrule"))

# Graphs keep large arrays that their rules do not read only as shapes (graph.NotSaved); the tests use small arrays,
# so by default every unread array of any size becomes a NotSaved here: a rule that claims not to read a value but
# does fails loudly in every test. CHAINRULE_KEEP_BELOW=4096 tests with the library's own threshold.
from chainrule.engine import grad_mode  # noqa: E402

grad_mode.keep_below = float(os.environ.get("CHAINRULE_KEEP_BELOW", "0"))


def pytest_configure(config):
    # Probes of tests/test_probe_sweep.py that wait on SymPy's budget: `-m "not slow"` skips them.
    config.addinivalue_line("markers", "slow: a test that takes seconds (deselect with -m 'not slow')")
