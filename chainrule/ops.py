"""Applying rules to Tensors, and the public differentiable functions (``cr.exp``, ``cr.sum``, ``cr.matmul``...).

``apply`` is the one path every op takes: compute the forward value with NumPy and, when some input needs a
gradient, record a Node. The functions below check their arguments at this boundary (shapes, axes, dtypes), so
users read chainrule's message rather than a NumPy traceback, and then call ``apply`` with canonical parameters.

This module is also the math namespace ``m`` that rules use to build differentiable derivatives (create_graph):
``Tensor._math``, which ``Tensor.backward`` and the transforms hand to the engine. The elementwise functions are
generated from the rule table (one per entry); Tensor's operators, ``.T`` and methods are installed on the class at
the end of this module, so ``tensor.py`` imports no op.
"""

from __future__ import annotations

import builtins  # this module defines sum, max, min, abs and pow: reach Python's own through here
import functools
import itertools
import math
import numbers
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .arguments import REDUCTIONS, class_labels, image, sizes
from .engine import Node, NotSaved, backends, grad_mode, node_sequence, thread_mode
from .engine.backends import NUMPY_SCALARS, NUMPY_TYPES
from .errors import DomainError, ShapeError
from .rules import arrays as _arrays  # noqa: F401 - registers the array rules
from .rules import conv as _conv  # noqa: F401 - registers unfold and fold
from .rules import elementwise as _elementwise  # noqa: F401 - registers the text's table first
from .rules import nn as _nn  # noqa: F401 - registers erf, gelu and normalize
from .rules import numpy_math
from .rules.registry import ELEMENTWISE, Rule, lookup, on_register
from .tensor import Tensor, as_tensor

_EMPTY: dict = {}
Pair = tuple[int, int]
_PLAIN_NUMBERS = (float, int, complex)
_PLAIN_RESULTS = (float, int, bool, complex)
_new = object.__new__  # Tensor construction without __init__'s checks, on the per-op hot path


def _shape_error(rule: Rule, values, exc: Exception) -> ShapeError | DomainError:
    """NumPy's ValueError from a rule's forward, under the rule's name: a ShapeError, or a DomainError for linear
    algebra's (NaN or inf entries, a singular or indefinite matrix: the values, not the shapes, are wrong)."""
    shapes = ", ".join(str(np.shape(v)) for v in values)
    if isinstance(exc, np.linalg.LinAlgError):
        return DomainError(f"'{rule.name}': {exc} (inputs of shapes {shapes})")
    return ShapeError(f"'{rule.name}' cannot be applied to inputs of shapes {shapes}: {exc}")


def apply(rule: Rule, args: Sequence[Any], params: dict = _EMPTY) -> Tensor:
    """Apply ``rule`` to ``args`` (Tensors, arrays or numbers), recording a node when a gradient is needed."""
    values = []
    parents = None
    record = grad_mode.all_recording or thread_mode.enabled
    flows, real_only, keep_below, large = rule.flows, not rule.supports_complex, grad_mode.keep_below, False
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            data = a._data
            if type(data) is not np.ndarray and type(data) not in NUMPY_SCALARS:
                return apply_foreign(rule, args, params)  # another array library's tensor
            if record and a.requires_grad and flows[i]:
                if parents is None:
                    parents = [None] * len(args)
                parents[i] = a.node or a
            a = data
        if type(a) is np.ndarray:  # arrays' dtypes and sizes read here, for the checks below
            if real_only and a.dtype.kind == "c":
                _refuse_complex(rule, (a,))
            large = large or a.size >= keep_below
        elif real_only:
            _refuse_complex(rule, (a,))
        values.append(a)
    try:
        out = rule.forward(*values, **params)
        if type(out) is not np.ndarray:  # results of this path are arrays, 0-d ones included: only the scalar fast
            out = np.asarray(out)  # paths (unary_op and binary_op on 0-d values) keep NumPy scalars, for speed
    except IndexError as exc:
        raise IndexError(f"'{rule.name}' on a tensor of shape {np.shape(values[0])}: {exc}") from None
    except DomainError:  # a forward's own message (a singular matrix...), already naming the function
        raise
    except ValueError as exc:
        raise _shape_error(rule, values, exc) from None
    t = _new(Tensor)  # Tensor._make, inline
    t._data, t.grad = out, None
    if parents is None:
        t.node, t.requires_grad = None, False
        return t
    out_kept = out
    if large or out.size >= keep_below:
        values, out_kept = _kept(rule, values, out)
    t.node, t.requires_grad = Node(rule, values, out_kept, parents, params), True
    return t


def apply_foreign(rule: Rule, args: Sequence[Any], params: dict = _EMPTY) -> Tensor:
    """``apply`` when some operand holds another library's array (CuPy, PyTorch, array-api-strict...): the forward
    of that library's backend, NumPy operands moved into the library (never the reverse), a node recorded as usual.
    Python numbers stay numbers (weak scalars)."""
    values, parents = [], None
    record = grad_mode.all_recording or thread_mode.enabled
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            values.append(a._data)
            if record and a.requires_grad and rule.flows[i]:
                if parents is None:
                    parents = [None] * len(args)
                parents[i] = a.node or a
        else:
            values.append(a)
    foreign = [v for v in values if type(v) is not np.ndarray and backends.is_foreign(v)]
    backend = backends.backend(foreign[0])
    if builtins.any(backends.backend(v) is not backend for v in foreign[1:]):
        names = sorted({backends.backend(v).name for v in foreign})
        raise TypeError(f"'{rule.name}' got tensors of different array libraries ({', '.join(names)}); move them to "
                        "one explicitly with t.to(library)")
    if len(foreign) > 1:
        devices = {str(backends.device(v)) for v in foreign}
        if len(devices) > 1:
            raise ValueError(f"'{rule.name}' got tensors on different devices ({', '.join(sorted(devices))}); move "
                             "them to one explicitly with t.to(device)")
    values = backend.operands(values)
    params = backend.params(params, foreign[0])
    if not rule.supports_complex:
        for v in foreign:
            if backends.numpy_dtype(v.dtype).kind == "c":
                _refuse_complex(rule, [np.empty(0, backends.numpy_dtype(v.dtype))])
    forward = backend.forward(rule)
    try:
        out = forward(*values, **params)
    except IndexError as exc:  # NumPy's messages (array_index), under the rule's name as on NumPy's path
        raise IndexError(f"'{rule.name}' on a tensor of shape {tuple(values[0].shape)}: {exc}") from None
    except DomainError:
        raise  # already names the function, the operand and what was expected
    except ValueError as exc:
        shapes = ", ".join(str(tuple(getattr(v, "shape", ()))) for v in values)
        raise ShapeError(f"'{rule.name}' on {backend.name} arrays of shapes {shapes}: {exc}") from None
    if parents is None:
        return Tensor._make(out, None, False)
    return Tensor._make(out, Node(rule, backend.saved_inputs(rule, values, out), out, parents, params), True)


def _refuse_complex(rule: Rule, values) -> None:
    """TypeError when a rule with no complex meaning (maximum, relu, floor, sort...) gets a complex input."""
    for v in values:
        if type(v) is np.ndarray and v.dtype.kind != "c":
            continue  # the common case, without the lookups below
        if (getattr(v, "dtype", None) is not None and v.dtype.kind == "c") or type(v) is complex:
            raise TypeError(f"'{rule.name}' does not support complex input (got dtype "
                            f"{np.result_type(v)}); it has no complex meaning (no order on complex numbers, or "
                            "no complex derivative). Apply it to the real part (cnp.real), the imaginary part "
                            "(cnp.imag) or the modulus (cnp.abs)")


def _real_only(rule: Rule) -> Callable:
    """The forward of a rule without complex support, refusing complex inputs with ``_refuse_complex``'s message."""
    forward = rule.forward

    def checked(*values):
        _refuse_complex(rule, values)
        return forward(*values)

    return checked


def _kept(rule: Rule, values: list, out) -> tuple[list, Any]:
    """The inputs and output a node keeps: large arrays that the rule's derivatives do not read become ``NotSaved``
    (from ``grad_mode.keep_below`` elements; this thread keeps all of them inside keep_values)."""
    keep_below = float("inf") if thread_mode.keep_all else grad_mode.keep_below
    for i, v in enumerate(values):
        if type(v) is np.ndarray and v.size >= keep_below and not rule.saves_input[i]:
            values[i] = NotSaved(v)
    if type(out) is np.ndarray and out.size >= keep_below and not rule.saves_output:
        out = NotSaved(out)
    return values, out


def unary_op(rule: Rule) -> Callable[[Any], Tensor]:
    """The function that applies a one-operand rule without parameters: the per-op hot path, one frame deep.

    Made once per rule (``cr.exp`` is one of these); it does what ``apply`` does and nothing it does not need.
    """
    forward, name, flows = rule.forward, rule.name, rule.flows[0]
    real_only = not rule.supports_complex
    numpy_types = NUMPY_TYPES  # a closure variable: cheaper to reach than a module's global

    def function(x: Any) -> Tensor:
        if not isinstance(x, Tensor):
            return apply(rule, (_operand(x, "x", name),))
        data = x._data
        if type(data) not in numpy_types:
            return apply_foreign(rule, (x,))  # another array library's tensor
        if real_only and data.dtype.kind == "c":
            _refuse_complex(rule, (data,))
        try:
            out = forward(data)  # NumPy in, so NumPy out: an array, or a NumPy scalar for 0-d
        except TypeError:
            raise TypeError(f"'{name}' is not defined for a tensor of dtype {x.dtype}") from None
        t = _new(Tensor)
        t._data, t.grad = out, None
        if x.requires_grad and flows and (grad_mode.all_recording or thread_mode.enabled):
            xv, yv = data, out  # what the node keeps: large arrays its rule does not read become NotSaved
            if type(out) is np.ndarray and out.size >= grad_mode.keep_below and not thread_mode.keep_all:
                xv = xv if rule.saves_input[0] else NotSaved(xv)
                yv = yv if rule.saves_output else NotSaved(yv)
            node = _new(Node)  # Node's fields set here rather than through its __init__: a frame less per op
            node.rule, node.x0, node.output, node.params = rule, xv, yv, _EMPTY
            node.p0, node.seq = x.node or x, next(node_sequence)
            t.node, t.requires_grad = node, True
        else:
            t.node, t.requires_grad = None, False
        return t

    function.__name__ = function.__qualname__ = name
    return function


def binary_op(rule: Rule, defer: bool = False) -> Callable[[Any, Any], Tensor]:
    """The function that applies a two-operand rule without parameters (the arithmetic operators), one frame deep.

    A 0-d array operand (a leaf such as ``cr.tensor(0.3)``) enters as its NumPy scalar: the same value and dtype
    promotion, at a tenth of the cost per operation. ``defer``: Tensor's operators return NotImplemented for an
    array-like container (one with ``__array_ufunc__``, such as an xarray DataArray), so Python asks its reflected
    operator, which may hold the Tensor inside (as NumPy's arrays defer).
    """
    forward, name = rule.forward, rule.name
    flow_a, flow_b = rule.flows
    ndarray, scalars = np.ndarray, NUMPY_SCALARS  # closure variables: cheaper to reach than globals
    if not rule.supports_complex:
        forward = _real_only(rule)

    def function(a: Any, b: Any) -> Tensor:
        if isinstance(a, Tensor):
            av, ga = a._data, a.requires_grad
            if type(av) is ndarray:
                if not av.shape:
                    av = av[()]
            elif type(av) not in scalars:
                return apply_foreign(rule, (a, b))  # another array library's tensor
        elif type(a) in _PLAIN_NUMBERS:
            av, ga = a, False
        elif defer and _defers(a):
            return NotImplemented
        else:
            av, ga = _operand(a, "a", name), False
        if isinstance(b, Tensor):
            bv, gb = b._data, b.requires_grad
            if type(bv) is ndarray:
                if not bv.shape:
                    bv = bv[()]
            elif type(bv) not in scalars:
                return apply_foreign(rule, (a, b))
        elif type(b) in _PLAIN_NUMBERS:
            bv, gb = b, False
        elif defer and _defers(b):
            return NotImplemented
        else:
            bv, gb = _operand(b, "b", name), False
        try:
            out = forward(av, bv)
        except (ValueError, IndexError) as exc:
            raise _shape_error(rule, (av, bv), exc) from None
        if type(out) in _PLAIN_RESULTS:  # two Python numbers in: make the result a NumPy value
            out = np.asarray(out)
        t = _new(Tensor)
        t._data, t.grad, t.node, t.requires_grad = out, None, None, False
        if (ga or gb) and (grad_mode.all_recording or thread_mode.enabled):
            pa = (a.node or a) if ga and flow_a else None
            pb = (b.node or b) if gb and flow_b else None
            if pa is not None or pb is not None:
                yv = out  # what the node keeps: large arrays its rule does not read become NotSaved
                if type(out) is np.ndarray and out.size >= grad_mode.keep_below and not thread_mode.keep_all:
                    keep_below = grad_mode.keep_below  # inputs may be smaller than the output (broadcasting)
                    saves_a, saves_b = rule.saves_input
                    if not saves_a and type(av) is np.ndarray and av.size >= keep_below:
                        av = NotSaved(av)
                    if not saves_b and type(bv) is np.ndarray and bv.size >= keep_below:
                        bv = NotSaved(bv)
                    yv = yv if rule.saves_output else NotSaved(yv)
                node = _new(Node)
                node.rule, node.x0, node.x1, node.output, node.params = rule, av, bv, yv, _EMPTY
                node.p0, node.p1, node.seq = pa, pb, next(node_sequence)
                t.node, t.requires_grad = node, True
        return t

    function.__name__ = function.__qualname__ = name
    return function


def ternary_op(rule: Rule) -> Callable[[Any, Any, Any], Tensor]:
    """The function that applies a rule of three inputs and no parameters (``linear``) to NumPy arrays and Tensors
    that hold them: what ``apply`` does for that case, written out per operand, the node made directly.

    Any other operand (a number, a NumPy scalar, another library's tensor, a complex array for a real rule) takes
    ``apply``, and so does a forward that raises (apply words the error): the result is the same either way.
    """
    if rule.arity != 3 or rule.kind == ELEMENTWISE:
        raise ValueError(f"ternary_op is for rules of three inputs; '{rule.name}' has arity {rule.arity}")
    forward, (flow_x, flow_w, flow_b), real_only = rule.forward, rule.flows, not rule.supports_complex
    ndarray = np.ndarray

    def function(x: Any, w: Any, b: Any) -> Tensor:
        # Each operand: its array, and the parent its gradient goes to (None: a constant, or no gradient needed).
        record = grad_mode.all_recording or thread_mode.enabled
        if isinstance(x, Tensor):
            xv, px = x._data, (x.node or x) if record and x.requires_grad and flow_x else None
        else:
            xv, px = x, None
        if isinstance(w, Tensor):
            wv, pw = w._data, (w.node or w) if record and w.requires_grad and flow_w else None
        else:
            wv, pw = w, None
        if isinstance(b, Tensor):
            bv, pb = b._data, (b.node or b) if record and b.requires_grad and flow_b else None
        else:
            bv, pb = b, None
        if type(xv) is not ndarray or type(wv) is not ndarray or type(bv) is not ndarray:
            return apply(rule, (x, w, b))  # numbers, NumPy scalars, other libraries' arrays
        if real_only and "c" in (xv.dtype.kind, wv.dtype.kind, bv.dtype.kind):
            return apply(rule, (x, w, b))  # which refuses it
        try:
            out = forward(xv, wv, bv)
        except (ValueError, IndexError):
            return apply(rule, (x, w, b))  # raises again, in apply's words
        if type(out) is not ndarray:
            out = np.asarray(out)
        t = _new(Tensor)
        t._data, t.grad = out, None
        if px is None and pw is None and pb is None:
            t.node, t.requires_grad = None, False
            return t
        values, kept, keep_below = (xv, wv, bv), out, grad_mode.keep_below
        if out.size >= keep_below or xv.size >= keep_below or wv.size >= keep_below or bv.size >= keep_below:
            values, kept = _kept(rule, [xv, wv, bv], out)
            values = tuple(values)
        node = _new(Node)  # Node's fields set here rather than through its __init__, as unary_op does
        node.rule, node.x0, node.p0, node.output, node.params = rule, values, (px, pw, pb), kept, _EMPTY
        node.seq = next(node_sequence)
        t.node, t.requires_grad = node, True
        return t

    function.__name__ = function.__qualname__ = rule.name
    return function


_OPS: dict[str, Callable] = {}  # rule name -> its unary_op / binary_op


def apply_unary(rule: Rule, x: Any) -> Tensor:
    """``apply`` for one operand and no parameters, through the rule's ``unary_op``."""
    function = _OPS.get(rule.name)
    if function is None:
        function = _OPS[rule.name] = unary_op(rule)
    return function(x)


def apply_binary(rule: Rule, a: Any, b: Any) -> Tensor:
    """``apply`` for two operands and no parameters, through the rule's ``binary_op``."""
    function = _OPS.get(rule.name)
    if function is None:
        function = _OPS[rule.name] = binary_op(rule)
    return function(a, b)


def _defers(x: Any) -> bool:
    """Whether an operator should leave ``x`` to its own reflected operator: an array-like container that takes part
    in NumPy's ufunc protocol (``__array_ufunc__``, or None to opt out), not an array or a number chainrule takes."""
    return (hasattr(type(x), "__array_ufunc__") and not isinstance(x, np.ndarray | np.generic)
            and not backends.is_foreign(x))


def _shape_of(x: Any) -> tuple[int, ...]:
    """np.shape, without its dispatch for Tensors and arrays."""
    if type(x) is Tensor or type(x) is np.ndarray or isinstance(x, Tensor):  # Parameter is a Tensor subclass
        return x.shape
    return np.shape(x)


def _operand(x: Any, name: str, op: str) -> Any:
    """Accept a Tensor, a NumPy array or a number as an op's operand; reject anything else clearly."""
    if type(x) is Tensor or isinstance(x, Tensor):
        return x
    if isinstance(x, numbers.Number | np.ndarray | np.generic):
        if isinstance(x, np.ndarray | np.generic) and x.dtype.kind not in "biufc":
            raise TypeError(f"{op}: argument '{name}' has dtype {x.dtype}; expected a numeric dtype")
        return x
    if isinstance(x, list | tuple):
        return stack_nested(x) if holds_tensor(x) else as_tensor(x)._data
    if backends.is_foreign(x):
        raise TypeError(f"{op}: argument '{name}' is a {type(x).__module__.partition('.')[0]} array; make it a tensor "
                        "first with cr.tensor(x), which keeps it in its library and on its device")
    raise TypeError(
        f"{op}: argument '{name}' must be a Tensor, a NumPy array or a number, not {type(x).__name__}"
    )


_BINARY_RULES: dict[Callable, Rule] = {}  # each generated binary function -> its rule (for the operators)


def _unary(rule: Rule):
    function = _OPS[rule.name] = unary_op(rule)
    function.__doc__ = f"Elementwise {rule.name}: d/dx = {rule.text[0]} (rule ``{rule.tex[0]}``)."
    return function


def _binary(rule: Rule):
    function = _OPS[rule.name] = binary_op(rule)
    _BINARY_RULES[function] = rule
    function.__doc__ = (f"Elementwise {rule.name} with NumPy broadcasting: ∂/∂a = {rule.text[0]}, "
                        f"∂/∂b = {rule.text[1]}.")
    return function


# ---------------------------------------------------------------------------------------------------------------
# Elementwise functions, generated from the rule table: ``exp``, ``sin``, ``arcsin`` and its alias ``asin``, ``add``,
# ``maximum``... one per elementwise rule of one or two inputs (rules use them as ``m.step`` and so on; the entries
# marked ``public`` are also ``cr.<name>``). Functions with parameters (log's base, leaky_relu's slope, clip's
# bounds) are written below under the rule's name and replace the generated one.
# ---------------------------------------------------------------------------------------------------------------
def _publish(rule: Rule, registered: bool) -> None:
    if rule.kind != ELEMENTWISE or rule.arity not in (1, 2):
        return
    names = (rule.name, *rule.aliases)
    namespace = globals()
    if not registered:
        function = _OPS.pop(rule.name, None)
        for name in names:
            if function is not None and namespace.get(name) is function:
                del namespace[name]
        return
    taken = [name for name in names if name in namespace]
    if taken:  # a helper of this module, never replaced by a rule
        raise ValueError(f"rule '{rule.name}': the name {taken[0]!r} is taken in chainrule.ops; choose another")
    function = _unary(rule) if rule.arity == 1 else _binary(rule)
    for name in names:
        namespace[name] = function


on_register(_publish)

_LOG = lookup("log")
_LOGB = lookup("logb")
_POWER = lookup("power")


def log(x, base=None):
    """Natural logarithm, or ``log(x, base)`` = log_a x. d/dx ln x = 1/x; d/dx log_a x = 1/(x ln a).

    >>> float(log(8.0, 2))
    3.0
    """
    if base is None:
        return apply_unary(_LOG, x)
    return apply_binary(_LOGB, x, base)


def pow(a, b):
    """``a ** b`` with gradients for base and exponent: ∂/∂a = b a^(b−1), ∂/∂b = a^b ln a."""
    return apply_binary(_POWER, a, b)


_MAXIMUM, _MINIMUM, _GREATER, _LESS, _EQUAL = (lookup(name) for name in (
    "maximum", "minimum", "greater", "less", "equal"))


def maximum(a, b):
    """The larger of a and b, elementwise (NaN if either is). The derivative is 1 for the larger input, 0 for the
    other. At a tie it is 0 for an input whose partner is a constant, so ``maximum(x, 0)`` has relu's derivative; and
    half for each when both carry gradients, so ``maximum(x, x)`` = x has derivative 1 (ties split as in HIPS
    autograd, JAX and PyTorch)."""
    if _both_recorded(a, b):
        return _split_ties(a, b, apply_binary(_GREATER, a, b), apply_binary(_LESS, a, b), _MAXIMUM)
    return apply_binary(_MAXIMUM, a, b)


def minimum(a, b):
    """The smaller of a and b, elementwise; derivatives and ties as ``maximum``'s."""
    if _both_recorded(a, b):
        return _split_ties(a, b, apply_binary(_LESS, a, b), apply_binary(_GREATER, a, b), _MINIMUM)
    return apply_binary(_MINIMUM, a, b)


def _both_recorded(a, b) -> bool:
    """Both operands carry gradients (real ones: the plain rule refuses complex input with its own message)."""
    return (isinstance(a, Tensor) and isinstance(b, Tensor) and a.requires_grad and b.requires_grad
            and a.dtype.kind != "c" and b.dtype.kind != "c")


def _split_ties(a, b, a_wins, b_wins, plain: Rule):
    """a where ``a_wins``, b where ``b_wins``; at a finite tie a + ½(b − a), which is a exactly and sends half the
    gradient to each; elsewhere (NaN, or a tie of infinities) the ``plain`` rule's value, as NumPy's."""
    with np.errstate(invalid="ignore"):  # inf − inf where both are infinite: a NaN not used
        finite_tie = apply_binary(_EQUAL, stop(a) - stop(b), 0)
        rest = where(finite_tie, a + 0.5 * (b - a), apply_binary(plain, a, b))
    return where(a_wins, a, where(b_wins, b, rest))


def leaky_relu(x, slope: float = 0.01):
    """x where x > 0, else slope·x. Derivative 1 or slope; at 0 it is slope."""
    return apply(lookup("leaky_relu"), (_operand(x, "x", "leaky_relu"),), {"slope": float(slope)})


def clip(x, min=None, max=None):
    """Limit values to [min, max] (either may be None; numbers or arrays that broadcast against x).

    Derivative 1 strictly inside, 0 outside and on a bound. The bounds are constants; for bounds that need a
    gradient, use ``cr.minimum(cr.maximum(x, lo), hi)``.
    """
    bounds = []
    for name, bound in (("min", min), ("max", max)):
        if isinstance(bound, Tensor):
            if bound.requires_grad:
                raise TypeError(f"clip: the {name} bound requires grad, but clip's bounds are constants; "
                                "use cr.minimum(cr.maximum(x, lo), hi) to differentiate with respect to bounds")
            bound = bound._data
        if bound is not None:
            bound = _operand(bound, name, "clip")
        bounds.append(bound)
    lo, hi = bounds
    if lo is not None and hi is not None and np.any(np.asarray(lo) > np.asarray(hi)):
        raise DomainError(f"clip: min={lo} is greater than max={hi}; expected min <= max")
    return apply(lookup("clip"), (_operand(x, "x", "clip"),), {"lo": lo, "hi": hi})


def where(condition, a, b):
    """Elementwise choice: a where condition, else b. The condition gets no gradient."""
    if isinstance(condition, Tensor):
        condition = condition._data
    if backends.is_foreign(condition):  # kept in its library and on its device
        backend = backends.backend(condition)
        if not backend.xp.isdtype(condition.dtype, "bool"):
            condition = backend.xp.astype(condition, backend.xp.bool)
        return apply_foreign(lookup("where"), (condition, _operand(a, "a", "where"), _operand(b, "b", "where")))
    condition = np.asarray(condition)
    if condition.dtype != bool:
        condition = condition.astype(bool)
    return apply(lookup("where"), (condition, _operand(a, "a", "where"), _operand(b, "b", "where")))


def stop(x):
    """The raw NumPy value of ``x``, cut from the graph (used for masks inside rules)."""
    return x._data if isinstance(x, Tensor) else x


def remainder(a, b, numpy_function=np.remainder, rounding=np.floor):
    """``a % b`` (NumPy's values exactly; the sign of b). ∂/∂a = 1, ∂/∂b = −floor(a/b).

    ``a − b·q`` with the integer quotient ``q`` held constant is the derivative everywhere except at the jumps; the
    difference between NumPy's exact remainder and ``a − b·q`` (a few ulps of rounding) is added as a constant, so
    the values are NumPy's own. ``fmod`` passes ``np.fmod`` and ``np.trunc`` (the sign of a).
    """
    a, b = as_tensor(_operand(a, "a", "remainder")), as_tensor(_operand(b, "b", "remainder"))
    av, bv = a._data, b._data
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = rounding(np.divide(av, bv))
    approximate = a - b * quotient
    return approximate + (numpy_function(av, bv) - approximate._data)


def zeros_like(x):
    """A constant Tensor of zeros with x's shape and dtype."""
    return Tensor._make(np.zeros_like(stop(x)), None, False)


def ones_like(x):
    """A constant Tensor of ones with x's shape and dtype."""
    return Tensor._make(np.ones_like(stop(x)), None, False)


# ---------------------------------------------------------------------------------------------------------------
# Axes and shapes, checked at the boundary.
def normalize(x, axis=-1, eps: float = 1e-5):
    """(x − mean) / √(var + eps) over ``axis`` (the biased variance), as one primitive: the core of layer, group
    and batch normalization. Its vjp is (g − mean(g) − y·mean(g·y)) / √(var + eps)."""
    x = _tensor_arg(x, "normalize")
    if x.dtype.kind != "f":
        raise TypeError(f"normalize: input must be floating point, got dtype {x.dtype}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
        raise DomainError(f"normalize: eps must be a number >= 0, got {eps!r}")
    axes = normalize_axis(axis, x.ndim, "normalize")
    axes = tuple(range(x.ndim)) if axes is None else axes
    if any(x.shape[a] == 0 for a in axes):
        raise ShapeError(f"normalize: nothing to normalize over axis {axis!r} of shape {x.shape}")
    return apply(lookup("normalize"), (x,), {"axis": axes, "eps": float(eps)})


# ---------------------------------------------------------------------------------------------------------------
def normalize_axis(axis, ndim: int, op: str) -> tuple[int, ...] | None:
    """``axis`` (None, an int or a tuple of ints) as a sorted tuple of non-negative ints; clear errors otherwise."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, numbers.Integral) else axis
    try:
        axes = tuple(int(a) for a in axes if isinstance(a, numbers.Integral) or _raise_axis(a, op))
    except TypeError:
        raise TypeError(f"{op}: axis must be None, an int or a tuple of ints, not {axis!r}") from None
    out = []
    limit = builtins.max(ndim, 1)  # a 0-d tensor takes axis 0 or -1, as in NumPy
    for a in axes:
        if not -limit <= a < limit:
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimension(s)")
        out.append(a % limit)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: axis {axis!r} repeats an axis")
    return tuple(sorted(out)) if ndim else None


def _raise_axis(a, op):
    raise TypeError(f"{op}: axis entries must be ints, got {a!r}")


def _tensor_arg(x, op: str) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(_operand(x, "x", op))


def _reduce(name: str, x, axis, keepdims, **extra):
    x = _tensor_arg(x, name)
    axis = normalize_axis(axis, x.ndim, name)
    if name in ("max", "min") and 0 in (x.shape if axis is None else [x.shape[a] for a in axis]):
        raise ShapeError(f"{name}: cannot reduce over an empty axis of shape {x.shape}; max and min have no identity")
    return apply(lookup(name), (x,), {"axis": axis, "keepdims": bool(keepdims), **extra})


def _dim_alias(name, axis, keepdims, dim, keepdim):
    """PyTorch's ``dim=``/``keepdim=`` spellings of ``axis``/``keepdims`` (reductions whose meaning is the same)."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{name}: give axis or dim (PyTorch's name for it), not both")
        axis = dim
    return axis, keepdims if keepdim is None else keepdim


def _no_dim(name, dim, why):
    if dim is not None:
        raise TypeError(f"{name}: dim= is PyTorch's spelling, and its {name} differs from NumPy's, which chainrule "
                        f"keeps ({why}); use axis=")


def sum(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Sum over ``axis`` (None: all; ``dim``/``keepdim`` as PyTorch's names). The gradient is 1 for every summed
    element."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _dim_alias("sum", axis, keepdims, dim, keepdim)
    return _reduce("sum", x, axis, keepdims)


def cumsum(x, axis=None):
    """Running sums along ``axis`` (None: over the flattened values, as NumPy). ∂L/∂x_j = Σ_{i ≥ j} g_i."""
    x = _tensor_arg(x, "cumsum")
    if not (axis is None or isinstance(axis, numbers.Integral)):
        raise TypeError(f"cumsum: axis must be None or an int, not {axis!r}")
    axis = normalize_axis(axis, x.ndim, "cumsum")
    if axis is None:  # flattened (a 0-d tensor included), as NumPy does
        x, axis = reshape(x, (-1,)), (0,)
    (axis,) = axis
    return apply(lookup("cumsum"), (x,), {"axis": axis})


def mean(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Mean over ``axis`` (or PyTorch's ``dim``/``keepdim``). The gradient is 1/n for every averaged element."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _dim_alias("mean", axis, keepdims, dim, keepdim)
    return _reduce("mean", x, axis, keepdims)


def max(x, axis=None, keepdims: bool = False, *, dim=None):
    """Maximum over ``axis``; tied maxima share the gradient evenly."""
    _no_dim("max", dim, "NumPy's max gives the values only, PyTorch's max(dim) (values, indices): use max(axis=...) "
                   "and argmax(axis=...)")
    return _reduce("max", x, axis, keepdims)


def min(x, axis=None, keepdims: bool = False, *, dim=None):
    """Minimum over ``axis``; tied minima share the gradient evenly."""
    _no_dim("min", dim, "NumPy's min gives the values only, PyTorch's min(dim) (values, indices): use min(axis=...) "
                   "and argmin(axis=...)")
    return _reduce("min", x, axis, keepdims)


def prod(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Product over ``axis`` (or PyTorch's ``dim``/``keepdim``). ∂/∂x_i is the product of the other elements (exact
    when some are zero)."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _dim_alias("prod", axis, keepdims, dim, keepdim)
    return _reduce("prod", x, axis, keepdims)


def var(x, axis=None, keepdims: bool = False, ddof: int = 0, *, dim=None):
    """Variance over ``axis`` with NumPy's ``ddof=0`` default. ∂/∂x_i = 2(x_i − mean)/(n − ddof).

    Complex x: NumPy's real variance, the mean of |x − mean|², as a composition of rules.
    """
    _no_dim("var", dim, "ddof=0 by default, PyTorch's var(dim) divides by n − 1")
    if isinstance(x, Tensor) and x.dtype.kind == "c":
        return _complex_var(x, axis, keepdims, int(ddof))
    return _reduce("var", x, axis, keepdims, ddof=int(ddof))


def std(x, axis=None, keepdims: bool = False, ddof: int = 0, *, dim=None):
    """Standard deviation over ``axis`` (``ddof=0`` by default)."""
    _no_dim("std", dim, "ddof=0 by default, PyTorch's std(dim) divides by n − 1")
    if isinstance(x, Tensor) and x.dtype.kind == "c":
        variance = _complex_var(x, axis, keepdims, int(ddof))
        if _group_size(x, normalize_axis(axis, x.ndim, "std")) == 1 and int(ddof) == 0:
            return variance  # over one element std is 0 for every x, gradient 0 (as the real rule), not sqrt′(0)
        return apply_unary(lookup("sqrt"), variance)
    return _reduce("std", x, axis, keepdims, ddof=int(ddof))


def _group_size(x, axes) -> int:
    return x.size if axes is None else int(np.prod([x.shape[a] for a in axes], dtype=np.int64))


def _complex_var(x, axis, keepdims: bool, ddof: int):
    axes = normalize_axis(axis, x.ndim, "var")
    n = _group_size(x, axes)
    d = x - mean(x, axes, keepdims=True)
    return _reduce("sum", real(d * conj(d)), axes, keepdims) / (n - ddof)


def logsumexp(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """log(sum(exp(x))) over ``axis`` (or PyTorch's ``dim``/``keepdim``), computed without overflow. Its gradient is
    softmax(x)."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _dim_alias("logsumexp", axis, keepdims, dim, keepdim)
    return _reduce("logsumexp", x, axis, keepdims)


def softmax(x, axis: int = -1):
    """exp(x) / sum(exp(x)) along ``axis``, without overflow."""
    x = _tensor_arg(x, "softmax")
    if x.ndim == 0:  # one class: softmax is 1
        return reshape(softmax(reshape(x, (1,)), 0), ())
    return apply(lookup("softmax"), (x,), {"axis": _single_axis(axis, x.ndim, "softmax")})


def log_softmax(x, axis: int = -1):
    """x − logsumexp(x) along ``axis``, without overflow."""
    x = _tensor_arg(x, "log_softmax")
    if x.ndim == 0:  # one class: log_softmax is 0
        return reshape(log_softmax(reshape(x, (1,)), 0), ())
    return apply(lookup("log_softmax"), (x,), {"axis": _single_axis(axis, x.ndim, "log_softmax")})


def softmax_cross_entropy(x, labels, reduction: str = "mean", *, where: str = "softmax_cross_entropy"):
    """−log softmax(x)[n, labels[n]] for (N, C) logits and integer labels (N,), as one primitive.

    ``reduction``: "mean" (the default), "sum" or "none" (one loss per sample). The gradient is
    (softmax(x) − onehot(labels)) · g; the logits are shifted by their maximum, so ±1e4 stays finite.
    ``where`` names the caller in error messages.
    """
    x = _tensor_arg(x, where)
    if x.ndim != 2:
        raise ShapeError(f"{where}: logits must have shape (N, C), got {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: logits must be floating point, got dtype {x.dtype}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"{where}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return checked_softmax_cross_entropy(x, labels, reduction, where)


def checked_softmax_cross_entropy(x: Tensor, labels: Any, reduction: str, where: str) -> Tensor:
    """``softmax_cross_entropy`` after its checks of the logits and the reduction, which the caller made
    (nn.functional.cross_entropy): x a Tensor of floating-point (N, C) logits. The labels are checked here."""
    labels = class_labels(labels, x.shape[1], x.shape[:1], where, like=x._data)
    return apply(_CROSS_ENTROPY, (x,), {"labels": labels, "reduction": reduction})


_CROSS_ENTROPY = lookup("cross_entropy")


def _single_axis(axis, ndim, op):
    if not isinstance(axis, numbers.Integral):
        raise TypeError(f"{op}: axis must be an int, not {axis!r}")
    return normalize_axis(axis, ndim, op) or (0,)


def reshape(x, *shape):
    """The same elements in a new shape (one dimension may be -1)."""
    x = _tensor_arg(x, "reshape")
    if len(shape) == 1 and isinstance(shape[0], Sequence | np.ndarray):
        shape = shape[0]
    try:
        shape = tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"reshape: shape must be ints, got {shape!r}") from None
    known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
    if shape.count(-1) > 1 or (-1 not in shape and known != x.size) or (
        -1 in shape and (known == 0 or x.size % known)
    ):
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into {shape}")
    if -1 in shape:
        shape = tuple(x.size // known if s == -1 else s for s in shape)
    return apply(lookup("reshape"), (x,), {"shape": shape})


def transpose(x, *axes):
    """Permute the axes like NumPy (no axes: reverse them)."""
    x = _tensor_arg(x, "transpose")
    if not axes:  # x.T: reversed axes, always a permutation
        return apply(_TRANSPOSE, (x,), {"axes": tuple(range(x.ndim))[::-1]})
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], Sequence)):
        axes = axes[0]
    if not axes:
        axes = tuple(range(x.ndim))[::-1]
    if any(not -x.ndim <= int(a) < builtins.max(x.ndim, 1) for a in axes):
        raise ShapeError(f"transpose: axes {tuple(axes)} are out of range for a tensor of shape {x.shape}")
    axes = tuple(int(a) % builtins.max(x.ndim, 1) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of shape {x.shape}")
    return apply(_TRANSPOSE, (x,), {"axes": axes})


_TRANSPOSE = lookup("transpose")


def swapaxes(x, a: int, b: int):
    """Exchange two axes."""
    x = _tensor_arg(x, "swapaxes")
    order = list(range(x.ndim))
    a, b = (normalize_axis(a, x.ndim, "swapaxes") or (0,))[0], (normalize_axis(b, x.ndim, "swapaxes") or (0,))[0]
    order[a], order[b] = order[b], order[a]
    return transpose(x, tuple(order))


def flatten(x, start_dim: int = 0, end_dim: int = -1):
    """Merge the dimensions from ``start_dim`` to ``end_dim`` into one (all of them by default)."""
    x = _tensor_arg(x, "flatten")
    if x.ndim == 0:
        return reshape(x, (1,))
    start = (normalize_axis(start_dim, x.ndim, "flatten") or (0,))[0]
    end = (normalize_axis(end_dim, x.ndim, "flatten") or (0,))[0]
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    shape = x.shape[:start] + (-1,) + x.shape[end + 1:] if x.size else x.shape[:start] + (0,) + x.shape[end + 1:]
    return reshape(x, shape)


def squeeze(x, axis=None):
    """Remove axes of length 1 (all of them, or those named)."""
    x = _tensor_arg(x, "squeeze")
    axes = normalize_axis(axis, x.ndim, "squeeze")
    if axes is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    for a in axes:
        if x.shape[a] != 1:
            raise ShapeError(f"squeeze: axis {a} of shape {x.shape} has length {x.shape[a]}, not 1")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x, axis):
    """Insert axes of length 1 at ``axis`` (an int or tuple, as in ``np.expand_dims``)."""
    x = _tensor_arg(x, "unsqueeze")
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    ndim = x.ndim + len(axes)
    axes = normalize_axis(axes, ndim, "unsqueeze") or ()
    shape = iter(x.shape)
    return reshape(x, tuple(1 if i in axes else next(shape) for i in range(ndim)))


expand_dims = unsqueeze


def broadcast_to(x, shape):
    """Broadcast to ``shape`` as NumPy does; the gradient sums over the broadcast axes."""
    x = _tensor_arg(x, "broadcast_to")
    shape = (int(shape),) if isinstance(shape, numbers.Integral) else tuple(int(s) for s in shape)
    try:
        np.broadcast_shapes(x.shape, shape)
        if len(shape) < x.ndim or np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ShapeError(f"broadcast_to: a tensor of shape {x.shape} cannot be broadcast to {shape}") from None
    return apply(lookup("broadcast_to"), (x,), {"shape": shape})


def astype(x, dtype):
    """Convert to ``dtype``; the gradient is converted back to x's dtype."""
    x = _tensor_arg(x, "astype")
    dtype = np.dtype(dtype)
    if x.dtype.kind == "c" and dtype.kind != "c":
        raise TypeError(f"astype: converting a complex tensor to {dtype} would drop the imaginary part; take "
                        "cnp.real(x) or cnp.abs(x) explicitly")
    if dtype.kind not in "fc":  # integers and booleans carry no gradient (as in PyTorch): the result is a constant
        return Tensor._make(np.asarray(x._data).astype(dtype), None, False)
    return apply(lookup("astype"), (x,), {"dtype": dtype})


def real(x):
    """The real part (a real tensor; a real x is returned as is). Covector of Re z: 1."""
    return apply(lookup("real"), (_operand(x, "x", "real"),))


def imag(x):
    """The imaginary part (zeros for a real x). Covector of Im z: −i."""
    return apply(lookup("imag"), (_operand(x, "x", "imag"),))


def conj(x):
    """The complex conjugate (x itself for a real x). Its vjp is conj(g)."""
    return apply(lookup("conj"), (_operand(x, "x", "conj"),))


conjugate = conj


def identity(x):
    """The same values as a new node of the graph."""
    return apply(lookup("identity"), (x,))


def getitem(x, index):
    """``x[index]`` with NumPy's indexing; repeated integer indices accumulate gradient."""
    return apply(lookup("getitem"), (x,), {"index": _index(index)})


def _index(index):
    """Indices made of Tensors or lists become arrays, so NumPy reads them as advanced indices."""
    if isinstance(index, tuple):
        return tuple(_index_item(i) for i in index)
    return _index_item(index)


def _index_item(i):
    if isinstance(i, Tensor):
        i = i._data if type(i._data) is not np.ndarray and backends.is_foreign(i._data) else i._array()
    elif isinstance(i, list):
        i = np.asarray(i) if i else np.asarray(i, dtype=np.intp)
    if isinstance(i, np.ndarray) and i.dtype.kind not in "iub":
        raise IndexError(f"tensor indices must be integers or booleans, not {i.dtype}")
    if isinstance(i, float | np.floating):
        raise IndexError(f"tensor indices must be integers, slices, None, ... or arrays, not the float {i}")
    return i


def move(x: Tensor, target: Any) -> Tensor:
    """``x`` in another array library or on another device (``Tensor.to`` of a result of an op): a node whose
    gradient moves back to x's library and device, so derivatives flow across the hop."""
    data = x._data
    source = backends.device(data) if type(data) is not np.ndarray and backends.is_foreign(data) else np
    return transfer(x, functools.partial(backends.move, target=target), functools.partial(backends.move, target=source))


def transfer(x, to, back):
    """The move rule's vjp and jvp on Tensors: ``to`` applied as a recorded move (``back`` its gradient's way)."""
    if not isinstance(x, Tensor):
        return to(x)
    out = to(x._data)
    if not (x.requires_grad and (grad_mode.all_recording or thread_mode.enabled)):
        return Tensor._make(out, None, False)
    return Tensor._make(out, Node(lookup("move"), [x._data], out, [x.node or x], {"to": to, "back": back}), True)


def scatter(g, index, shape):
    """Zeros of ``shape`` with ``g`` added at ``index`` (the gradient of indexing)."""
    return apply(lookup("scatter"), (g,), {"index": index, "shape": tuple(shape)})


def flip(x, axis: int):
    """x reversed along ``axis`` (an int), differentiably: the slice ``[::-1]`` there."""
    x = _tensor_arg(x, "flip")
    return getitem(x, (slice(None),) * (axis % x.ndim) + (slice(None, None, -1), Ellipsis))


def constant(value, like):
    """The NumPy constant ``value`` (a mask, an identity matrix) in like's dtype, for rules on Tensors: a plain
    array, which an op next to a Tensor of another library moves into that library."""
    return np.asarray(value, dtype=np.dtype(like.dtype))


# The constants of rules on Tensors are NumPy arrays, as ``constant``'s (NumPy's namespace makes them).
def has_zero(raw) -> bool:
    """Whether a rule must mask the zeros of ``raw = stop(x)``: a test for NumPy values, always for another
    library's (no test of device values)."""
    return numpy_math.has_zero(raw) if isinstance(raw, np.ndarray | np.generic) else True


def eye(n: int, like):
    """The n×n identity in like's dtype (a constant)."""
    return numpy_math.eye(n, like)


def tril_mask(n: int, k: int, like):
    """The n×n triangle of ones on and below diagonal k, in like's dtype (a constant)."""
    return numpy_math.tril_mask(n, k, like)


def arange(n: int, like):
    """The integers 0, ..., n − 1 (an index)."""
    return numpy_math.arange(n, like)


def one_hot(labels, like):
    """onehot[n, labels[n]] = 1 in like's shape and dtype (a constant)."""
    return numpy_math.one_hot(labels, like)


def _join(name: str, tensors, axis: int, same_shape: bool):
    if isinstance(tensors, Tensor | np.ndarray) or not isinstance(tensors, Sequence):
        raise TypeError(f"{name}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{name}: needs at least one tensor, got an empty sequence")
    ts = [_tensor_arg(t, name) for t in tensors]
    first = ts[0].shape
    ndim = len(first) + (1 if same_shape else 0)
    if ndim == 0:
        raise ShapeError(f"{name}: zero-dimensional tensors cannot be concatenated; use stack")
    axis = normalize_axis(axis, ndim, name)[0]
    for i, t in enumerate(ts):
        if len(t.shape) != len(first) or (same_shape and t.shape != first) or (
            not same_shape and t.shape[:axis] + t.shape[axis + 1:] != first[:axis] + first[axis + 1:]
        ):
            expected = "the same shape" if same_shape else f"the same shape except along axis {axis}"
            raise ShapeError(f"{name}: tensor {i} has shape {t.shape} but tensor 0 has {first}; expected {expected}")
    return apply(lookup(name), ts, {"axis": axis})


def concatenate(tensors, axis: int = 0):
    """Join tensors along an existing axis."""
    return _join("concatenate", tensors, axis, same_shape=False)


def stack(tensors, axis: int = 0):
    """Join same-shaped tensors along a new axis."""
    return _join("stack", tensors, axis, same_shape=True)


def holds_tensor(items) -> bool:
    """Whether a (nested) list or tuple holds a Tensor anywhere."""
    return builtins.any(isinstance(i, Tensor) or (isinstance(i, list | tuple) and holds_tensor(i)) for i in items)


def stack_nested(items) -> Tensor:
    """A (nested) list or tuple holding Tensors as one Tensor, stacked differentiably (``cr.mean([x, x + 2])``).

    Each level is a ``stack`` along a new first axis, so the gradient flows back to every Tensor in it; numbers and
    arrays among them are constants.
    """
    if not items:
        raise ValueError("cannot stack an empty list; expected at least one tensor or number")
    parts = [stack_nested(i) if isinstance(i, list | tuple) else i if isinstance(i, Tensor) else Tensor(i)
             for i in items]
    return stack(parts, 0)


def split(x, indices_or_sections, axis: int = 0) -> list[Tensor]:
    """Split into pieces along ``axis`` as ``np.split`` does: a number of equal sections, or split indices."""
    x = _tensor_arg(x, "split")
    axis = (normalize_axis(axis, x.ndim, "split") or (0,))[0]
    n = x.shape[axis]
    if isinstance(indices_or_sections, numbers.Integral):
        k = int(indices_or_sections)
        if k <= 0 or n % k:
            raise ShapeError(f"split: axis {axis} of length {n} cannot be split into {k} equal sections")
        bounds = [i * (n // k) for i in range(k + 1)]
    else:
        bounds = [0, *(int(i) for i in indices_or_sections), n]
    head = (slice(None),) * axis
    return [getitem(x, head + (slice(a, b),)) for a, b in itertools.pairwise(bounds)]


def linear(x, weight, bias=None):
    """x @ weightᵀ + bias with ``weight`` of shape (out_features, in_features), as in PyTorch; one primitive."""
    x, weight = _operand(x, "x", "linear"), _operand(weight, "weight", "linear")
    sx, sw = _shape_of(x), _shape_of(weight)
    if len(sw) != 2 or not sx or sx[-1] != sw[1]:
        raise ShapeError(
            f"linear: input of shape {sx} has {sx[-1] if sx else 'no'} features in its last dimension, but the "
            f"weight of shape {sw} expects {sw[1] if len(sw) == 2 else '(a 2-D weight)'}"
        )
    if bias is None:
        return matmul(x, swapaxes(weight, 0, 1) if isinstance(weight, Tensor) else np.swapaxes(weight, 0, 1))
    bias = _operand(bias, "bias", "linear")
    if _shape_of(bias) not in ((sw[0],), ()):
        raise ShapeError(f"linear: bias of shape {np.shape(bias)} does not fit the weight of shape {sw}; "
                         f"expected ({sw[0]},)")
    return _linear(x, weight, bias)


_linear = ternary_op(lookup("linear"))


def matmul(a, b):
    """Matrix product with NumPy's rules for 1-D and batched (..., n, k) @ (..., k, m) operands."""
    a, b = _operand(a, "a", "matmul"), _operand(b, "b", "matmul")
    sa, sb = _shape_of(a), _shape_of(b)
    if not sa or not sb:
        raise ShapeError(f"matmul: operands must have at least 1 dimension, got shapes {sa} and {sb}; use * instead")
    if sa[-1] != sb[-2 if len(sb) > 1 else 0]:
        raise ShapeError(
            f"matmul: shapes {sa} and {sb} do not fit: a's last dimension ({sa[-1]}) must equal b's "
            f"{'second-to-last' if len(sb) > 1 else 'only'} dimension ({sb[-2 if len(sb) > 1 else 0]})"
        )
    if len(sa) > 2 or len(sb) > 2:
        try:
            np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise ShapeError(f"matmul: the batch dimensions of shapes {sa} and {sb} ({sa[:-2]} and {sb[:-2]}) do "
                             "not broadcast; each must be equal or 1") from None
    return apply(_MATMUL, (a, b))


_MATMUL = lookup("matmul")



# ---------------------------------------------------------------------------------------------------------------
# Patches: the linear primitives behind convolution and pooling.
# ---------------------------------------------------------------------------------------------------------------
def unfold(x: Any, kernel_size: int | Pair, stride: int | Pair = 1, padding: int | Pair = 0) -> Tensor:
    """im2col: the kh×kw windows of an (N, C, H, W) batch as columns, shape (N, C·kh·kw, OH·OW).

    The layout is ``torch.nn.functional.unfold``'s. Windows start every ``stride`` pixels of the image padded with
    ``padding`` zeros on each side. Its gradient is ``fold``. An (N, C, L) or (N, C, D, H, W) batch works the same
    way, with one kernel size, stride and padding per spatial axis.
    """
    if not isinstance(x, Tensor):
        x = np.asarray(x)
    x = x if x.ndim in (3, 5) else image(x, "unfold")
    dims = x.ndim - 2
    kernel_size = sizes(kernel_size, dims, "kernel_size", "unfold", 1)
    stride = sizes(stride, dims, "stride", "unfold", 1)
    padding = sizes(padding, dims, "padding", "unfold", 0)
    padded = tuple(n + 2 * p for n, p in zip(x.shape[2:], padding, strict=True))
    if any(k > n for k, n in zip(kernel_size, padded, strict=True)):
        raise ShapeError(
            f"unfold: kernel_size {kernel_size} is larger than the padded image {padded} "
            f"(input of shape {x.shape} with padding {padding})"
        )
    return apply(lookup("unfold"), (x,), {"kernel_size": kernel_size, "stride": stride, "padding": padding})


def fold(x: Any, output_size: int | Pair, kernel_size: int | Pair, stride: int | Pair = 1,
         padding: int | Pair = 0) -> Tensor:
    """col2im: columns (N, C·kh·kw, L) added back into an (N, C, H, W) image; overlaps add up. Adjoint of unfold.

    As many spatial axes as ``output_size`` or ``kernel_size`` has (two when both are ints)."""
    if not isinstance(x, Tensor):
        x = np.asarray(x)
    dims = next((len(v) for v in (output_size, kernel_size) if isinstance(v, tuple | list)), 2)
    output_size = sizes(output_size, dims, "output_size", "fold", 1)
    kernel_size = sizes(kernel_size, dims, "kernel_size", "fold", 1)
    stride = sizes(stride, dims, "stride", "fold", 1)
    padding = sizes(padding, dims, "padding", "fold", 0)
    counts = numpy_math.count_windows(output_size, kernel_size, stride, padding)
    k = math.prod(kernel_size)
    windows = math.prod(builtins.max(o, 0) for o in counts)
    if x.ndim != 3 or x.shape[1] % k or x.shape[2] != windows or builtins.min(counts) < 1:
        raise ShapeError(
            f"fold: input of shape {x.shape} does not fit output_size {output_size}, kernel_size {kernel_size}, "
            f"stride {stride}, padding {padding}; expected (N, C·{k}, {windows})"
        )
    return apply(lookup("fold"), (x,), {"output_size": output_size, "kernel_size": kernel_size, "stride": stride,
                                        "padding": padding})


def product_of_others(x):
    """For each element along the last axis, the product of the other elements, differentiably (prod's
    derivative on Tensors): row j of a (k, k) stack holds x with element j replaced by 1."""
    x = _tensor_arg(x, "product_of_others")
    k = x.shape[-1]
    return prod(where(np.eye(k, dtype=bool), 1.0, unsqueeze(x, -2)), axis=-1)


def _rule_log(x, base=None):
    # In a rule, a Python-number operand is a constant (d/db a**b = a**b ln a with a Python base a): its log stays
    # a Python float, a weak scalar, so float32 gradients stay float32.
    if type(x) is float or type(x) is int:
        value = float(np.log(x))
        return value if base is None else value / float(np.log(base))
    return log(x, base)


class _TensorMath:
    """The math namespace ``m`` for rules on Tensors (create_graph, nested transforms): this module's functions,
    except that functions of Python-number constants stay Python numbers."""

    log = staticmethod(_rule_log)

    def __getattr__(self, name: str):
        if name.startswith("_") or name not in globals():
            raise AttributeError(f"chainrule.ops has no function '{name}' for rules to use on Tensors")
        return globals()[name]


tensor_math = _TensorMath()
apply_rule = apply  # forward mode applies linear rules to tangents with the namespace's apply_rule
Tensor._math = tensor_math  # Tensor.backward(create_graph=True) computes its rules in this namespace


# ---------------------------------------------------------------------------------------------------------------
# Tensor's operators and methods are this module's functions (tensor.py knows no op): one call per operation.
# ---------------------------------------------------------------------------------------------------------------
def _reflected(function: Callable) -> Callable:
    def reflected(self, other):
        return function(other, self)

    reflected.__name__ = f"r{function.__name__}"
    return reflected


def _operator(function: Callable) -> Callable:
    """The operator form of a binary function: the same closure, deferring to array-like containers."""
    rule = _BINARY_RULES.get(function)
    return function if rule is None else binary_op(rule, defer=True)


def _install_operators() -> None:
    functions = globals()  # the elementwise functions are generated from the rule table into this namespace
    operators = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "divide", "pow": "power",
                 "matmul": "matmul"}
    for name, function in operators.items():
        operator = _operator(functions[function])
        setattr(Tensor, f"__{name}__", operator)
        setattr(Tensor, f"__r{name}__", _reflected(operator))
    comparisons = {"lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal", "eq": "equal",
                   "ne": "not_equal"}
    for name, function in comparisons.items():
        setattr(Tensor, f"__{name}__", _operator(functions[function]))
    Tensor.__neg__, Tensor.__abs__, Tensor.__getitem__ = functions["negative"], functions["abs"], getitem
    Tensor.__pos__ = lambda self: self
    Tensor.__mod__, Tensor.__rmod__ = remainder, _reflected(remainder)
    Tensor.ravel = lambda self, order="C": reshape(self, (-1,))
    Tensor.T = property(transpose, doc="The transpose (axes reversed).")
    Tensor.real = property(real, doc="The real part, differentiably (cr.real).")
    Tensor.imag = property(imag, doc="The imaginary part, differentiably (cr.imag).")
    Tensor.conj = Tensor.conjugate = conj
    for function in (sum, mean, max, min, prod, var, std, logsumexp, softmax, log_softmax, reshape, transpose,
                     swapaxes, flatten, squeeze, unsqueeze, broadcast_to, astype, matmul):
        setattr(Tensor, function.__name__, function)  # the signatures read the same with self as the first input
    _install_torch_habits()
    _install_numpy_methods()


class _Size(int):
    """``t.size``: NumPy's element count (an int), which PyTorch users may also call: ``t.size()`` is the shape
    and ``t.size(d)`` one dimension."""

    _shape: tuple[int, ...] = ()

    def __call__(self, dim: int | None = None) -> tuple[int, ...] | int:
        if dim is None:
            return self._shape
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or not -len(self._shape) <= dim < len(
                self._shape):
            raise IndexError(f"size({dim!r}): dimension out of range for a tensor of shape {self._shape}")
        return self._shape[dim]


def _size(self: Tensor) -> _Size:
    data = self._data
    size = data.size
    size = _Size(size if type(size) is int else int(np.prod(data.shape, dtype=np.int64)))  # torch: a method
    size._shape = tuple(data.shape)
    return size


def _permute(x, *dims):
    """PyTorch's ``t.permute(*dims)``: every axis named once (NumPy's ``transpose(axes)``)."""
    if len(dims) == 1 and isinstance(dims[0], Sequence):
        dims = tuple(dims[0])
    if len(dims) != x.ndim:
        raise ShapeError(f"permute: give all {x.ndim} axes of shape {x.shape} in their new order, got {dims}")
    return transpose(x, *dims)


def clone(x):
    """A copy with its own memory that stays in the graph (the gradient passes through unchanged)."""
    y = identity(_tensor_arg(x, "clone"))
    y._data = np.array(y._data, copy=True)  # identity shares x's array; a clone must not
    return y


def argmax(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Index of the largest value (along ``axis`` or PyTorch's ``dim``; over the flattened tensor by default), an
    int64 Tensor without gradient (the index is piecewise constant)."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _dim_alias("argmax", axis, keepdims, dim, keepdim)
    x = _tensor_arg(x, "argmax")
    if axis is not None:
        axis = normalize_axis(axis, x.ndim, "argmax")[0]
    if x.size == 0:
        raise ShapeError(f"argmax of an empty tensor (shape {x.shape})")
    return Tensor._make(np.asarray(np.argmax(x._data, axis=axis, keepdims=bool(keepdims)), dtype=np.int64),
                        None, False)


def _install_torch_habits() -> None:
    """PyTorch's spellings where they cost nothing; NumPy's meaning wins where the two disagree (``transpose``
    permutes like NumPy, ``std``/``var`` default to ddof=0, ``t.size`` is the element count until called)."""
    Tensor.size = property(_size, doc=_Size.__doc__)
    Tensor.numel = lambda self: int(self._data.size)
    Tensor.view = reshape  # a new array, never shared memory: writes to a view do not reach the original
    Tensor.permute = _permute
    Tensor.clone = clone
    Tensor.clamp = clip
    Tensor.argmax = argmax
    Tensor.float = lambda self: astype(self, np.float32)
    Tensor.double = lambda self: astype(self, np.float64)
    Tensor.grad_fn = property(lambda self: self.node, doc="The graph node that made this tensor (None for a leaf), "
                                                          "read-only.")


# ndarray methods that are NumPy functions of the array (HIPS autograd's boxes have them too): each calls NumPy's
# function, which hands a Tensor to chainrule.numpy through __array_function__, so the method and cnp are one code.
_NUMPY_METHODS = ("argmin", "argsort", "argpartition", "nonzero", "searchsorted", "round", "cumsum", "cumprod",
                  "diagonal", "repeat", "take", "trace", "dot", "compress")


def _numpy_method(name: str) -> Callable:
    function = getattr(np, name)

    def method(self, *args, **kwargs):
        if name == "compress":  # ndarray.compress(condition, axis) is np.compress(condition, a, axis)
            return function(args[0], self, *args[1:], **kwargs)
        return function(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``t.{name}(...)`` is ``np.{name}(t, ...)``, as for a NumPy array."
    return method


def _install_numpy_methods() -> None:
    for name in _NUMPY_METHODS:
        setattr(Tensor, name, _numpy_method(name))


def _elementwise_method(rule: Rule, registered: bool) -> None:
    """``t.<name>()`` for each entry of the rule table marked ``method`` (``t.exp()``, ``t.asin()``, ``t.clip(lo)``).

    The method is this module's function itself, so ``t.exp()`` is ``cr.exp(t)``: one call.
    """
    if not rule.method:
        return
    names = (rule.name, *rule.aliases)
    if not registered:
        for name in names:
            if _METHODS.pop(name, None) is not None:
                delattr(Tensor, name)
        return
    taken = [name for name in names if hasattr(Tensor, name)]
    if taken:  # never replace a method or attribute of the class
        raise ValueError(f"rule '{rule.name}': Tensor already has an attribute {taken[0]!r}; choose another name")
    for name in names:
        _METHODS[name] = rule
        setattr(Tensor, name, globals()[name])


_METHODS: dict[str, Rule] = {}  # method name -> the rule it was made from
_install_operators()
on_register(_elementwise_method)


# ---------------------------------------------------------------------------------------------------------------
# Linear algebra (rules/linalg.py): the namespace functions its derivatives call, on Tensors. The public functions,
# with NumPy's names and checks, are in chainrule.numpy.linalg.
# ---------------------------------------------------------------------------------------------------------------
def solve(a, b):
    """A⁻¹ b, differentiably (NumPy 2's rule: b is a vector when 1-D, else a stack of matrices)."""
    return apply(lookup("solve"), (a, b))


def eigh(x):
    """Eigenvalues and eigenvectors of x's lower triangle, packed as (..., n + 1, n) (eigenvalues in row 0)."""
    return apply(lookup("eigh"), (x,))


def eig(x):
    """Eigenvalues and eigenvectors of a general square x, packed as (..., n + 1, n), complex (eigenvalues in row 0)."""
    return apply(lookup("eig"), (x,))


def svd(x):
    """The reduced SVD of x, packed as U, S, Vh flattened and concatenated along the last axis."""
    return apply(lookup("svd"), (x,))
