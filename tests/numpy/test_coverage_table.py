"""The README's table of cnp functions and the rules they record: generated, current, and read from real graphs."""

from pathlib import Path

import numpy as np

import chainrule.numpy as cnp
from chainrule.numpy import coverage

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_table_is_current():
    text = README.read_text(encoding="utf-8")
    start, end = text.index(coverage.START) + len(coverage.START) + 1, text.index(coverage.END)
    assert text[start:end] == coverage.markdown(), "run: python -m chainrule.numpy.coverage --readme"


def test_the_rules_come_from_the_recorded_graph():
    assert coverage.trace_rules(cnp.sin) == ("sin",)
    assert coverage.trace_rules(cnp.dot) == ("matmul",)
    assert coverage.trace_rules(lambda a: cnp.sum(cnp.exp(a) * a)) == ("exp", "multiply", "sum")
    assert coverage.trace_rules(cnp.floor) == coverage.ZERO_GRADIENT
    assert coverage.trace_rules(cnp.positive) == coverage.UNCHANGED
    assert coverage.trace_rules(lambda a, b, c, d, e: None) is None  # accepts no sample


def test_every_function_of_the_api_list_is_in_the_table():
    names = {f"{label}.{name}" for label, name, _ in coverage.rows()}
    listed = [
        "dot", "vdot", "inner", "outer", "tensordot", "einsum", "kron", "cross", "trace", "diag", "diagonal",
        "tril", "triu", "cumsum", "cumprod", "diff", "sort", "take", "take_along_axis", "pad", "tile", "repeat",
        "roll", "flip", "fliplr", "flipud", "rot90", "moveaxis", "swapaxes", "ravel", "expand_dims", "hstack",
        "vstack", "dstack", "column_stack", "array_split", "hsplit", "vsplit", "dsplit", "arctan2", "hypot",
        "logaddexp", "logaddexp2", "square", "reciprocal", "cbrt", "exp2", "sinc", "arcsinh", "arccosh",
        "arctanh", "mod", "remainder", "fmod", "average", "nansum", "nanmean", "var", "std", "where", "select",
        "clip",
    ]
    missing = [n for n in listed if f"cnp.{n}" not in names]
    assert missing == []
    linalg = [
        "solve", "inv", "det", "slogdet", "cholesky", "eigh", "eigvalsh", "svd", "qr", "norm", "pinv",
        "matrix_power",
    ]
    assert [n for n in linalg if f"cnp.linalg.{n}" not in names] == []
    rows = {f"{label}.{name}": what for label, name, what in coverage.rows()}
    assert rows["cnp.linalg.solve"] == "`solve`"
    assert np.all([not what.startswith("see its docstring") for what in rows.values()])
