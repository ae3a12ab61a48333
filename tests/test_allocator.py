"""chainrule's C heap settings (engine/allocator.py): when they apply, and that a backward pass stops faulting pages.

Page faults are counted, not time: a count does not depend on how busy the machine is.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from chainrule.engine import allocator

GLIBC = (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc") if hasattr(os, "confstr") else False


@pytest.mark.parametrize("environ, expected", [
    ({"CHAINRULE_MALLOC": "0"}, "off: CHAINRULE_MALLOC=0"),
    ({"CHAINRULE_MALLOC": "off"}, "off: CHAINRULE_MALLOC=0"),
    ({"MALLOC_TRIM_THRESHOLD_": "1000000"}, "left alone: the environment sets glibc's malloc"),
    ({"GLIBC_TUNABLES": "glibc.malloc.top_pad=0"}, "left alone: the environment sets glibc's malloc"),
])
def test_the_user_decides_first(environ, expected):
    assert allocator.tune_heap(environ) == expected
    assert allocator.state == expected


@pytest.mark.skipif(not GLIBC, reason="the settings are glibc's")
def test_importing_chainrule_tunes_the_heap_once():
    assert allocator.tune_heap({}) == "tuned"


# Each program prints the minor page faults of 20 steps after 3 warm-up steps.
_STEPS = """
import resource
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
_CHAINRULE = """
import numpy as np
import chainrule as cr
x = (np.random.default_rng(0).standard_normal(1_000_000) + 0.5).astype("{dtype}")
vg = cr.value_and_grad(lambda v: (cr.sin(v) * cr.exp(-(v * v)) + cr.tanh(v) * cr.log1p(v * v)).sum())
step = lambda: vg(x)
"""
_MLP = """
import numpy as np
import chainrule as cr
rng = np.random.default_rng(0)
net = cr.nn.Sequential(cr.nn.Linear(784, 1024), cr.nn.ReLU(), cr.nn.Linear(1024, 10)).to(np.float32)
X = rng.standard_normal((1024, 784)).astype(np.float32)
y = rng.integers(0, 10, 1024)
def step():
    net.zero_grad()
    cr.nn.functional.cross_entropy(net(X), y).backward()
"""


def faults(program: str, **env: str) -> int:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(program) + _STEPS], env=environ | env,
                          capture_output=True, text=True, timeout=120, check=True)
    return int(done.stdout.split()[-1])


_NUMPY_AFTER_IMPORT = """
import numpy as np
import chainrule
x = (np.random.default_rng(0).standard_normal(1_000_000) + 0.5).astype("float32")
def step():
    xx = x * x
    e, s, t, l = np.exp(-xx), np.sin(x), np.tanh(x), np.log1p(xx)
    return float(np.sum(s * e + t * l)), e * (np.cos(x) - 2 * x * s) + (1 - t * t) * l + t * (2 * x) / (1 + xx)
"""


@pytest.mark.skipif(not GLIBC, reason="the settings are glibc's")
@pytest.mark.parametrize("program", [_CHAINRULE.format(dtype="float32"), _CHAINRULE.format(dtype="float64")],
                         ids=["W3-float32", "W3-float64"])
def test_steps_reuse_the_heap_instead_of_faulting_pages_in_again(program):
    tuned, untuned = faults(program), faults(program, CHAINRULE_MALLOC="0")
    # 20 steps of W3 touch over 1.6 GB; faulting it all in again would be ~400,000 faults.
    assert tuned < 2_000, (tuned, untuned)
    assert untuned > 50_000, (tuned, untuned)  # the control: without the settings, the pages fault again


@pytest.mark.skipif(not GLIBC, reason="the settings are glibc's")
@pytest.mark.parametrize("program", [_MLP, _NUMPY_AFTER_IMPORT], ids=["MLP-batch-1024", "numpy-after-import"])
def test_other_allocation_patterns_stay_warm(program):
    assert faults(program) < 2_000
