"""Benchmarks of chainrule (not tests: they report, they do not assert).

``python -m benchmarks.run`` times W1–W6 of issue 5 against PyTorch, JAX, HIPS autograd, micrograd and a
hand-written floor; ``python -m benchmarks.profiling W1-b128`` shows where chainrule's time goes;
``python -m benchmarks.overhead`` measures the per-operation overhead of the engine.
"""
