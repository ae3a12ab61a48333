"""A safe parser for small math expressions such as ``"sin(x)**2 * exp(2*x)"``.

The text is read with :func:`ast.parse` (``mode="eval"``) and the resulting syntax tree is walked with an
explicit whitelist of node types; nothing is ever evaluated, executed or compiled to code.  The result is a
tree of small immutable nodes (:class:`Number`, :class:`Constant`, :class:`Variable`, :class:`Call`,
:class:`Binary`, :class:`Negate`) that :func:`to_string` writes back in a canonical form and
:func:`evaluate` computes with any namespace of math functions (``math``-like, NumPy, chainrule tensors ...).

Anything outside the grammar raises :class:`~chainrule.errors.ExpressionError` with a message that quotes
the expression and marks the offending part with a line of carets.
"""

from __future__ import annotations

import ast
import math
import operator
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from chainrule.errors import ExpressionError
from chainrule.rules.registry import GRAMMAR

__all__ = [
    "BINARY_OPERATORS",
    "CONSTANTS",
    "DEFAULT_FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_NODES",
    "Binary",
    "Call",
    "Constant",
    "Expr",
    "Negate",
    "Number",
    "Variable",
    "evaluate",
    "parse",
    "to_string",
    "variables",
]

#: Longest accepted expression text, in characters.
MAX_LENGTH = 10_000
#: Deepest accepted nesting, both of brackets in the text and of the expression tree.
MAX_DEPTH = 100
#: Largest accepted number of nodes in the expression tree.
MAX_NODES = 1_000

#: Names that parse as :class:`Constant` rather than :class:`Variable`.
CONSTANTS: frozenset[str] = frozenset({"pi", "e"})
#: The binary operators of :class:`Binary`.
BINARY_OPERATORS: frozenset[str] = frozenset({"+", "-", "*", "/", "**"})

#: Functions accepted by :func:`parse` by default, each mapped to its (min_args, max_args): the entries of the rule
#: table marked ``grammar`` (exp, log with one or two arguments, sin, asin, maximum...), read from the table.
DEFAULT_FUNCTIONS: Mapping[str, tuple[int, int]] = GRAMMAR


# --------------------------------------------------------------------------------------------------------
# Expression tree
# --------------------------------------------------------------------------------------------------------


def _span_field() -> Any:
    """The ``span`` field: (col_start, col_end) in the source text, ignored by ==, hash and repr."""
    return field(default=(0, 0), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Number:
    """A numeric literal; ``span`` is its (col_start, col_end) in the source text."""

    value: float
    span: tuple[int, int] = _span_field()


@dataclass(frozen=True, slots=True)
class Constant:
    """A named mathematical constant: ``pi`` or ``e``."""

    name: str
    span: tuple[int, int] = _span_field()

    def __post_init__(self) -> None:
        if self.name not in CONSTANTS:
            raise ValueError(f"unknown constant {self.name!r}; expected one of {sorted(CONSTANTS)}")


@dataclass(frozen=True, slots=True)
class Variable:
    """A free variable, looked up in the environment given to :func:`evaluate`."""

    name: str
    span: tuple[int, int] = _span_field()


@dataclass(frozen=True, slots=True)
class Call:
    """A call of a named function with positional arguments."""

    function: str
    args: tuple[Expr, ...]
    span: tuple[int, int] = _span_field()


@dataclass(frozen=True, slots=True)
class Binary:
    """A binary operation; ``op`` is one of ``+ - * / **``."""

    op: str
    left: Expr
    right: Expr
    span: tuple[int, int] = _span_field()

    def __post_init__(self) -> None:
        if self.op not in BINARY_OPERATORS:
            raise ValueError(
                f"unknown binary operator {self.op!r}; expected one of {sorted(BINARY_OPERATORS)}"
            )


@dataclass(frozen=True, slots=True)
class Negate:
    """Unary minus."""

    operand: Expr
    span: tuple[int, int] = _span_field()


#: Any node of an expression tree.
Expr = Number | Constant | Variable | Call | Binary | Negate


def _children(expr: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of a node, left to right."""
    if isinstance(expr, Binary):
        return (expr.left, expr.right)
    if isinstance(expr, Negate):
        return (expr.operand,)
    if isinstance(expr, Call):
        return expr.args
    return ()


def _postorder(expr: Expr) -> Iterator[Expr]:
    """Yield each distinct node once, children before parents, without recursion."""
    seen: set[int] = set()
    stack: list[tuple[Expr, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            yield node
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(_children(node)) if id(child) not in seen)


# --------------------------------------------------------------------------------------------------------
# Error messages
# --------------------------------------------------------------------------------------------------------

_WINDOW = 100  # longest piece of the expression quoted in a message


def _pointer(text: str, start: int, end: int) -> str:
    """Two indented lines: the text (or a window of it) and carets under ``text[start:end]``."""
    start = min(max(start, 0), len(text))
    end = min(max(end, start + 1), max(len(text), start + 1))
    lo, hi = 0, len(text)
    if len(text) > _WINDOW:
        lo = max(0, start - 30)
        hi = min(len(text), lo + _WINDOW)
    prefix = "..." if lo > 0 else ""
    suffix = "..." if hi < len(text) else ""
    shown = prefix + text[lo:hi] + suffix
    carets = "^" * max(1, min(end, hi) - start)
    return f"  {shown}\n  {' ' * (len(prefix) + start - lo)}{carets}"


def _error(problem: str, text: str, start: int, end: int, hint: str | None = None) -> ExpressionError:
    """An ExpressionError quoting ``text`` with carets under the offending part."""
    message = f"{problem} in expression:\n{_pointer(text, start, end)}"
    if hint:
        message += f"\n{hint}"
    return ExpressionError(message)


# --------------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------------

_OPEN = "([{"
_CLOSE = ")]}"
_WHITESPACE = "\t\n\r\f\v"

_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
}
_REJECTED_BINOPS: dict[type[ast.operator], str] = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.LShift: "<<",
    ast.RShift: ">>",
}

# Messages for node types that are never allowed (checked after the specific cases in _check).
_REJECTED_NODES: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access ('.') is not allowed",
    ast.Subscript: "indexing and subscripts ('[]') are not allowed",
    ast.Lambda: "lambda expressions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions and generator expressions are not allowed",
    ast.Compare: "comparison operators are not allowed",
    ast.BoolOp: "boolean operators ('and', 'or') are not allowed",
    ast.IfExp: "conditional expressions ('if ... else') are not allowed",
    ast.NamedExpr: "assignment expressions (':=') are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.Starred: "starred arguments ('*') are not allowed",
    ast.Tuple: "tuples are not allowed (a comma outside a function call)",
    ast.List: "lists are not allowed",
    ast.Set: "sets are not allowed",
    ast.Dict: "dictionaries are not allowed",
    ast.Slice: "slices are not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
}


def _check_functions(functions: Mapping[str, tuple[int, int]]) -> None:
    """Validate a user-supplied function table."""
    for name, arity in functions.items():
        ok = isinstance(name, str) and name.isidentifier() and not name.startswith("_")
        ok = ok and isinstance(arity, tuple) and len(arity) == 2
        if not ok or not all(isinstance(n, int) for n in arity) or not 0 <= arity[0] <= arity[1]:
            raise ValueError(
                f"bad entry {name!r}: {arity!r} in functions; expected an identifier mapped to "
                "(min_args, max_args) with 0 <= min_args <= max_args"
            )


def _prescan(text: str) -> str:
    """Check characters and bracket depth of the raw text; return it with whitespace made single-line."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in _OPEN:
            depth += 1
            if depth > MAX_DEPTH:
                deepest = _max_bracket_depth(text)
                raise _error(
                    f"brackets nested too deeply (depth {deepest}; the limit is {MAX_DEPTH})", text, i, i + 1
                )
        elif ch in _CLOSE:
            depth -= 1
        elif ch == "#":
            raise _error("comments ('#') are not allowed", text, i, len(text))
        elif (ord(ch) < 32 or ch == "\x7f") and ch not in _WHITESPACE:
            shown = "".join("?" if ord(c) < 32 or c == "\x7f" else c for c in text)
            raise _error(f"control character {ch!r} is not allowed", shown, i, i + 1)
    if any(ch in text for ch in _WHITESPACE):
        text = text.translate({ord(ch): " " for ch in _WHITESPACE})
    return text


def _max_bracket_depth(text: str) -> int:
    """The deepest nesting of ``( [ {`` in ``text`` (a plain scan; brackets in strings count too)."""
    depth = deepest = 0
    for ch in text:
        if ch in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif ch in _CLOSE:
            depth -= 1
    return deepest


class _Source:
    """The text being parsed and the conversion of ast column offsets (UTF-8 bytes) to characters."""

    def __init__(self, text: str, lead: int) -> None:
        self.text = text
        self.lead = lead
        self.body = text[lead:]
        self._encoded = None if self.body.isascii() else self.body.encode("utf-8")

    def col(self, offset: int | None) -> int:
        """Character column in ``text`` of a byte offset reported by ast for ``body``."""
        if offset is None:
            return len(self.text)
        if self._encoded is None:
            return self.lead + offset
        return self.lead + len(self._encoded[:offset].decode("utf-8", errors="ignore"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        """(start, end) character columns of an ast node."""
        start = self.col(getattr(node, "col_offset", None))
        end = self.col(getattr(node, "end_col_offset", None))
        return start, max(end, start + 1)

    def error(self, problem: str, node: ast.AST, hint: str | None = None) -> ExpressionError:
        """An ExpressionError pointing at ``node``."""
        start, end = self.span(node)
        return _error(problem, self.text, start, end, hint)


def _parse_python(source: _Source) -> ast.expr:
    """Run ast.parse in eval mode, turning its failures into ExpressionError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source.body, mode="eval").body
    except SyntaxError as exc:
        raise _syntax_error(source, exc) from None
    except (RecursionError, MemoryError):
        # CPython's parser gives up on very deep nesting (e.g. thousands of unary minus signs).
        raise ExpressionError(
            f"expression is nested too deeply for the parser (the nesting limit is {MAX_DEPTH}):\n"
            f"{_pointer(source.text, 0, len(source.text))}"
        ) from None
    except ValueError as exc:  # e.g. integer literals with too many digits
        raise ExpressionError(f"cannot parse expression ({exc}):\n{_pointer(source.text, 0, 1)}") from None


_STATEMENT_NAMES: dict[type[ast.stmt], str] = {
    ast.Import: "import statements are not allowed",
    ast.ImportFrom: "import statements are not allowed",
    ast.Assign: "assignments are not allowed",
    ast.AugAssign: "assignments are not allowed",
    ast.AnnAssign: "assignments are not allowed",
}


def _syntax_error(source: _Source, exc: SyntaxError) -> ExpressionError:
    """Explain a SyntaxError, recognising statements (import, assignment, ';') when possible."""
    hint = "only a single math expression is allowed, e.g. 'sin(x)**2 + 1'"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = ast.parse(source.body, mode="exec")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        module = None
    if module is not None and module.body:
        for stmt in module.body:
            if not isinstance(stmt, ast.Expr):
                problem = _STATEMENT_NAMES.get(type(stmt), "statements are not allowed")
                return source.error(problem, stmt, hint)
        semicolon = source.text.find(";", source.col(module.body[0].end_col_offset))
        if semicolon >= 0:
            return _error("';' is not allowed", source.text, semicolon, semicolon + 1, hint)
    start = source.lead + (exc.offset or 1) - 1
    end = source.lead + (exc.end_offset or 0) - 1
    return _error(f"invalid syntax ({exc.msg})", source.text, start, end)


def _binop_columns(source: _Source, node: ast.BinOp, symbol: str) -> tuple[int, int]:
    """Character span of the operator symbol of a BinOp (between its operands)."""
    left_end = source.col(node.left.end_col_offset)
    right_start = source.col(node.right.col_offset)
    found = source.text.find(symbol, left_end, right_start)
    if found < 0:
        return source.span(node)
    return found, found + len(symbol)


def _check(node: ast.AST, source: _Source, functions: Mapping[str, tuple[int, int]]) -> tuple[ast.expr, ...]:
    """Raise ExpressionError unless ``node`` is allowed; return the ast children that become sub-trees."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            raise source.error("booleans are not allowed", node)
        if isinstance(value, int | float):
            return ()
        if isinstance(value, complex):
            raise source.error("complex numbers are not allowed", node)
        if isinstance(value, str | bytes):
            raise source.error("strings are not allowed", node)
        raise source.error(f"{value!r} is not allowed", node)
    if isinstance(node, ast.Name):
        name = node.id
        if name.startswith("_"):
            raise source.error(f"names starting with an underscore are not allowed ({name!r})", node)
        if name in functions and name not in CONSTANTS:
            raise source.error(
                f"function '{name}' used as a variable", node, f"call it with arguments, e.g. {name}(x)"
            )
        return ()
    if isinstance(node, ast.Call):
        return _check_call(node, source, functions)
    if isinstance(node, ast.BinOp):
        op_type = type(node.op)
        if op_type in _BINOPS:
            return (node.left, node.right)
        symbol = _REJECTED_BINOPS.get(op_type, type(node.op).__name__)
        start, end = _binop_columns(source, node, symbol)
        if symbol == "^":
            raise _error(
                "operator '^' is not allowed", source.text, start, end, "use '**' for powers, e.g. x**2"
            )
        allowed = "allowed operators: + - * / ** and unary -"
        raise _error(f"operator '{symbol}' is not allowed", source.text, start, end, allowed)
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub | ast.UAdd):
            return (node.operand,)
        symbol = "not" if isinstance(node.op, ast.Not) else "~"
        raise source.error(f"operator '{symbol}' is not allowed", node)
    problem = _REJECTED_NODES.get(type(node), f"{type(node).__name__} nodes are not allowed")
    raise source.error(problem, node)


def _check_call(
    node: ast.Call, source: _Source, functions: Mapping[str, tuple[int, int]]
) -> tuple[ast.expr, ...]:
    """Validate a call: a bare allowed name, positional arguments only, the right number of them."""
    allowed = "allowed functions: " + ", ".join(sorted(functions))
    func = node.func
    if not isinstance(func, ast.Name) or func.col_offset != node.col_offset:
        # '(sin)(x)' has the same tree as 'sin(x)' except for where the call starts.
        raise source.error("only a bare function name can be called", func, allowed)
    name = func.id
    if name.startswith("_"):
        raise source.error(f"names starting with an underscore are not allowed ({name!r})", func)
    if name not in functions:
        if name in CONSTANTS:
            raise source.error(f"'{name}' is a constant, not a function", func, allowed)
        raise source.error(f"unknown function '{name}'", func, allowed)
    if node.keywords:
        keyword = node.keywords[0]
        shown = f"'{keyword.arg}=...'" if keyword.arg else "'**'"
        raise source.error(
            f"keyword arguments are not allowed ({shown})",
            keyword,
            f"pass arguments by position, e.g. {name}(x{', 2' if functions[name][1] > 1 else ''})",
        )
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise source.error("starred arguments ('*') are not allowed", arg)
    low, high = functions[name]
    count = len(node.args)
    if not low <= count <= high:
        expected = f"exactly {low}" if low == high else f"{low} to {high}"
        plural = "" if low == high == 1 else "s"
        raise source.error(f"{name}() takes {expected} argument{plural}, got {count}", node)
    return tuple(node.args)


def _build(node: ast.expr, built: dict[int, Expr], span: tuple[int, int]) -> Expr:
    """Make the Expr for a checked ast node whose children are already in ``built``."""
    if isinstance(node, ast.Constant):
        return Number(float(node.value), span)
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return Constant(node.id, span)
        return Variable(node.id, span)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return Call(node.func.id, tuple(built[id(arg)] for arg in node.args), span)
    if isinstance(node, ast.BinOp):
        return Binary(_BINOPS[type(node.op)], built[id(node.left)], built[id(node.right)], span)
    if isinstance(node, ast.UnaryOp):
        operand = built[id(node.operand)]
        return Negate(operand, span) if isinstance(node.op, ast.USub) else operand
    raise AssertionError(f"unchecked node {type(node).__name__}")  # _check rejected everything else


_CHAINS = ((ast.Add, ast.Sub), (ast.Mult, ast.Div))


def _chain_depth(node: ast.AST, child: ast.AST, depth: int, child_depth: int) -> int:
    """Depth counts nesting, not list length: ``a + b + c`` is one flat sum, so the left operand of a sum that is
    itself a sum (likewise products) stays at its parent's depth. Every tree walker here is iterative."""
    if isinstance(node, ast.BinOp) and child is node.left and isinstance(child, ast.BinOp):
        for family in _CHAINS:
            if isinstance(node.op, family) and isinstance(child.op, family):
                return depth
    return child_depth


def parse(text: str, functions: Mapping[str, tuple[int, int]] | None = None) -> Expr:
    """Parse a math expression into an expression tree, allowing only ``functions`` (name -> arg range).

    Raises ExpressionError, pointing at the offending part, for anything outside the grammar: numbers,
    ``pi``, ``e``, variables, calls of allowed functions, ``+ - * / **``, unary minus and parentheses.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression is too long: {len(text)} characters; the limit is {MAX_LENGTH} "
            f"(it starts {text[:40]!r})"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate (e.g. from undecodable bytes): ast cannot read it
        raise ExpressionError(f"character {text[exc.start]!r} at column {exc.start} is not valid Unicode text; "
                              "expected a math expression such as 'sin(x)**2 + 1'") from None
    if functions is None:
        functions = DEFAULT_FUNCTIONS
    else:
        _check_functions(functions)
    text = _prescan(text)
    stripped = text.lstrip()
    if not stripped.strip():
        raise ExpressionError("empty expression: expected a math expression such as 'sin(x)**2 + 1'")
    source = _Source(text, len(text) - len(stripped))
    root = _parse_python(source)

    # Pass 1, iterative pre-order: whitelist every node, measure depth and size.
    order: list[ast.expr] = []
    deepest = 0
    too_deep: ast.expr | None = None
    stack: list[tuple[ast.expr, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        children = _check(node, source, functions)
        order.append(node)
        if depth > deepest:
            deepest = depth
            if depth == MAX_DEPTH + 1:
                too_deep = node
        # Unary plus is dropped from the tree, so it adds no depth.
        child_depth = depth if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd) else depth + 1
        stack.extend((child, _chain_depth(node, child, depth, child_depth)) for child in reversed(children))
    if too_deep is not None:
        raise source.error(
            f"expression nested too deeply (depth {deepest}; the limit is {MAX_DEPTH})",
            too_deep,
            "long chains of operators count as nesting too; split the expression into parts",
        )
    size = sum(1 for node in order if not (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd)))
    if size > MAX_NODES:
        raise ExpressionError(
            f"expression is too large: {size} nodes; the limit is {MAX_NODES} (it starts {text[:40]!r})"
        )

    # Pass 2: children come after their parent in pre-order, so build in reverse.
    built: dict[int, Expr] = {}
    for node in reversed(order):
        if isinstance(node, ast.Constant):
            try:
                finite = math.isfinite(float(node.value))
            except OverflowError:
                finite = False
            if not finite:
                raise source.error("number is too large (it does not fit a finite float)", node)
        built[id(node)] = _build(node, built, source.span(node))
    return built[id(root)]


# --------------------------------------------------------------------------------------------------------
# Helpers on trees
# --------------------------------------------------------------------------------------------------------


def variables(expr: Expr) -> tuple[str, ...]:
    """The names of the free variables of ``expr``, sorted and without repeats."""
    return tuple(sorted({node.name for node in _postorder(expr) if isinstance(node, Variable)}))


_ATOM, _POWER, _UNARY, _PRODUCT, _SUM = 5, 4, 3, 2, 1
_PRECEDENCE = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "**": _POWER}


def _format_number(value: float) -> str:
    """Shortest text for a float that reads back as the same value (integers without '.0')."""
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _is_negative(expr: Expr) -> bool:
    """Whether the written form of ``expr`` starts with a unary minus."""
    return isinstance(expr, Negate) or (isinstance(expr, Number) and math.copysign(1.0, expr.value) < 0)


def to_string(expr: Expr) -> str:
    """Write ``expr`` in a canonical form with the fewest parentheses Python's precedence rules need.

    ``parse(to_string(t)) == t`` for every tree ``parse`` can produce (numbers are non-negative there;
    a negative :class:`Number` is written as ``(-2)``, which reads back as ``Negate(Number(2.0))``).
    """
    done: dict[int, tuple[str, int]] = {}

    def wrap(child: Expr, needed: int, paren_negative: bool = False) -> str:
        text, prec = done[id(child)]
        if prec < needed or (paren_negative and _is_negative(child)):
            return f"({text})"
        return text

    for node in _postorder(expr):
        if isinstance(node, Number):
            text = _format_number(float(node.value))
            result = (f"({text})", _ATOM) if text.startswith("-") else (text, _ATOM)
        elif isinstance(node, Constant | Variable):
            result = (node.name, _ATOM)
        elif isinstance(node, Call):
            result = (f"{node.function}({', '.join(wrap(arg, 0) for arg in node.args)})", _ATOM)
        elif isinstance(node, Negate):
            # Minimal would be '--x'; '-(-x)' reads better and parses to the same tree.
            result = ("-" + wrap(node.operand, _POWER, paren_negative=True), _UNARY)
        elif isinstance(node, Binary):
            prec = _PRECEDENCE[node.op]
            if node.op == "**":  # right-associative; the exponent may carry a unary minus
                left, right = wrap(node.left, _ATOM), wrap(node.right, _UNARY)
            else:  # left-associative; 'x*(-y)' rather than 'x*-y'
                left, right = wrap(node.left, prec), wrap(node.right, prec + 1, paren_negative=True)
            joiner = f" {node.op} " if prec == _SUM else node.op
            result = (left + joiner + right, prec)
        else:
            raise TypeError(f"not an expression node: {node!r}")
        done[id(node)] = result
    return done[id(expr)][0]


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": operator.pow,
}


def _namespace_name(namespace: object) -> str:
    """A short name for a namespace object, for messages."""
    return getattr(namespace, "__name__", None) or type(namespace).__name__


def evaluate(expr: Expr, env: Mapping[str, Any], namespace: object,
             number: Callable[[float], Any] = float) -> Any:
    """Compute ``expr`` with variable values from ``env`` and functions/constants from ``namespace``.

    ``namespace`` is any object with the functions as attributes (``namespace.sin``, ``namespace.log(x,
    base)`` ...) and ``namespace.pi``, ``namespace.e``; e.g. the ``math`` or ``numpy`` module.  Numbers are
    passed as ``number(value)``: Python floats by default; ``numpy.float64`` makes constant parts follow IEEE
    rules (``1/0`` is inf, ``(-8)**(1/3)`` nan) instead of raising or turning complex.  Runs without recursion.
    """
    missing = [name for name in variables(expr) if name not in env]
    if missing:
        names = ", ".join(f"'{name}'" for name in missing)
        provided = ", ".join(sorted(map(str, env))) or "none"
        raise ExpressionError(
            f"missing value{'s' if len(missing) > 1 else ''} for variable{'s' if len(missing) > 1 else ''} "
            f"{names} in expression '{to_string(expr)}'; provided: {provided}"
        )

    def lookup(name: str) -> Any:
        try:
            return getattr(namespace, name)
        except AttributeError:
            raise ExpressionError(
                f"namespace {_namespace_name(namespace)!r} has no {name!r}, "
                f"needed by expression '{to_string(expr)}'"
            ) from None

    values: dict[int, Any] = {}
    for node in _postorder(expr):
        if isinstance(node, Number):
            value = number(node.value)
        elif isinstance(node, Constant):
            value = lookup(node.name)
        elif isinstance(node, Variable):
            value = env[node.name]
        elif isinstance(node, Call):
            value = lookup(node.function)(*(values[id(arg)] for arg in node.args))
        elif isinstance(node, Negate):
            value = -values[id(node.operand)]
        elif isinstance(node, Binary):
            value = _ARITHMETIC[node.op](values[id(node.left)], values[id(node.right)])
        else:
            raise TypeError(f"not an expression node: {node!r}")
        values[id(node)] = value
    return values[id(expr)]
