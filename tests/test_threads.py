"""Threads: grad mode, keep_values and transform nesting are per thread, and concurrent backward loses no update.

Each test makes the threads interleave in the order that used to go wrong, with events rather than sleeps.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr
from chainrule.engine import NotSaved, grad_mode, reachable_nodes

TIMEOUT = 10.0  # seconds; a thread that waits longer means the test is broken, not slow


def _run(*targets: Callable[[], None]) -> None:
    """Run each target in its own thread; re-raise the first exception one of them raised."""
    errors: list[BaseException] = []

    def guarded(target):
        try:
            target()
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "a test thread did not finish"
    if errors:
        raise errors[0]


def _wait(event: threading.Event) -> None:
    assert event.wait(TIMEOUT), "a test thread waited in vain"


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    inside, recorded = threading.Event(), threading.Event()
    seen = {}

    def quiet():
        with cr.no_grad():
            inside.set()
            _wait(recorded)
            x = cr.tensor(2.0, requires_grad=True)
            seen["quiet"] = (x * x).requires_grad, cr.is_grad_enabled()

    def recording():
        _wait(inside)
        x = cr.tensor(2.0, requires_grad=True)
        y = cr.exp(x * x) + x
        seen["recording"] = y.requires_grad, cr.is_grad_enabled()
        y.backward()
        seen["grad"] = float(x.grad.data)
        recorded.set()

    _run(quiet, recording)
    assert seen["recording"] == (True, True)
    assert seen["quiet"] == (False, False)
    assert seen["grad"] == pytest.approx(4 * np.exp(4.0) + 1, rel=1e-15)


def test_overlapping_no_grad_blocks_in_two_threads_leave_recording_on():
    # a enters, b enters, a leaves, b leaves: a process-wide flag restored by each block ends up off.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with cr.no_grad():
            a_in.set()
            _wait(b_in)
        a_out.set()

    def b():
        _wait(a_in)
        with cr.no_grad():
            b_in.set()
            _wait(a_out)

    _run(a, b)
    assert cr.is_grad_enabled()
    assert grad_mode.all_recording  # the ops' fast path agrees
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    assert (x * 3.0).requires_grad


def test_a_new_thread_records_even_while_the_main_thread_is_in_no_grad():
    seen = {}

    def worker():
        x = cr.tensor(1.5, requires_grad=True)
        seen["worker"] = cr.sin(x).requires_grad

    with cr.no_grad():
        _run(worker)
        assert not cr.sin(cr.tensor(1.5, requires_grad=True)).requires_grad
    assert seen["worker"] is True


def test_set_grad_enabled_true_inside_another_threads_no_grad():
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def quiet():
        with cr.no_grad():
            inside.set()
            _wait(done)
            seen["quiet"] = (cr.tensor(1.0, requires_grad=True) * 2.0).requires_grad

    def toggling():
        _wait(inside)
        with cr.set_grad_enabled(False), cr.set_grad_enabled(True):
            seen["inner"] = (cr.tensor(1.0, requires_grad=True) * 2.0).requires_grad
        seen["after"] = (cr.tensor(1.0, requires_grad=True) * 2.0).requires_grad
        done.set()

    _run(quiet, toggling)
    assert seen == {"inner": True, "after": True, "quiet": False}


def test_keep_values_in_one_thread_keeps_only_that_threads_values():
    inside, recorded = threading.Event(), threading.Event()
    graphs = {}
    big = np.linspace(-1.0, 1.0, 10_000)

    def showing():
        with cr.keep_values():
            inside.set()
            _wait(recorded)
            graphs["shown"] = cr.sum(cr.exp(-cr.tensor(big, requires_grad=True) ** 2))

    def plain():
        _wait(inside)
        graphs["plain"] = cr.sum(cr.exp(-cr.tensor(big, requires_grad=True) ** 2))
        recorded.set()

    _run(showing, plain)

    def unsaved(y):
        return sum(type(v) is NotSaved for n in reachable_nodes(y) for v in (*n.inputs, n.output))

    assert unsaved(graphs["shown"]) == 0
    assert unsaved(graphs["plain"]) > 0  # exp's input and the square's output are not read by their rules


def test_transform_nesting_in_one_thread_does_not_leak_into_another():
    # Inside grad(f) in one thread, a plain grad in another is not nested: it returns a float, not a graph.
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def outer():
        def f(x):
            inside.set()
            _wait(done)
            return x * x

        seen["outer"] = cr.grad(f)(3.0)

    def plain():
        _wait(inside)
        seen["plain"] = cr.grad(lambda x: cr.sin(x) * x)(2.0)
        seen["value"] = cr.value_and_grad(lambda x: x ** 3)(2.0)
        done.set()

    _run(outer, plain)
    assert type(seen["plain"]) is float
    assert seen["plain"] == pytest.approx(np.cos(2.0) * 2.0 + np.sin(2.0), rel=1e-15)
    assert all(type(v) is float for v in seen["value"]) and seen["value"] == (8.0, 12.0)
    assert seen["outer"] == 6.0


@pytest.mark.parametrize("size", [1, 5000])
def test_concurrent_backward_into_one_leaf_loses_no_update(size):
    # 8 threads x 50 backward passes over one retained graph: the leaf's .grad is exactly 400 single gradients.
    # A tiny switch interval makes the threads swap often, inside the read-add-write of .grad too.
    threads, calls = 8, 50
    x = cr.tensor(np.linspace(0.5, 1.5, size), requires_grad=True)
    y = cr.sum(cr.tanh(x) * x)
    y.backward(retain_graph=True)
    single = x.grad.data.copy()
    x.grad = None
    start = threading.Barrier(threads)

    def worker():
        start.wait(TIMEOUT)
        for _ in range(calls):
            y.backward(retain_graph=True)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _run(*[worker] * threads)
    finally:
        sys.setswitchinterval(interval)
    # Every summand is `single`, so any order of the 400 additions rounds the same way: as one after another.
    expected = np.zeros_like(single)
    for _ in range(threads * calls):
        expected = expected + single
    np.testing.assert_array_equal(x.grad.data, expected)
    np.testing.assert_allclose(x.grad.data, 400 * single, rtol=1e-13)
