"""NumPy's names and signatures, differentiable: ``import chainrule.numpy as cnp`` (placeholder; see linalg.py)."""
