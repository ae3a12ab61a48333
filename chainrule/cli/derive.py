"""``chainrule derive``: value, gradient, higher orders, explanation and plot of an expression.

``chainrule derive 'sin(x)**2 * exp(2*x)' --at x=1`` prints the value, the gradient (with its formula when SymPy is
installed), derivatives of higher order along one variable (``--order``, nested ``cr.grad``), the step-by-step
explanation (``--explain``) in text, Markdown, LaTeX or JSON, plots the function with its derivatives
(``--plot FILE.png`` or ``.svg``, with matplotlib) and writes the interactive page (``--html FILE.html``). Bad
input is reported in one clear line, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import ops
from ..engine import no_grad
from ..errors import ChainruleError, DomainError, ExpressionError, MissingDependencyError, require
from ..explain.render import finite_json
from ..explain.steps import explain, expression_math, fmt
from ..symbolic import parser
from ..tensor import Tensor
from ..transforms import grad
from .options import int_option

FORMATS = ("text", "markdown", "latex", "json")
PLOT_SUFFIXES = (".png", ".svg")
MAX_ORDER = 6


# ---------------------------------------------------------------------------------------------------------------
# chainrule derive
# ---------------------------------------------------------------------------------------------------------------
def add_arguments(parser_: argparse.ArgumentParser) -> None:
    """The arguments of ``chainrule derive``."""
    parser_.add_argument("expression", metavar="EXPR",
                         help="a math expression, e.g. 'sin(x)**2 * exp(2*x)' (quote it; start it with a space "
                              "if it begins with a minus sign)")
    parser_.add_argument("--at", metavar="POINT", default="",
                         help="the point, e.g. x=1,y=2 (values may be expressions such as pi/4)")
    parser_.add_argument("--wrt", metavar="VAR",
                         help="the variable for higher orders and the plot (default: the first variable)")
    parser_.add_argument("--order", type=int_option(1, MAX_ORDER), default=1, metavar="N",
                         help=f"also print derivatives up to order N along --wrt (1 to {MAX_ORDER}; default 1)")
    parser_.add_argument("--explain", action="store_true", help="show the forward pass and every chain-rule step")
    parser_.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    parser_.add_argument("--plot", metavar="FILE",
                         help="plot f and its derivatives along --wrt around the point (.png or .svg; matplotlib)")
    parser_.add_argument("--html", metavar="FILE",
                         help="write the interactive page (.html): the graph, stepped through forward and backward")


def parse_point(text: str) -> dict[str, float]:
    """``"x=1,y=pi/2"`` -> ``{"x": 1.0, "y": 1.5707963267948966}``; clear errors for anything else."""
    point: dict[str, float] = {}
    if not text.strip():
        return point
    for item in text.split(","):
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ExpressionError(f"--at: expected name=value pairs separated by commas, like x=1,y=2; got {item!r}")
        if not name.isidentifier() or name.startswith("_"):
            raise ExpressionError(f"--at: {name!r} is not a variable name (letters, digits and _, not first _)")
        if name in point:
            raise ExpressionError(f"--at: {name!r} is given twice")
        try:
            tree = parser.parse(value)
        except ExpressionError as exc:
            raise ExpressionError(f"--at: the value of {name!r} is not a number: {exc}") from None
        if set(parser.variables(tree)) & {"nan", "inf", "infinity"}:  # not names of the grammar: say what is meant
            raise DomainError(f"--at: the value of {name!r} is {value!r}; it must be a finite number")
        if parser.variables(tree):
            raise ExpressionError(f"--at: the value of {name!r} must be a number, not an expression in "
                                  f"{', '.join(parser.variables(tree))}: {value!r}")
        with no_grad(), np.errstate(all="ignore"):
            number = float(np.asarray(_data(parser.evaluate(tree, {}, expression_math, number=np.float64))))
        if not math.isfinite(number):
            raise DomainError(f"--at: the value of {name!r} is {number} ({value!r}); it must be finite")
        point[name] = number
    return point


def _data(value: Any) -> Any:
    return value.data if isinstance(value, Tensor) else value


def along(tree: parser.Expr, wrt: str, point: dict[str, float]) -> Callable[[Any], Tensor]:
    """f as a function of the variable ``wrt`` alone, the others fixed at the point (elementwise on arrays)."""

    def f(t):
        env = {n: (t if n == wrt else v) for n, v in point.items()}
        out = parser.evaluate(tree, env, expression_math, number=np.float64)  # 1/0 is inf, not an exception
        if not isinstance(out, Tensor) or not out.requires_grad:
            out = ops.add(ops.multiply(t, 0.0), _data(out))  # constant in t: connect it, so derivatives are 0
        return out

    return f


def derivative_functions(f: Callable[[Any], Tensor], order: int) -> list[Callable[[Any], Any]]:
    """[f, f', f'', ...] up to ``order``, each by ``cr.grad`` of the previous one (elementwise on arrays)."""
    fns = [f]
    for _ in range(order):
        previous = fns[-1]
        fns.append(grad(lambda s, previous=previous: ops.sum(_tensor(previous(s)))))
    return fns


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=float))


def _derivative_name(order: int, wrt: str) -> str:
    sup = {1: "", 2: "²", 3: "³"}.get(order, f"^{order}")
    return f"∂{sup}f/∂{wrt}{sup}" if order > 1 else f"∂f/∂{wrt}"


def html_path(path: str | Path, option: str = "--html") -> Path:
    """A checked file name for an explanation page: ends in .html, in a directory that exists."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ExpressionError(f"{option}: the file name must end in .html, got {str(path)!r}")
    try:
        if path.is_dir():
            raise ExpressionError(f"{option}: {str(path)!r} is a directory; give a file name ending in .html")
        if not path.parent.is_dir():
            found = "is not a directory" if path.parent.exists() else "does not exist"
            raise ExpressionError(f"{option}: the directory {str(path.parent)!r} {found}")
    except OSError as exc:  # a name the file system refuses outright (too long, ...)
        raise ExpressionError(f"{option}: cannot use {str(path)[:80]!r}: {exc.strerror or exc}") from None
    return path


def write_page(explanation, path: Path, option: str = "--html", title: str | None = None) -> Path:
    """Write an explanation's page; a file system error becomes one clear OSError naming the option."""
    try:
        return explanation.save_html(path, title)
    except OSError as exc:  # save_html's message names itself; the command line names the option instead
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise OSError(f"{option}: cannot write {str(path)!r}: {reason}") from None


def derive(expression: str, at: str = "", wrt: str | None = None, order: int = 1,
           explain_steps: bool = False, format: str = "text", plot: str | None = None,
           html: str | None = None) -> str:
    """What ``chainrule derive`` prints, as a string (errors are ValueError/TypeError with clear messages)."""
    if format not in FORMATS:
        raise ExpressionError(f"--format must be one of {', '.join(FORMATS)}, not {format!r}")
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= MAX_ORDER:
        raise DomainError(f"--order must be an integer from 1 to {MAX_ORDER}, got {order!r}")
    if plot is not None and Path(plot).suffix.lower() not in PLOT_SUFFIXES:
        raise ExpressionError(f"--plot: the file name must end in .png or .svg, got {plot!r}")
    page = html_path(html) if html is not None else None
    tree = parser.parse(expression)
    point = parse_point(at)
    explanation = explain(expression, **point)
    names = explanation.variables
    if wrt is None:
        wrt = names[0] if names else None
    elif wrt not in names:
        raise ExpressionError(
            f"--wrt {wrt!r} is not a variable of '{explanation.expression}'; its variables are "
            f"{', '.join(names) or 'none'}"
        )
    if (order > 1 or plot) and wrt is None:
        raise ExpressionError("--order and --plot need a variable, but the expression has none")

    higher: dict[int, float] = {}
    if order > 1:
        fns = derivative_functions(along(tree, wrt, explanation.point), order)
        for k in range(2, order + 1):
            with np.errstate(all="ignore"):
                value = float(fns[k](explanation.point[wrt]))
            if math.isnan(value):
                raise DomainError(f"the derivative of order {k} of '{explanation.expression}' along {wrt} is "
                                  f"undefined (nan) at {_at(explanation.point)}")
            higher[k] = value
    plot_path = plot_function(tree, wrt, explanation.point, order, plot, explanation.expression) if plot else None
    page_path = write_page(explanation, page) if page is not None else None

    if format == "json":
        data = {
            "expression": explanation.expression, "point": explanation.point, "value": explanation.value,
            "gradient": explanation.gradients,
            "formulas": {n: explanation.formula_text(n) for n in names},
            "wrt": wrt, "derivatives": {str(k): v for k, v in higher.items()},
            "plot": str(plot_path) if plot_path else None,
            "html": str(page_path) if page_path else None,
        }
        if explain_steps:
            data["explanation"] = explanation.to_dict()
        return json.dumps(finite_json(data), indent=2, ensure_ascii=False, allow_nan=False)  # inf as "inf"
    if explain_steps:
        body = {"text": explanation.to_text, "markdown": explanation.to_markdown,
                "latex": explanation.to_latex}[format]()
    else:
        body = _summary(explanation, format)
    extra = []
    for k, v in higher.items():
        extra.append({"text": f"{_derivative_name(k, wrt)} = {fmt(v)}",
                      "markdown": f"- $\\partial^{{{k}}} f / \\partial {wrt}^{{{k}}} = {fmt(v)}$",
                      "latex": rf"\frac{{\partial^{{{k}}} f}}{{\partial {wrt}^{{{k}}}}} = {fmt(v)}"}[format])
    if plot_path:
        extra.append({"text": f"plot: {plot_path}", "markdown": f"![plot]({plot_path})",
                      "latex": f"% plot: {plot_path}"}[format])
    if page_path:
        extra.append({"text": f"page: {page_path} (open it in a browser)", "markdown": f"[page]({page_path})",
                      "latex": f"% page: {page_path}"}[format])
    return body + ("\n\n" + "\n".join(extra) if extra else "")


def _at(point: dict[str, float]) -> str:
    return ", ".join(f"{n} = {fmt(v)}" for n, v in point.items()) or "no variables"


def _summary(e, format: str) -> str:
    if format == "text":
        lines = [f"f({', '.join(e.variables)}) = {e.expression}", f"at {_at(e.point)}", "", f"f = {fmt(e.value)}"]
        width = max((len(fmt(g)) for g in e.gradients.values()), default=0)
        for n, g in e.gradients.items():
            formula = e.formula_text(n)
            lines.append(f"∂f/∂{n} = {fmt(g).ljust(width)}" + (f"   = {formula}" if formula is not None else ""))
        if e.formula_note and e.gradients:
            lines.append(f"({e.formula_note})")
        return "\n".join(lines)
    from ..explain.render import tex_name

    rows = [(rf"{e.tex_signature()} = {e.tex_expression()}", fmt(e.value))]
    for n, g in e.gradients.items():
        tex = e.formula_tex(n)
        rows.append((rf"\frac{{\partial f}}{{\partial {tex_name(n)}}}" + (f" = {tex}" if tex else ""), fmt(g)))
    if format == "markdown":
        head = f"at {', '.join(f'${tex_name(n)} = {fmt(v)}$' for n, v in e.point.items())}\n\n" if e.point else ""
        return head + "| | value |\n|---|---|\n" + "\n".join(f"| ${lhs}$ | {v} |" for lhs, v in rows)
    return "\\begin{aligned}\n" + " \\\\\n".join(f"{lhs} &= {v}" for lhs, v in rows) + "\n\\end{aligned}"


def plot_function(tree: parser.Expr, wrt: str, point: dict[str, float], order: int, path: str | Path,
                  title: str) -> Path:
    """Plot f and its derivatives up to ``order`` along ``wrt`` around the point; PNG or SVG by suffix."""
    path = Path(path)
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise ExpressionError(f"--plot: the file name must end in .png or .svg, got {str(path)!r}")
    if not path.parent.is_dir():
        found = "is not a directory" if path.parent.exists() else "does not exist"
        raise ExpressionError(f"--plot: the directory {str(path.parent)!r} {found}")
    if path.is_dir():
        raise ExpressionError(f"--plot: {str(path)!r} is a directory; give a file name ending in .png or .svg")
    matplotlib = require("matplotlib", "plot")
    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    center = point[wrt]
    half = max(2.0, 0.5 * abs(center))
    xs = np.linspace(center - half, center + half, 401)
    fns = derivative_functions(along(tree, wrt, point), order)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    styles = ["-", "--", ":", "-.", (0, (5, 1)), (0, (1, 1)), (0, (3, 1, 1, 1))]
    with np.errstate(all="ignore"):
        for k, fn in enumerate(fns):
            ys = np.asarray(_data(fn(xs.copy())), dtype=float)
            label = f"{title}" if k == 0 else _derivative_name(k, wrt).replace("∂", "d")
            ax.plot(xs, np.where(np.isfinite(ys), ys, np.nan), linestyle=styles[k % len(styles)], label=label)
        y0 = float(np.asarray(_data(fns[0](center))))
        slope = float(fns[1](center))
    if math.isfinite(y0) and math.isfinite(slope):
        ax.plot(xs, y0 + slope * (xs - center), color="gray", linewidth=0.8, alpha=0.7, label="tangent at the point")
        ax.plot([center], [y0], "o", color="black")
    others = ", ".join(f"{n} = {fmt(v)}" for n, v in point.items() if n != wrt)
    ax.set_title(f"f = {title}" + (f"  ({others})" if others else ""), fontsize=10)
    ax.set_xlabel(wrt)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    finite = [line.get_ydata() for line in ax.get_lines()[: len(fns)]]
    values = np.concatenate([np.asarray(v, dtype=float) for v in finite])
    values = values[np.isfinite(values)]
    if values.size:
        lo, hi = np.percentile(values, [2, 98])
        pad = 0.1 * (hi - lo) or 1.0
        ax.set_ylim(lo - pad, hi + pad)
    fig.tight_layout()
    try:
        fig.savefig(path)
    except OSError as exc:  # no permission, a read-only or pseudo file system...
        raise OSError(f"--plot: cannot write {str(path)!r}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return path


def fail(command: str, exc: BaseException) -> int:
    print(f"chainrule {command}: error: {exc}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Run ``chainrule derive``; exit status 0, or 2 with a one-paragraph message for bad input."""
    try:
        out = derive(args.expression, at=args.at, wrt=args.wrt, order=args.order, explain_steps=args.explain,
                     format=args.format, plot=args.plot, html=args.html)
    except (ChainruleError, ValueError, TypeError, ArithmeticError, OSError, MissingDependencyError) as exc:
        return fail("derive", exc)
    print(out)
    return 0
