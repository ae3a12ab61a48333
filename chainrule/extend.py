"""A user's own primitive: a NumPy forward and its derivatives, as one more entry of the rule table.

``cr.primitive(forward)`` wraps a NumPy function; ``p.defvjp(vjp_0, vjp_1, ...)`` gives one vjp per argument,
``vjp_i(g, y, *args, **params)`` -> the gradient of ``args[i]``, where ``g`` is the upstream gradient and ``y`` the
forward's output. The primitive becomes a ``general`` rule in the same table as ``exp`` or ``softmax``, so backward,
``create_graph``, ``jvp``, ``jacobian``, ``gradcheck``, ``chainrule rules`` and ``cr.explain`` all read it.

Higher order works because the engine calls the vjps on Tensors when the backward pass is itself recorded
(``create_graph``, ``grad(grad(f))``, ``hessian``): vjps written with chainrule functions (``cr.cos``, ``*``, ``/``)
then build a graph, while on plain arrays the same code just computes numbers.

Forward mode uses ``p.defjvp(jvp_0, ...)``, ``jvp_i(t, y, *args, **params)`` -> the output's tangent due to the
tangent ``t`` of ``args[i]`` (the engine sums over inputs). Without it, forward mode is derived from the vjps: a vjp
is linear in ``g``, ``vjp_i(g) = J_iᵀ g``, so ``J_i t = ∂/∂g ⟨vjp_i(g), t⟩``, one small backward pass over the vjp's
own graph. Anchors: ``HIPS/autograd: autograd/extend.py`` (primitive, defvjp, defjvp), ``jax.custom_vjp``,
``torch.autograd.Function``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .engine import backward, set_grad_enabled
from .errors import NoDerivativeError, ShapeError
from .ops import apply, multiply
from .ops import sum as total
from .rules import numpy_math
from .rules.registry import GENERAL, NO_GRAD, Rule, Sample, is_replaceable, lookup, register
from .tensor import Tensor

__all__ = ["MissingDerivative", "Primitive", "primitive"]


class MissingDerivative:
    """A vjp (or jvp) the user did not give: calling it raises NoDerivativeError naming the primitive and argument.

    It stands in the rule's entry, so the argument still records a gradient path, and asking for that gradient
    fails loudly instead of giving a silent zero.
    """

    def __init__(self, primitive: str, index: int, arg: str, how: str) -> None:
        self.primitive, self.index, self.arg, self.how = primitive, index, arg, how

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NoDerivativeError(
            f"primitive '{self.primitive}' has no {self.how} for argument {self.index} ('{self.arg}'), which needs "
            f"a gradient; give one with {self.primitive}.def{self.how}(...) (one per argument), or mark the argument "
            f"non-differentiable with cr.primitive(..., nondiff_argnums=({self.index},))"
        )

    def __repr__(self) -> str:
        return f"<no {self.how} for argument {self.index} of '{self.primitive}'>"


class Primitive:
    """A user-defined primitive: call it like any chainrule function; differentiate it once ``defvjp`` was given.

    >>> import chainrule as cr, numpy as np
    >>> softplus = cr.primitive(lambda x: np.logaddexp(0.0, x), name="my_softplus", text="sigmoid(x)")
    >>> _ = softplus.defvjp(lambda g, y, x: g * cr.sigmoid(x))
    >>> round(cr.grad(softplus)(0.0), 6)
    0.5
    """

    def __init__(self, forward: Callable[..., Any], name: str, text: Any = None, tex: Any = None, *,
                 nondiff_argnums: Sequence[int] = (), sample: Sequence[Any] | None = None,
                 sample_params: Mapping[str, Any] | None = None) -> None:
        self.forward = forward
        self.name = name
        self._text, self._tex = text, tex
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.sample = None if sample is None else tuple(sample)
        self.sample_params = dict(sample_params or {})
        self.vjps: tuple[Any, ...] | None = None
        self.jvps: tuple[Any, ...] | None = None
        self.rule: Rule | None = None  # the entry in the rule table, once defvjp was called
        self.__name__ = self.__qualname__ = name
        self.__doc__ = getattr(forward, "__doc__", None)

    def __repr__(self) -> str:
        state = "no vjp yet" if self.rule is None else f"{self.rule.arity} argument(s)"
        return f"<chainrule primitive '{self.name}' ({state})>"

    # -----------------------------------------------------------------------------------------------------------
    def defvjp(self, *vjps: Callable[..., Any] | None) -> Primitive:
        """Give one vjp per argument, ``vjp_i(g, y, *args, **params)`` -> gradient of ``args[i]`` (None: not given).

        Write them with chainrule functions so that they can be differentiated again. Returns the primitive.
        """
        n = len(vjps)
        self._check_arity(n, "vjp")
        for i in self.nondiff_argnums:
            if not 0 <= i < n:
                raise ValueError(f"primitive '{self.name}': nondiff_argnums names argument {i}, but defvjp was given "
                                 f"{n} vjp(s), one per argument")
            if vjps[i] is not None:
                raise ValueError(f"primitive '{self.name}': argument {i} is in nondiff_argnums, so it takes no vjp; "
                                 "pass None in its place")
        for i, vjp in enumerate(vjps):
            if vjp is not None and not callable(vjp):
                raise TypeError(f"primitive '{self.name}': vjp {i} must be a function vjp(g, y, *args) or None, "
                                f"not {type(vjp).__name__}")
            self._check_callable_as(vjp, i, "vjp", "g", n)
        self.vjps = vjps
        if self.jvps is not None and len(self.jvps) != n:
            self.jvps = None  # the arguments changed: an old defjvp no longer fits
        self._register()
        return self

    def defjvp(self, *jvps: Callable[..., Any] | None) -> Primitive:
        """Give forward mode: one ``jvp_i(t, y, *args, **params)`` per argument -> the output's tangent from ``t``.

        Optional: without it forward mode is derived from the vjps. Call after ``defvjp``. Returns the primitive.
        """
        if self.vjps is None:
            raise NoDerivativeError(f"primitive '{self.name}': call {self.name}.defvjp(...) before defjvp")
        if len(jvps) != len(self.vjps):
            raise ValueError(f"primitive '{self.name}' has {len(self.vjps)} argument(s) (one vjp each), but defjvp "
                             f"was given {len(jvps)} jvp(s); give one per argument (None for a non-differentiable one)")
        for i, jvp in enumerate(jvps):
            if jvp is not None and not callable(jvp):
                raise TypeError(f"primitive '{self.name}': jvp {i} must be a function jvp(t, y, *args) or None, "
                                f"not {type(jvp).__name__}")
            self._check_callable_as(jvp, i, "jvp", "t", len(jvps))
        self.jvps = jvps
        self._register()
        return self

    # -----------------------------------------------------------------------------------------------------------
    def __call__(self, *args: Any, **params: Any) -> Tensor:
        """Apply the primitive: positional arguments are its inputs, keyword arguments are passed on as parameters."""
        for key, value in params.items():
            if isinstance(value, Tensor):
                if value.requires_grad:
                    raise TypeError(f"primitive '{self.name}': keyword argument '{key}' is a Tensor that requires "
                                    "grad, but keyword arguments are parameters and are not differentiated; pass it "
                                    "as a positional argument (with a vjp) instead")
                params[key] = value.data
        rule = self.rule
        if rule is None:
            if any(isinstance(a, Tensor) and a.requires_grad for a in args):
                raise NoDerivativeError(
                    f"primitive '{self.name}' has no derivative yet: call {self.name}.defvjp(vjp_0, ...) with one "
                    "vjp(g, y, *args) per argument before differentiating it"
                )
            n = len(args)  # the forward alone: a rule that records nothing
            rule = Rule(name=self.name, forward=_checked_forward(self.name, self.forward), kind=GENERAL, arity=n,
                        vjps=(NO_GRAD,) * n, supports_complex=True)
        elif len(args) != rule.arity:
            raise TypeError(f"primitive '{self.name}' takes {rule.arity} positional argument(s) (one per vjp given "
                            f"to defvjp), got {len(args)}; give parameters as keyword arguments")
        return apply(rule, args, params)

    # -----------------------------------------------------------------------------------------------------------
    def _check_callable_as(self, function: Any, i: int, what: str, first: str, n: int) -> None:
        """A vjp (jvp) is called ``function(g, y, *args)``: refuse one whose signature cannot take that, now, rather
        than with Python's bare "takes 1 positional argument but 3 were given" in the middle of a backward pass."""
        if function is None:
            return
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):  # a builtin without a signature: nothing to check
            return
        try:
            signature.bind(*range(n + 2))
        except TypeError:
            args = ", ".join(self._arg_names(n))
            raise TypeError(f"primitive '{self.name}': {what} {i} has the signature {signature}, but it is called as "
                            f"{what}({first}, y, {args}): the upstream {'gradient' if what == 'vjp' else 'tangent'}, "
                            "the output, then every argument of the forward") from None

    def _check_arity(self, n: int, what: str) -> None:
        if n == 0:
            raise ValueError(f"primitive '{self.name}': give one {what} per argument of the forward")
        try:
            signature = inspect.signature(self.forward)
        except (TypeError, ValueError):  # a builtin without a signature: nothing to check
            return
        positional = [p for p in signature.parameters.values() if p.kind in (p.POSITIONAL_ONLY,
                                                                              p.POSITIONAL_OR_KEYWORD)]
        required = [p for p in positional if p.default is p.empty]
        variadic = any(p.kind == p.VAR_POSITIONAL for p in signature.parameters.values())
        if n < len(required) or (n > len(positional) and not variadic):
            raise ValueError(f"primitive '{self.name}': its forward takes {len(required)} argument(s) "
                             f"({', '.join(p.name for p in required)}), but {n} {what}(s) were given; give one "
                             f"{what} per argument (None for a non-differentiable one)")

    def _arg_names(self, n: int) -> tuple[str, ...]:
        try:
            parameters = list(inspect.signature(self.forward).parameters.values())
        except (TypeError, ValueError):
            parameters = []
        names = [p.name for p in parameters[:n] if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        return tuple(names) if len(names) == n else tuple(f"x{i + 1}" for i in range(n))

    def _forms(self, given: Any, n: int, what: str, default: Callable[[int], str]) -> tuple[str, ...]:
        if given is None:
            return tuple(default(i) for i in range(n))
        forms = (given,) if isinstance(given, str) else tuple(given)
        if len(forms) != n or not all(isinstance(f, str) for f in forms):
            raise ValueError(f"primitive '{self.name}': {what} must be one string per argument ({n}), got {given!r}")
        return forms

    def _rule(self, n: int, vjps: tuple, jvp: Callable[..., Any] | None) -> Rule:
        args = self._arg_names(n)
        text = self._forms(self._text, n, "text", lambda i: self._default_text(i))
        tex = self._forms(self._tex, n, "tex", lambda i: rf"\text{{{_tex_escape(self._default_text(i))}}}")
        samples = ()
        if self.sample is not None:
            if len(self.sample) != n:
                raise ValueError(f"primitive '{self.name}': sample has {len(self.sample)} argument(s), expected {n}")
            values = tuple(np.asarray(getattr(v, "data", v)) for v in self.sample)
            samples = (Sample(tuple(v.shape for v in values), self.sample_params, values=values),)
        name = _tex_escape(self.name)
        return Rule(
            name=self.name, forward=_checked_forward(self.name, self.forward), kind=GENERAL, arity=n, args=args,
            supports_complex=True, vjps=vjps, jvp=jvp, text=text, tex=tex,
            display=rf"\operatorname{{{name}}}({', '.join(_tex_escape(a) for a in args)})",
            samples=samples, note=f"a user's primitive (cr.primitive), forward {_function_name(self.forward)}",
        )

    def _default_text(self, i: int) -> str:
        vjp = None if self.vjps is None else self.vjps[i]
        if i in self.nondiff_argnums:
            return "not differentiated"
        if vjp is None:
            return "no vjp given"
        return f"given by {_function_name(vjp)}"

    def _register(self) -> None:
        n = len(self.vjps)
        args = self._arg_names(n)
        vjps = tuple(NO_GRAD if i in self.nondiff_argnums
                     else MissingDerivative(self.name, i, args[i], "vjp") if vjp is None
                     else _vjp_entry(self.name, i, args[i], vjp)
                     for i, vjp in enumerate(self.vjps))
        if self.jvps is None:
            jvp = _derived_jvp(self.name, args, self.vjps, self.nondiff_argnums)
        else:
            jvp = _jvp_entry(self.name, args, self.jvps, self.nondiff_argnums)
        self.rule = register(self._rule(n, vjps, jvp), replace=True)


def primitive(forward: Callable[..., Any], name: str | None = None, text: str | Sequence[str] | None = None,
              tex: str | Sequence[str] | None = None, *, nondiff_argnums: Sequence[int] = (),
              sample: Sequence[Any] | None = None, sample_params: Mapping[str, Any] | None = None) -> Primitive:
    """A new primitive from a NumPy function ``forward(*args, **params)`` returning one float array.

    Give its derivative with ``p.defvjp(vjp_0, ...)``: ``vjp_i(g, y, *args, **params)`` -> the gradient of
    ``args[i]`` (shaped like it, or like the output when ``args[i]`` broadcasts; the engine sums it back), written
    with chainrule functions so it can be differentiated again. ``p.defjvp(jvp_0, ...)`` optionally gives forward
    mode, ``jvp_i(t, y, *args, **params)``; without it, forward mode is derived from the vjps.

    ``name`` (default: the forward's ``__name__``) is its name in the rule table: defining a primitive again under
    the same name replaces the entry (graphs recorded earlier keep the old rule); built-in names are refused.
    ``text`` / ``tex`` describe the derivative of each argument (a string, or one per argument), shown by
    ``chainrule rules`` and ``cr.explain``. ``nondiff_argnums`` lists arguments that never get a gradient (an
    integer, a mask). ``sample`` (example arguments) and ``sample_params`` are where ``chainrule rules`` checks the
    vjps against central differences.

    >>> import chainrule as cr, numpy as np
    >>> log1p = cr.primitive(np.log1p, name="my_log1p", text="1/(1 + x)", tex=r"\\frac{1}{1 + x}")
    >>> _ = log1p.defvjp(lambda g, y, x: g / (1 + x))
    >>> cr.grad(log1p)(1.0)
    0.5
    """
    if not callable(forward):
        raise TypeError(f"primitive: forward must be a function of NumPy arrays, not {type(forward).__name__}")
    if name is None:
        name = getattr(forward, "__name__", "")
        if not name.isidentifier():
            raise ValueError(f"primitive: the forward's name {name!r} cannot name a rule; give name='my_op'")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"primitive: name must be an identifier such as 'my_op', got {name!r}")
    if _registered(name) and not is_replaceable(name):
        raise ValueError(f"primitive: '{name}' is the name of a built-in rule of chainrule, which a primitive cannot "
                         "replace; give your primitive another name")
    nondiff = []
    for i in nondiff_argnums:
        if isinstance(i, bool) or not isinstance(i, int | np.integer) or i < 0:
            raise TypeError(f"primitive: nondiff_argnums must be argument positions (ints >= 0), got {i!r}")
        nondiff.append(int(i))
    return Primitive(forward, name, text, tex, nondiff_argnums=nondiff, sample=sample, sample_params=sample_params)


# ---------------------------------------------------------------------------------------------------------------
# Adapting the user's functions to the rule table's signatures.
# ---------------------------------------------------------------------------------------------------------------
def _checked_forward(name: str, forward: Callable[..., Any]) -> Callable[..., Any]:
    """The forward, checked to return one float array (a Tensor computed from arrays is taken as its value)."""

    def checked(*args: Any, **params: Any) -> Any:
        out = forward(*args, **params)
        if isinstance(out, Tensor):
            out = out.data
        if not isinstance(out, np.ndarray | np.generic | float | int) or isinstance(out, bool):
            raise TypeError(f"primitive '{name}': the forward returned {type(out).__name__}; a primitive returns one "
                            "float array (for several outputs, define one primitive per output)")
        array = np.asarray(out)
        if array.dtype.kind not in "fc":
            raise TypeError(f"primitive '{name}': the forward returned an array of dtype {array.dtype}; a "
                            "primitive's output must have a float or complex dtype (e.g. return np.asarray(out, "
                            "dtype=float))")
        return array

    checked.__name__ = checked.__qualname__ = name
    return checked


def _shape(value: Any) -> tuple[int, ...]:
    shape = getattr(value, "shape", None)
    return tuple(shape) if shape is not None else np.shape(value)


def _gradient_shape_ok(shape: tuple[int, ...], x: Any, y: Any) -> bool:
    """A vjp returns its argument's shape, or the output's when the argument broadcasts to it (the engine sums)."""
    if shape == _shape(x):
        return True
    try:
        return shape == _shape(y) and np.broadcast_shapes(_shape(x), shape) == shape
    except ValueError:
        return False


def _as_result(value: Any, like: Any, differentiable: bool, m: Any, what: str = "the function") -> Any:
    """The user's result as the engine needs it: an array (numbers) or a Tensor (recorded), in like's float dtype."""
    dtype = getattr(like, "dtype", None)
    if not isinstance(value, Tensor):
        found = np.asarray(value)
        if found.dtype.kind not in "biufc":  # None, strings, dates: NumPy would make nan or day counts, silently
            got = f"an array of dtype {found.dtype}" if isinstance(value, np.ndarray) else type(value).__name__
            raise TypeError(f"{what} returned {got}; return numbers (an array or a Tensor)")
    if differentiable:
        if not isinstance(value, Tensor):
            value = Tensor._make(np.asarray(value), None, False)  # independent of every input: a constant
        if dtype is not None and dtype.kind in "fc" and value.dtype != dtype:
            if dtype.kind == "f" and value.dtype.kind == "c":
                value = m.real(value)  # a real input receives the real part (the engine's convention)
            value = m.astype(value, dtype)
        return value
    if isinstance(value, Tensor):
        value = value.data
    value = np.asarray(value)
    if dtype is not None and dtype.kind in "fc" and value.dtype != dtype:
        value = (value.real if dtype.kind == "f" else value).astype(dtype)
    return value


def _call(function: Callable[..., Any], what: str, first: Any, y: Any, xs: Sequence[Any], params: dict,
          differentiable: bool) -> Any:
    try:
        return function(first, y, *xs, **params)
    except TypeError as exc:
        if not differentiable or isinstance(exc, NoDerivativeError):
            raise
        raise TypeError(f"{what} failed on Tensors (the derivative is being differentiated or pushed forward): "
                        f"{exc}. Write it with chainrule functions (cr.cos, cr.exp, +, *, ...), not NumPy ones; "
                        "they accept arrays and Tensors alike") from exc


def _vjp_entry(name: str, i: int, arg: str, user_vjp: Callable[..., Any]) -> Callable[..., Any]:
    """The rule table's ``vjp(g, *xs, y, m, **params)`` from the user's ``vjp_i(g, y, *xs, **params)``."""
    what = f"the vjp for argument {i} ('{arg}') of primitive '{name}'"

    def vjp(g: Any, *values: Any, **params: Any) -> Any:
        *xs, y, m = values
        differentiable = m is not numpy_math
        out = _call(user_vjp, what, g, y, xs, params, differentiable)
        if out is None:
            raise TypeError(f"{what} returned None; return the gradient, an array of shape {_shape(xs[i])} "
                            "(zeros if it is zero)")
        out = _as_result(out, xs[i], differentiable, m, what)
        expected, shape = _shape(xs[i]), _shape(out)
        if not _gradient_shape_ok(shape, xs[i], y):
            raise ShapeError(f"{what} returned shape {shape}; expected the argument's shape {expected} (or "
                             f"the output's shape {_shape(y)} when the argument broadcasts)")
        return out

    vjp.__name__ = vjp.__qualname__ = f"{name}_vjp_{i}"
    return vjp


def _is_zero(t: Any) -> bool:
    """Whether a tangent is exactly zero and constant, so its (linear) jvp term is zero and can be skipped."""
    if isinstance(t, Tensor):
        return not t.requires_grad and not np.any(t.data)
    return not np.any(t)


def _jvp_entry(name: str, args: tuple[str, ...], user_jvps: tuple, nondiff: tuple[int, ...]) -> Callable[..., Any]:
    """The rule table's ``jvp(ts, *xs, y, m, **params)``: the user's ``jvp_i(t_i, y, *xs)`` summed over inputs."""

    def jvp(ts: Sequence[Any], *values: Any, **params: Any) -> Any:
        *xs, y, m = values
        differentiable = m is not numpy_math
        out = None
        for i, t in enumerate(ts):
            if i in nondiff or _is_zero(t):
                continue
            if user_jvps[i] is None:
                MissingDerivative(name, i, args[i], "jvp")()
            what = f"the jvp for argument {i} ('{args[i]}') of primitive '{name}'"
            term = _as_result(_call(user_jvps[i], what, t, y, xs, params, differentiable), y, differentiable, m,
                              what)
            if _shape(term) != _shape(y):
                raise ShapeError(f"{what} returned shape {_shape(term)}; expected the output's shape {_shape(y)}")
            out = term if out is None else out + term
        if out is None:
            return m.zeros_like(y)
        return out

    jvp.__name__ = jvp.__qualname__ = f"{name}_jvp"
    return jvp


def _derived_jvp(name: str, args: tuple[str, ...], user_vjps: tuple, nondiff: tuple[int, ...]) -> Callable[..., Any]:
    """Forward mode from the vjps: ``Σ_i J_i t_i = ∂/∂g Σ_i ⟨vjp_i(g), t_i⟩``, exact because a vjp is linear in g.

    The vjps run once on a zero ``g`` that records a graph (so they must be written with chainrule functions), and
    one backward pass gives the gradient with respect to g. When the tangents or inputs are Tensors (forward mode
    inside another transform), that pass records its own graph, and it stops at the inputs' nodes.
    """
    def jvp(ts: Sequence[Any], *values: Any, **params: Any) -> Any:
        *xs, y, m = values
        differentiable = m is not numpy_math
        terms = [(i, t) for i, t in enumerate(ts) if i not in nondiff and not _is_zero(t)]
        if not terms:
            return m.zeros_like(y)
        y_value = y.data if isinstance(y, Tensor) else np.asarray(y)
        with set_grad_enabled(True):
            g = Tensor._make(np.zeros(y_value.shape, y_value.dtype), None, True)
            s = None
            for i, t in terms:
                if user_vjps[i] is None:
                    MissingDerivative(name, i, args[i], "vjp")()
                what = (f"the vjp for argument {i} ('{args[i]}') of primitive '{name}' (forward mode is derived "
                        f"from it; or give {name}.defjvp(...))")
                v = _call(user_vjps[i], what, g, y, xs, params, True)
                if not (isinstance(v, Tensor) and v.requires_grad):
                    if not np.any(getattr(v, "data", v)):
                        continue  # a zero gradient: this input does not move the output
                    raise TypeError(f"{what} does not depend on g through chainrule functions, so forward mode "
                                    f"cannot be derived from it; write it with chainrule functions or give "
                                    f"{name}.defjvp(...)")
                if not _gradient_shape_ok(_shape(v), xs[i], y):
                    raise ShapeError(f"{what} returned shape {_shape(v)}; expected the argument's shape "
                                     f"{_shape(xs[i])}")
                term = total(multiply(v, t))
                s = term if s is None else s + term
            if s is None:
                return m.zeros_like(y)
            stops = [v.node for v in (*xs, y, *ts) if isinstance(v, Tensor) and v.node is not None]
            seed = np.ones((), s.dtype)
            recorded = {"m": Tensor._math, "wrap": Tensor._from_node} if differentiable else {}
            (tangent, *_) = backward([s], [Tensor._make(seed, None, False) if differentiable else seed],
                                     targets=[g, *stops], retain_graph=True, accumulate=False, **recorded)
        if tangent is None:
            return m.zeros_like(y)
        return _as_result(tangent, y_value, differentiable, m)

    jvp.__name__ = jvp.__qualname__ = f"{name}_jvp_from_vjps"
    return jvp


def _registered(name: str) -> bool:
    try:
        lookup(name)
    except KeyError:
        return False
    return True


def _function_name(function: Any) -> str:
    return getattr(function, "__name__", type(function).__name__)


def _tex_escape(text: str) -> str:
    return re.sub(r"([_#%&$])", r"\\\1", text)
