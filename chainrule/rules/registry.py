"""The rule record: one entry per primitive, and the table that holds them.

An entry says everything chainrule knows about a primitive: its NumPy forward, its derivative (written against a math
namespace ``m`` so the same code runs on arrays, on differentiable Tensors and on SymPy symbols), its formula as text
and TeX, and the inputs its tests sample. The engine, forward mode, the symbolic formulas, the explanations, the
``chainrule rules`` table and the parametrized tests all read this one entry.

Kinds of rule:

* ``elementwise``: each input has a *local derivative* ``d(*xs, y, m)``; the engine forms
  ``upstream * local`` (backward) and ``tangent * local`` (forward mode), and undoes broadcasting itself.
* ``linear``: the op is linear in its differentiable inputs jointly (reshape, sum, indexing...). Each input has a
  ``vjp(g, *xs, y, m, **params)``; forward mode applies the op itself to the tangents.
* ``multilinear``: linear in each input separately (matmul); forward mode sums the op with one input replaced by its
  tangent at a time.
* ``general``: anything else (max, var, softmax...): a ``vjp`` per input and an explicit ``jvp``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

ELEMENTWISE = "elementwise"
LINEAR = "linear"
MULTILINEAR = "multilinear"
GENERAL = "general"
KINDS = (ELEMENTWISE, LINEAR, MULTILINEAR, GENERAL)


class _Marker:
    """A named sentinel used in place of a derivative."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: The derivative is zero by definition (comparisons, sign, a condition or an integer index): no gradient flows.
NO_GRAD = _Marker("NO_GRAD")
#: The local derivative is the constant 1 or -1: the engine passes the upstream gradient through (negated).
ONE = _Marker("ONE")
MINUS_ONE = _Marker("MINUS_ONE")


@dataclass(frozen=True, slots=True)
class Sample:
    """Inputs that the tests (and ``chainrule rules``) evaluate a rule on: shapes, parameters, sampling domain."""

    shapes: tuple[tuple[int, ...], ...]
    params: dict[str, Any] = field(default_factory=dict)
    domain: tuple[float, float] | None = None
    boolean: tuple[int, ...] = ()  # inputs sampled as random boolean masks (a condition)
    values: tuple[Any, ...] | None = None  # fixed inputs instead of random ones (a user primitive's own sample)


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class Rule:
    """One primitive of the rule table."""

    name: str
    forward: Callable[..., Any]
    kind: str
    arity: int  # the number of inputs; -1 for variadic rules (concatenate, stack)
    args: tuple[str, ...] = ()  # the inputs' names in formulas: ("x",), ("a", "b"), ("x", "a") for log_a x
    derivatives: tuple[Any, ...] = ()  # elementwise: per input, d(*xs, y, m) or ONE / MINUS_ONE / NO_GRAD
    vjps: tuple[Any, ...] = ()  # other kinds: per input, vjp(g, *xs, y, m, **params) or NO_GRAD
    jvp: Callable[..., Any] | None = None  # general kind: jvp(tangents, *xs, y, m, **params)
    text: tuple[str, ...] = ()  # the derivative of each input in plain text
    tex: tuple[str, ...] = ()  # ...and in TeX: what explanations and the docs show
    display: str = ""  # the function itself in TeX, with x (and a, b) as arguments
    # The function itself written against a math namespace, expression(*xs, m, **params): on SymPy symbols it gives
    # the formula whose derivative the rule's must equal, and the y that symbolic derivatives use. Elementwise only.
    expression: Callable[..., Any] | None = None
    domain: tuple[float, float] = (-2.0, 2.0)  # where tests sample inputs
    samples: tuple[Sample, ...] = ()
    order: int = 2  # highest derivative order the tests check by finite differences
    aliases: tuple[str, ...] = ()
    note: str = ""  # the convention at kinks and edges, shown in docs
    # Where the entry's name appears, so that each public list is generated from the table (one place to add a
    # function). ``public``: ``cr.<name>`` and ``cr.<alias>`` (ops makes the function of an elementwise rule of one
    # or two inputs; a function with parameters, such as clip, is written in ops.py under the rule's name).
    # ``method``: also ``t.<name>()`` and ``t.<alias>()`` on Tensors. ``grammar``: expressions may call it (parser,
    # explain, formulas), by ``written_as`` when that is set (logb is written log(x, a)); the number of arguments
    # accepted comes from the arities of the entries written under the name.
    public: bool = False
    method: bool = False
    grammar: bool = False
    written_as: str = ""
    operator: str = ""  # the Python operator that writes it in expressions: "+", "-", "*", "/", "**"
    symbol: str = ""  # its name in the plain text of rules and steps, when not its own: "σ", "ln", "√"
    tex_name: str = ""  # its name in TeX, e.g. r"\sin", r"\sigma", r"\log_2"; default \operatorname{name}
    # Whether the vjps also accept a batch of cotangents (batching.Batched), so jacobian can run them all in one
    # pass. Elementwise rules always do; others say so once checked (tests/test_batching.py), else the engine
    # applies them row by row.
    batchable: bool = False
    # Arguments of the vjps / jvp whose values are never read, only their shape and dtype (``np.shape(x)``): the
    # graph may keep a large one as a ``NotSaved`` record rather than the array (tests check the claim).
    shape_only: tuple[str, ...] = ()
    # Whether the rule accepts complex inputs (complex64/complex128). None: by kind, True for linear and multilinear
    # rules (reshape, sum, indexing, matmul are the same maths over C), False otherwise, so that an elementwise or
    # general rule with no complex meaning (comparisons, maximum, relu, sort...) says so rather than computing
    # NumPy's lexicographic answer. Gradients follow HIPS autograd and JAX: covectors, no conjugation (README).
    supports_complex: bool | None = None
    flows: Any = field(init=False, repr=False)  # flows[i]: does gradient flow into input i (derived)
    _reads: Any = field(init=False, repr=False, default=None)  # cache of saves_input and saves_output

    def __post_init__(self) -> None:
        table = self.derivatives if self.kind == ELEMENTWISE else self.vjps
        flows = _Everywhere(table[0] is not NO_GRAD) if self.arity < 0 else tuple(d is not NO_GRAD for d in table)
        object.__setattr__(self, "flows", flows)
        if self.supports_complex is None:
            object.__setattr__(self, "supports_complex", self.kind in (LINEAR, MULTILINEAR))

    @property
    def saves_input(self) -> Any:
        """saves_input[i]: whether the derivatives read input i's value (one answer for a variadic rule's inputs)."""
        return self._values_read()[0]

    @property
    def saves_output(self) -> bool:
        """Whether the derivatives read the output's value."""
        return self._values_read()[1]

    def _values_read(self) -> tuple[Any, bool]:
        reads = self._reads
        if reads is None:  # read from the derivative code once, when a graph first needs it (keeps import light)
            inputs, output = _values_read(self)
            reads = (_Everywhere(inputs[0]) if self.arity < 0 else inputs, output)
            object.__setattr__(self, "_reads", reads)
        return reads

    def differentiable(self, i: int) -> bool:
        """Whether gradient flows into input ``i``."""
        return self.flows[i]


class _Everywhere:
    """``flows`` of a variadic rule: the same answer for every input."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __getitem__(self, i: int) -> bool:
        return self.value


def _values_read(rule: Rule) -> tuple[tuple[bool, ...], bool]:
    """Which inputs, and whether the output, the rule's derivative code reads: (per input, output).

    Read from the functions' code: a parameter counts as read if the code mentions it at all (conservative: passing
    it on counts). A function without Python code (a builtin) reads everything. Multilinear rules also need every
    input for forward mode, which applies the op with one input replaced by its tangent.
    """
    n = 1 if rule.arity < 0 else rule.arity
    inputs, output = [rule.kind == MULTILINEAR] * n, False
    if rule.kind == ELEMENTWISE:  # d(*xs, y, m, **params); forward mode uses the same functions
        functions, first = rule.derivatives, 0
    else:  # vjp(g, *xs, y, m, **params), or vjp(i, g, xs, y, m, **params) when variadic; jvp(ts, *xs, y, m, ...)
        functions, first = (*rule.vjps, rule.jvp), 1 if rule.arity >= 0 else 2
    for function in functions:
        if function is None or isinstance(function, _Marker):
            continue
        read = _parameters_read(function)
        if read is None or (function is rule.jvp and rule.arity < 0):
            return (True,) * n, True
        position = 1 if function is rule.jvp else first  # where the inputs start; y follows them
        for i in range(n):
            name = read.get(position + i)
            inputs[i] = inputs[i] or (name is not None and name not in rule.shape_only)
        name = read.get(position + n)
        output = output or (name is not None and name not in rule.shape_only)
    return tuple(inputs), output


def _parameters_read(function: Callable) -> dict[int, str] | None:
    """{position: name} of the positional parameters that ``function``'s code mentions; None if it has no code."""
    import dis  # only when a graph first keeps values: not at import
    import inspect

    code = getattr(function, "__code__", None)
    if code is None or code.co_flags & inspect.CO_VARARGS:  # not Python code, or *args: assume everything is read
        return None
    mentioned = set()
    for instruction in dis.get_instructions(code):
        value = instruction.argval
        if isinstance(value, str):
            mentioned.add(value)
        elif isinstance(value, tuple):  # e.g. LOAD_FAST_LOAD_FAST in newer Pythons
            mentioned.update(v for v in value if isinstance(v, str))
    return {i: name for i, name in enumerate(code.co_varnames[:code.co_argcount]) if name in mentioned}


_TABLE: dict[str, Rule] = {}
_ALIASES: dict[str, str] = {}
_REPLACEABLE: set[str] = set()  # names registered with replace=True (users' primitives): a new definition wins
# Called with (rule, True) for each rule registered and (rule, False) for each one removed: how ops, Tensor and
# ``chainrule`` put an entry's functions and methods in place (registry imports none of them).
_LISTENERS: list[Callable[[Rule, bool], None]] = []


def register(rule: Rule, *, replace: bool = False) -> Rule:
    """Add a rule to the table; its name and aliases must be new.

    With ``replace`` (used by ``cr.primitive`` only), a rule registered the same way under the same name is
    replaced, so that re-running a notebook cell redefines a user's primitive; built-in rules are never replaced.
    Graphs recorded earlier keep the rule object they were recorded with.
    """
    if rule.kind not in KINDS:
        raise ValueError(f"rule '{rule.name}': kind must be one of {KINDS}, got {rule.kind!r}")
    per_input = rule.derivatives if rule.kind == ELEMENTWISE else rule.vjps
    if len(per_input) != (1 if rule.arity < 0 else rule.arity):
        raise ValueError(f"rule '{rule.name}' has {rule.arity} inputs but {len(per_input)} derivative entries")
    if replace:  # a user's primitive: the whole table must be known, so that it never takes a built-in name
        load_all()
    if replace and rule.aliases:
        raise ValueError(f"rule '{rule.name}': a replaceable rule has no aliases")
    for name in (rule.name, *rule.aliases):
        if name in _ALIASES or (name in _TABLE and not (replace and name in _REPLACEABLE)):
            if replace:
                raise ValueError(f"'{name}' is the name of a built-in rule of chainrule, which a primitive cannot "
                                 "replace; give your primitive another name")
            raise ValueError(f"a rule named '{name}' is already registered")
    previous = _TABLE.get(rule.name)
    if previous is not None:  # a user's primitive defined again: its functions and methods go first
        for listener in reversed(_LISTENERS):
            listener(previous, False)
    _TABLE[rule.name] = rule
    for alias in rule.aliases:
        _ALIASES[alias] = rule.name
    if replace:
        _REPLACEABLE.add(rule.name)
    GRAMMAR.clear_cache()
    try:
        for listener in _LISTENERS:
            listener(rule, True)
    except Exception:  # e.g. a name that ops already uses: leave the table as it was
        unregister(rule.name)
        raise
    return rule


def unregister(name: str) -> Rule:
    """Remove the rule called ``name`` (and its aliases) from the table, and its functions and methods with it."""
    rule = _TABLE.pop(name, None)
    if rule is None:
        raise KeyError(f"no rule named '{name}' in the rule table")
    for alias in rule.aliases:
        _ALIASES.pop(alias, None)
    _REPLACEABLE.discard(name)
    GRAMMAR.clear_cache()
    for listener in reversed(_LISTENERS):
        listener(rule, False)
    return rule


def on_register(listener: Callable[[Rule, bool], None]) -> None:
    """Call ``listener(rule, True)`` for every rule in the table now and every rule registered later, and
    ``listener(rule, False)`` for every rule unregistered."""
    _LISTENERS.append(listener)
    for rule in tuple(_TABLE.values()):
        listener(rule, True)


def find(name: str) -> Rule | None:
    """The rule called ``name`` (or one of its aliases), or None."""
    rule = _TABLE.get(name) or _TABLE.get(_ALIASES.get(name, name))
    if rule is None and not _ALL_LOADED:
        load_all()
        rule = _TABLE.get(name) or _TABLE.get(_ALIASES.get(name, name))
    return rule


_ALL_LOADED = False


def load_all() -> None:
    """Import every module of the rule table: chainrule loads the core ones (elementwise, arrays, conv) with itself
    and the others (linear algebra...) when a rule of theirs is first asked for, or the whole table is."""
    global _ALL_LOADED
    if _ALL_LOADED:
        return
    _ALL_LOADED = True
    import importlib
    import pkgutil

    package = __name__.rpartition(".")[0]
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        importlib.import_module(f"{package}.{module.name}")


def is_replaceable(name: str) -> bool:
    """Whether the rule called ``name`` was registered with ``replace=True`` (a user's primitive)."""
    return name in _REPLACEABLE


def lookup(name: str) -> Rule:
    """The rule called ``name`` (or one of its aliases)."""
    rule = find(name)
    if rule is None:
        raise KeyError(f"no rule named '{name}' in the rule table; known rules: {', '.join(sorted(_TABLE))}")
    return rule


def all_rules() -> tuple[Rule, ...]:
    """Every rule of the table, in registration order (the order of the table in the source)."""
    load_all()
    return tuple(_TABLE.values())


class _Grammar(Mapping[str, tuple[int, int]]):
    """The functions expressions may call, read from the table: name -> (min_args, max_args).

    An entry marked ``grammar`` is called by its name and aliases, or by ``written_as``; a name shared by several
    entries (log x and log_a x as ``log``) accepts the arities of all of them. Read-only and always current.
    """

    def __init__(self) -> None:
        self._cache: dict[str, tuple[int, int]] | None = None

    def clear_cache(self) -> None:
        self._cache = None

    def _functions(self) -> dict[str, tuple[int, int]]:
        functions = self._cache
        if functions is None:
            functions = {}
            for rule in all_rules():
                if not rule.grammar:
                    continue
                names = (rule.written_as,) if rule.written_as else (rule.name, *rule.aliases)
                for name in names:
                    low, high = functions.get(name, (rule.arity, rule.arity))
                    functions[name] = (min(low, rule.arity), max(high, rule.arity))
            self._cache = functions
        return functions

    def __getitem__(self, name: str) -> tuple[int, int]:
        return self._functions()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._functions()))

    def __len__(self) -> int:
        return len(self._functions())

    def __repr__(self) -> str:
        return f"GRAMMAR({self._functions()!r})"


#: The expression grammar's functions (name -> (min_args, max_args)), generated from the table.
GRAMMAR = _Grammar()


def is_complex(x, m) -> bool:
    """Whether ``x`` holds complex numbers (a rule's branch for C; SymPy symbols count as real)."""
    dtype = getattr(m.stop(x), "dtype", None)
    if dtype is None:
        return False
    kind = getattr(dtype, "kind", None)  # another array library's dtype has no kind: read its name
    return kind == "c" if kind is not None else "complex" in str(dtype)
