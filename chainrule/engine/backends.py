"""Array libraries other than NumPy, through the Array API standard (array-api-compat): CuPy, PyTorch tensors,
array-api-strict.

NumPy stays the fast path and never comes here: ``chainrule.ops`` checks the type of each operand's data once and
sends anything that is not a NumPy array or scalar to ``backend(data)``. A ``Backend`` gives, for one namespace
``xp``, each rule's forward by the rule's name (``forward(rule)``) and the math namespace ``m`` that the rules'
derivatives compute in (``ArrayAPIMath``: the names of ``chainrule.rules.numpy_math``, written with ``xp``).

Values stay in their library and on their device. NumPy operands and constants are moved *into* the foreign library
(on the other operand's device), never the reverse; a rule with no Array API forward raises NotImplementedError
naming the rule and the library rather than computing on the host. array-api-compat is imported only when a foreign
array is first seen (``pip install chainrule[backends]``).
"""

from __future__ import annotations

import functools
import math
import numbers
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import DomainError
from ..rules import numpy_math
from . import array_index

# Libraries whose arrays are recognised without array-api-compat's help (PyTorch's tensors have no
# __array_namespace__ method); any array that has that method is recognised too.
_LIBRARIES = ("torch", "cupy", "jax", "jaxlib", "dask", "array_api_strict", "sparse", "ndonnx", "mlx")
NUMPY_SCALARS = frozenset(t for t in np.sctypeDict.values() if issubclass(t, np.generic))
NUMPY_TYPES = NUMPY_SCALARS | {np.ndarray}  # what ops' fast paths take without a detour


_FOREIGN: dict[type, bool] = {}  # is_foreign's answer per type (it depends on the type only)


def is_foreign(x: Any) -> bool:
    """Whether ``x`` is an array of another Array API library (not NumPy, not a number, list or Tensor)."""
    kind = type(x)
    found = _FOREIGN.get(kind)
    if found is None:
        if kind is np.ndarray or kind in NUMPY_SCALARS or isinstance(x, np.ndarray | np.generic | numbers.Number):
            found = False
        else:
            found = hasattr(x, "__array_namespace__") or kind.__module__.partition(".")[0] in _LIBRARIES
        if len(_FOREIGN) < 1024:  # bounded: classes made on the fly must not grow it forever
            _FOREIGN[kind] = found
    return found


def _compat():
    try:
        import array_api_compat
    except ImportError:
        raise ImportError("arrays of libraries other than NumPy need array-api-compat: "
                          "pip install chainrule[backends]") from None
    return array_api_compat


_BACKENDS: dict[int, Backend] = {}
_BY_TYPE: dict[type, Backend] = {}  # the namespace depends on the array's type only: look it up once per type


def backend(x: Any) -> Backend:
    """The Backend of foreign array ``x``'s library (one per namespace, made on first use)."""
    found = _BY_TYPE.get(type(x))
    if found is not None:
        return found
    xp = _compat().array_namespace(x)
    found = _BACKENDS.get(id(xp))
    if found is None:
        found = _BACKENDS[id(xp)] = Backend(xp)
    _BY_TYPE[type(x)] = found
    return found


def library_name(xp: Any) -> str:
    """'torch' for array_api_compat.torch, 'array_api_strict', 'cupy'..."""
    name = getattr(xp, "__name__", type(xp).__name__)
    return name.removeprefix("array_api_compat.")


def device(x: Any) -> Any:
    return _compat().device(x)


def numpy_dtype(dtype: Any) -> np.dtype:
    """The NumPy dtype of the same name as a foreign dtype (torch.float64 -> float64): what ``Tensor.dtype`` shows,
    so that code checking ``dtype.kind`` works for every library."""
    if isinstance(dtype, np.dtype):
        return dtype
    name = str(dtype).rpartition(".")[2]
    return np.dtype("bool" if name == "bool" else name)


# ---------------------------------------------------------------------------------------------------------------
# Moving values between libraries and devices: only ever on request (Tensor.to, Module.to).
# ---------------------------------------------------------------------------------------------------------------
def to_numpy(x: Any) -> np.ndarray:
    """A host NumPy copy of foreign array ``x``: an explicit transfer (``t.to(numpy)``)."""
    name = type(x).__module__.partition(".")[0]
    if name == "torch":
        return x.detach().cpu().resolve_conj().resolve_neg().numpy().copy()  # (torch.conj is a lazy view)
    if name == "cupy":
        return x.get()
    if name == "array_api_strict":
        import array_api_strict

        return np.array(array_api_strict.asarray(x, device=array_api_strict.Device("CPU_DEVICE")), copy=True)
    return np.from_dlpack(_compat().to_device(x, "cpu")).copy()


def move(x: Any, target: Any) -> Any:
    """``x`` (a NumPy or foreign array) in ``target``: NumPy (the module), another library's namespace (a module
    such as ``torch``, ``cupy``, ``array_api_strict``), or a device of a library (``torch.device('cuda')``,
    ``array_api_strict.Device('device1')``). Always a copy or an explicit transfer."""
    import types

    if target is np:
        return to_numpy(x) if is_foreign(x) else np.array(x, copy=True)
    if isinstance(target, types.ModuleType):
        if not hasattr(target, "asarray"):
            raise TypeError(f"to(): the module {target.__name__} is not an array library (it has no asarray); "
                            "expected numpy, torch, cupy, array_api_strict or another Array API namespace")
        host = to_numpy(x) if is_foreign(x) else x
        return target.asarray(np.array(host, copy=True))
    library = type(target).__module__.partition(".")[0]
    if library not in _LIBRARIES:
        raise TypeError(f"to() expects an array library (numpy, torch, cupy, array_api_strict...) or a device of one "
                        f"(torch.device('cuda'), array_api_strict.Device('device1')), not {target!r}")
    if is_foreign(x) and type(x).__module__.partition(".")[0] == library:
        return _compat().to_device(x, target)
    import importlib

    module = importlib.import_module(library)
    host = to_numpy(x) if is_foreign(x) else np.array(x, copy=True)
    return module.asarray(host, device=target)


# ---------------------------------------------------------------------------------------------------------------
# One library's forwards and math namespace.
# ---------------------------------------------------------------------------------------------------------------
# Rules whose forward is one Array API function of the same arguments: rule name -> the standard's name.
_UNARY = {
    "exp": "exp", "log": "log", "log2": "log2", "log10": "log10", "log1p": "log1p", "expm1": "expm1",
    "sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin", "arccos": "acos", "arctan": "atan",
    "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh",
    "abs": "abs", "sign": "sign", "negative": "negative", "square": "square", "floor": "floor", "ceil": "ceil",
    "trunc": "trunc", "rint": "round", "real": "real", "conj": "conj",
}
_BINARY = {
    "add": "add", "subtract": "subtract", "multiply": "multiply", "divide": "divide", "power": "pow",
    "maximum": "maximum", "minimum": "minimum", "arctan2": "atan2", "hypot": "hypot", "logaddexp": "logaddexp",
    "less": "less", "less_equal": "less_equal", "greater": "greater", "greater_equal": "greater_equal",
    "equal": "equal", "not_equal": "not_equal",
}
# Rules whose forward needs a function of an optional extension of the standard: rule -> (extension, function).
_EXTENSIONS = {
    "solve": ("linalg", "solve"), "inv": ("linalg", "inv"), "det": ("linalg", "det"),
    "logabsdet": ("linalg", "slogdet"), "logdet": ("linalg", "slogdet"), "cholesky": ("linalg", "cholesky"),
    "eigh": ("linalg", "eigh"), "eigvalsh": ("linalg", "eigvalsh"), "svd": ("linalg", "svd"),
    "svdvals": ("linalg", "svdvals"), "qr": ("linalg", "qr"), "pinv": ("linalg", "pinv"),
    "cho_factor": ("linalg", "cholesky"), "solve_triangular": ("linalg", "solve"),
    "fftn": ("fft", "fftn"), "ifftn": ("fft", "ifftn"), "rfftn": ("fft", "rfftn"), "irfftn": ("fft", "irfftn"),
}
# Python's operators on arrays call the same functions and also take Python numbers (the weak scalars that keep a
# float32 array float32), so the arithmetic rules use them.
_OPERATORS = {"add": operator.add, "subtract": operator.sub, "multiply": operator.mul, "divide": operator.truediv,
              "power": operator.pow, "negative": operator.neg}

# Special functions (scipy.special's rules) that a library has itself: rule -> (module, function), called with
# SciPy's arguments in SciPy's order (a parameter such as polygamma's n or gammainc's a first). Each one listed was
# compared with SciPy first; left out for PyTorch 2.13 (CPU, float64): logit (log(x/(1-x)): 1e-8 relative near x =
# 1/2), ndtr (0 below x = -30), bessel_j0, j1, y0, y1 (errors of 4e-7), polygamma(1, x) (5e-10 relative),
# gammainc, gammaincc (1.4e-9 relative at a = 24.5, x = 19.4; the portable ones in engine/portable/incomplete.py are
# within 2e-16 there), digamma (3e-2 relative next to its root 1.4616...; the portable one in engine/portable/gamma.py
# keeps 4e-16) and zeta (polygamma's portable Hurwitz zeta is within 4e-16 of mpmath, torch's 9e-16). Rules not
# listed use the portable forms (Backend._forward_*, engine/portable/) where one is accurate, else they raise.
_OWN_SPECIAL = {
    "torch": {name: ("torch.special", name) for name in (
        "erfc", "erfinv", "ndtri", "log_ndtr", "gammaln", "i0", "i1")},
    # CuPy (not run here: no GPU): the functions of cupyx.scipy.special that its reference lists, SciPy's signatures.
    "cupy": {name: ("cupyx.scipy.special", name) for name in (
        "erfc", "erfinv", "erfcinv", "ndtr", "gammaln", "digamma", "polygamma", "i0", "i1", "zeta")},
}
# scipy.special's rules that take complex input on NumPy but whose forwards here are real only: complex input is
# refused by name, never cast to real (PyTorch's astype drops the imaginary part: erf(0.5+0.5j) gave erf(0.5)).
_REAL_ONLY_HERE = ("erf", "erfc", "ndtr", "log_ndtr", "gamma", "rgamma")
# Portable forwards built on a library's own special function: rule -> the function it needs (none now: polygamma
# has its own Hurwitz zeta in engine/portable/gamma.py).
_BUILT_ON: dict[str, str] = {}


class Backend:
    """One Array API library: each rule's forward (``forward(rule)``) and the derivatives' math namespace ``m``."""

    def __init__(self, xp: Any) -> None:
        self.xp = xp
        self.name = library_name(xp)
        self.m = ArrayAPIMath(self)
        self._forwards: dict[str, Callable] = {}

    def __repr__(self) -> str:
        return f"Backend({self.name})"

    # Operands --------------------------------------------------------------------------------------------------
    def operands(self, values: list) -> list:
        """``values`` with NumPy arrays and NumPy scalars moved into this library, on the device of the first
        foreign value (Python numbers stay numbers: they are weak scalars to the operators)."""
        like = next(v for v in values if is_foreign(v))
        return [v if is_foreign(v) or not isinstance(v, np.ndarray | np.generic) else self.asarray(v, like)
                for v in values]

    def asarray(self, value: Any, like: Any, dtype: Any = None) -> Any:
        """``value`` (a number or a NumPy array) as an array of this library on ``like``'s device. A Python number
        next to a floating-point array takes its dtype (a weak scalar, as NumPy's), so float32 stays float32."""
        if dtype is None and type(value) in (int, float) and self.xp.isdtype(like.dtype, ("real floating",
                                                                                         "complex floating")):
            dtype = like.dtype  # (w ** 3 for complex eigenvalues w: complex128 ** int64 has no promotion)
        if isinstance(value, np.ndarray):
            if value.dtype == np.intp and value.dtype != np.int64:
                value = value.astype(np.int64)  # intp is int64 on 64-bit machines; the Array API has no intp
            elif not value.flags.writeable:  # (a cached mask, a parameter): PyTorch warns on read-only memory
                value = value.copy()
        return self.xp.asarray(value, dtype=dtype, device=device(like))

    def _scalar_to_array(self, a: Any, b: Any) -> tuple[Any, Any]:
        """Two operands of a standard function, a Python number among them turned into an array like the other."""
        if not is_foreign(a):
            a = self.asarray(a, b)
        elif not is_foreign(b):
            b = self.asarray(b, a)
        return a, b

    def params(self, params: dict, like: Any) -> dict:
        """A rule's parameters for this library: NumPy arrays among them (clip's bounds, cross_entropy's labels,
        index arrays) moved in once, on like's device, so that forward and backward both use that copy."""
        if not any(isinstance(v, np.ndarray) for v in params.values()):
            return params
        return {k: self.asarray(v, like) if isinstance(v, np.ndarray) else v for k, v in params.items()}

    def saved_inputs(self, rule: Any, values: list, out: Any) -> list:
        """What a node of ``rule`` keeps: ``where``'s condition as a mask in the output's dtype, so that its local
        derivatives (the condition and its negation) multiply the upstream gradient (the Array API refuses bool ×
        float)."""
        if rule.name == "where" and self.m.is_floating(out):
            values = list(values)
            values[0] = self.xp.astype(values[0], out.dtype)
        return values

    # Forwards --------------------------------------------------------------------------------------------------
    def forward(self, rule: Any) -> Callable:
        """The rule's forward in this library; NotImplementedError when it has none (never a host copy)."""
        found = self._forwards.get(rule.name)
        if found is None:
            found = self._make_forward(rule.name)
            if rule.name in _REAL_ONLY_HERE:
                found = self._real_only(rule.name, found)
            self._forwards[rule.name] = found
        return found

    def _real_only(self, name: str, forward: Callable) -> Callable:
        def checked(*xs, **params):
            if any(is_foreign(x) and self.xp.isdtype(x.dtype, "complex floating") for x in xs):
                raise NotImplementedError(f"'{name}' on {self.name} arrays takes real x; complex x needs NumPy "
                                          "(move it explicitly with t.to(numpy))")
            return forward(*xs, **params)

        return checked

    def _make_forward(self, name: str) -> Callable:
        xp = self.xp
        if name in _OPERATORS and name != "power":
            return _OPERATORS[name]
        if name in _UNARY:
            return getattr(xp, _UNARY[name])
        if name in _BINARY:
            function = getattr(xp, _BINARY[name])
            return lambda a, b: function(*self._scalar_to_array(a, b))
        if name in _OWN_SPECIAL.get(self.name, ()):
            return self._own_special(name)
        if name in _BUILT_ON and _BUILT_ON[name] not in _OWN_SPECIAL.get(self.name, ()):
            raise NotImplementedError(
                f"'{name}' has no forward for {self.name} arrays: it needs {_BUILT_ON[name]}, which {self.name} does "
                f"not have (chainrule never copies to the host silently); move the tensor explicitly with t.to(numpy)")
        composed = getattr(self, "_forward_" + name, None)
        if composed is None:
            from .portable import load

            found = load().get(name)
            if found is not None:
                return functools.partial(found, self)
        extension = _EXTENSIONS.get(name)
        if composed is not None and extension is not None and not hasattr(getattr(xp, extension[0], None),
                                                                            extension[1]):
            raise NotImplementedError(
                f"'{name}' needs {extension[0]}.{extension[1]} of the Array API's {extension[0]} extension, which "
                f"{self.name} does not have; move the tensor explicitly with t.to(numpy), or to a library that has it")
        if composed is None:
            raise NotImplementedError(
                f"'{name}' has no forward for {self.name} arrays yet (only for NumPy); chainrule never copies to the "
                f"host silently: move the tensor explicitly with t.to(numpy), or apply another op")
        return composed

    def _forward_logical_not(self, x):
        return self.xp.logical_not(x) if self.xp.isdtype(x.dtype, "bool") else x == 0  # NumPy's, for numbers

    def _forward_reciprocal(self, x):
        return 1 / x

    def _forward_exp2(self, x):
        return self.xp.pow(self.asarray(2.0, x), x)

    def _forward_csc(self, x):
        return 1 / self.xp.sin(x)

    def _forward_sec(self, x):
        return 1 / self.xp.cos(x)

    def _forward_cot(self, x):
        return self.xp.cos(x) / self.xp.sin(x)

    def _forward_cbrt(self, x):
        return self.xp.sign(x) * self.xp.abs(x) ** (1 / 3)

    def _forward_logb(self, x, base):
        return self.xp.log(x) / self.m.log(base)

    def _forward_logaddexp2(self, a, b):
        a, b = self._scalar_to_array(a, b)
        xp = self.xp  # the standard has no exp2: 2**-d = e**(-d ln 2)
        return xp.maximum(a, b) + xp.log1p(xp.exp(-xp.abs(a - b) * math.log(2))) / math.log(2)

    def _forward_imag(self, x):
        return self.m.imag(x)

    def _forward_sigmoid(self, x):
        if self.xp.isdtype(x.dtype, "bool"):
            raise TypeError(f"'sigmoid' is not defined for a tensor of dtype {numpy_dtype(x.dtype)}")  # (NumPy's)
        return self.m.sigmoid(self._floats(x)[0])  # integers in float64, as NumPy's

    def _forward_softplus(self, x):
        return self.xp.logaddexp(self.asarray(0.0, x), x)

    def _forward_relu(self, x):
        return self.xp.maximum(x, self.asarray(0.0, x))

    def _forward_leaky_relu(self, x, slope=0.01):
        return self.xp.where(x > 0, x, x * slope)

    def _forward_clip(self, x, lo=None, hi=None):
        if lo is None and hi is None:
            return self.xp.asarray(x, copy=True)
        out = x if lo is None else self.m.maximum(x, self._constant(lo, x))
        return out if hi is None else self.m.minimum(out, self._constant(hi, x))

    def _constant(self, value, like):
        return value if is_foreign(value) else self.asarray(value, like, None if np.ndim(value) else like.dtype)

    def _forward_where(self, condition, a, b):
        like = next(v for v in (a, b, condition) if is_foreign(v))
        condition, a, b = (v if is_foreign(v) else self.asarray(v, like) for v in (condition, a, b))
        return self.xp.where(condition, a, b)

    def _forward_erf(self, x):
        return self.m.erf(x)

    def _forward_gelu(self, x):
        return x * (0.5 + 0.5 * self.m.erf(x * math.sqrt(0.5)))

    def _forward_gelu_tanh(self, x):
        # The operations of rules.nn._gelu_tanh on arrays, in its order (so the same rounding).
        u = x * x * 0.044715 + 1
        u = self.xp.tanh(u * x * math.sqrt(2 / math.pi)) + 1
        return u * x * 0.5

    # Special functions: the library's own (_OWN_SPECIAL), else portable forms accurate to a few ulps in float64.
    def _own_special(self, name: str) -> Callable:
        import importlib

        module, function_name = _OWN_SPECIAL[self.name][name]
        function = getattr(importlib.import_module(module), function_name)

        def forward(*xs, **params):
            xs = self._floats(*xs)
            like = next(x for x in xs if is_foreign(x))
            # Integer orders (polygamma's n) stay Python ints; other parameters become arrays like x (PyTorch's
            # gammainc takes no Python number).
            args = [p if isinstance(p, int) or is_foreign(p) else self.asarray(p, like, like.dtype)
                    for p in params.values()]
            out = function(*args, *xs)
            return out if out.dtype == like.dtype else self.xp.astype(out, like.dtype)

        forward.__name__ = name
        return forward

    def _floats(self, *xs) -> list:
        """``xs`` as arrays of this library, integer ones in float64 (SciPy's result for integer input)."""
        xs = self.operands(list(xs))
        like = next(x for x in xs if is_foreign(x))
        xs = [x if is_foreign(x) else self.asarray(x, like) for x in xs]
        return [x if self.xp.isdtype(x.dtype, ("real floating", "complex floating")) else
                self.xp.astype(x, self.xp.float64) for x in xs]

    def _special(self, name: str) -> Callable:
        """The library's own special function ``name`` (listed in _OWN_SPECIAL), or the portable forward."""
        if name in _OWN_SPECIAL.get(self.name, ()):
            return self._own_special(name)
        return getattr(self, "_forward_" + name)

    def _forward_erfc(self, x):
        return self.m.erfc(x)

    def _forward_ndtr(self, x):
        # Φ(x) = erfc(−x/√2)/2 for every x: accurate relatively in both tails (PyTorch's own ndtr is 0 below −30).
        (x,) = self._floats(x)  # (integers and bools in float64, as SciPy's; −x of uint8 would wrap around)
        return 0.5 * self._special("erfc")(-x * math.sqrt(0.5))

    def _forward_log_ndtr(self, x):
        """log Φ(x): in the left tail −x²/2 + log(e^(u²) erfc u) − log 2 with u = −x/√2 (no underflow); in the right
        tail log1p(−erfc(x/√2)/2) (Φ near 1)."""
        xp = self.xp
        (x,) = self._floats(x)
        v = xp.astype(x, xp.float64)
        half_erfc = 0.5 * self.m.erfc(xp.abs(v) * math.sqrt(0.5))  # Φ(−|x|)
        left = -0.5 * (v * v) + xp.log(self.m.erfc_scaled(-v * math.sqrt(0.5))) - math.log(2)
        out = xp.where(v > 0, xp.log1p(-half_erfc), xp.log(half_erfc))
        return xp.astype(xp.where(v < -math.sqrt(2), left, out), x.dtype)

    def _forward_xlogy(self, a, b):
        return self._x_log(a, b, self.xp.log)

    def _forward_xlog1py(self, a, b):
        return self._x_log(a, b, self.xp.log1p)

    def _x_log(self, a, b, log):
        """a·log(b), 0 where a = 0 (unless b is nan), as SciPy's xlogy and xlog1py."""
        xp = self.xp
        a, b = self._floats(a, b)
        zero = (a == 0) & ~xp.isnan(b)
        return xp.where(zero, self.asarray(0.0, a), a * log(xp.where(zero, self.asarray(1.0, b), b)))

    def _forward_logit(self, x):
        # log(x/(1−x)) loses its relative accuracy near 1/2 (where it is near 0); there log1p(s) − log1p(−s) with
        # s = 2x − 1, which is exact in floating point for x in [1/4, 1].
        xp = self.xp
        (x,) = self._floats(x)
        s = 2 * x - 1
        middle = xp.log1p(s) - xp.log1p(-s)
        return xp.where((x > 0.3) & (x < 0.65), middle, xp.log(x / (1 - x)))

    def _forward_entr(self, x):
        xp = self.xp  # −x log x for x > 0, 0 at 0, −inf below, nan for nan (SciPy's)
        (x,) = self._floats(x)
        positive = x > 0
        out = xp.where(positive, -x * xp.log(xp.where(positive, x, self.asarray(1.0, x))), self.asarray(-math.inf, x))
        return xp.where((x == 0) | xp.isnan(x), x * 0, out)

    def _forward_gammasgn(self, x):
        xp = self.xp  # sign of Γ: 1 for x > 0, ±1 at ±0, nan at the poles, else (−1)^floor(x)
        (x,) = self._floats(x)
        floor = xp.floor(x)
        sign = xp.where(xp.remainder(floor, 2) == 0, self.asarray(1.0, x), self.asarray(-1.0, x))
        sign = xp.where((floor == x) | xp.isnan(x), self.asarray(math.nan, x), sign)
        return xp.where(x == 0, xp.copysign(self.asarray(1.0, x), x), xp.where(x > 0, self.asarray(1.0, x), sign))

    def _forward_normalize(self, x, axis, eps):
        centered = x - self.xp.mean(x, axis=axis, keepdims=True)
        variance = self.xp.mean(centered * centered, axis=axis, keepdims=True)
        return centered * (1 / self.xp.sqrt(variance + eps))

    def _forward_move(self, x, to, back):
        return to(x)

    def _forward_identity(self, x):
        return x

    def _forward_reshape(self, x, shape):
        return self.xp.reshape(x, tuple(shape))

    def _forward_transpose(self, x, axes):
        return self.xp.permute_dims(x, tuple(axes))

    def _forward_broadcast_to(self, x, shape):
        return self.xp.broadcast_to(x, tuple(shape))

    def _forward_astype(self, x, dtype):
        return self.m.astype(x, dtype)

    def _forward_getitem(self, x, index):
        return array_index.take(self, x, array_index.plan(self, index, tuple(x.shape), x))

    def _forward_sum(self, x, axis=None, keepdims=False):
        return self.m.sum(x, axis=axis, keepdims=keepdims)

    def _forward_mean(self, x, axis=None, keepdims=False):
        return self.m.mean(x, axis=axis, keepdims=keepdims)

    def _forward_max(self, x, axis=None, keepdims=False):
        return self.xp.max(x, axis=axis, keepdims=keepdims)

    def _forward_min(self, x, axis=None, keepdims=False):
        return self.xp.min(x, axis=axis, keepdims=keepdims)

    def _forward_scatter(self, g, index, shape):
        """getitem's derivative on Tensors (create_graph, hessian), or a scatter-add asked for directly."""
        return array_index.put(self, g, array_index.plan(self, index, tuple(shape), g))

    def _forward_concatenate(self, *xs, axis):
        return self.xp.concat(self.operands(list(xs)), axis=axis)

    def _forward_stack(self, *xs, axis):
        return self.xp.stack(self.operands(list(xs)), axis=axis)

    def _forward_matmul(self, a, b):
        return self.xp.matmul(*self.operands([a, b]))

    def _forward_linear(self, x, weight, bias):
        x, weight, bias = self.operands([x, weight, bias])
        return self.xp.matmul(x, self.m.swapaxes(weight, -1, -2)) + bias

    def _forward_softmax(self, x, axis):
        return self.m.softmax(x, axis=axis)

    def _shifted(self, x, axis):
        peak = self.xp.max(x, axis=axis, keepdims=True)
        return x - self.xp.where(self.xp.isfinite(peak), peak, self.asarray(0.0, peak))

    def _forward_log_softmax(self, x, axis):
        z = self._shifted(x, axis)
        return z - self.xp.log(self.xp.sum(self.xp.exp(z), axis=axis, keepdims=True))

    def _forward_logsumexp(self, x, axis=None, keepdims=False):
        xp = self.xp
        peak = xp.max(x, axis=axis, keepdims=True)
        peak = xp.where(xp.isfinite(peak), peak, self.asarray(0.0, peak))
        out = xp.log(xp.sum(xp.exp(x - peak), axis=axis, keepdims=True)) + peak
        if keepdims:
            return out
        return xp.reshape(out, ()) if axis is None else xp.squeeze(out, axis=axis)

    def _forward_var(self, x, axis=None, keepdims=False, ddof=0):
        return self.xp.var(x, axis=axis, keepdims=keepdims, correction=ddof)

    def _forward_std(self, x, axis=None, keepdims=False, ddof=0):
        return self.xp.std(x, axis=axis, keepdims=keepdims, correction=ddof)

    def _forward_cumsum(self, x, axis):
        return self.xp.cumulative_sum(x, axis=axis)

    def _forward_prod(self, x, axis=None, keepdims=False):
        return self.xp.prod(x, axis=axis, keepdims=keepdims)

    def _forward_sinc(self, x):
        return self.m.sinc(x)

    def _forward_angle(self, x):
        xp = self.xp  # NumPy's angle: atan2(imaginary part, real part), the imaginary part of a real x being 0
        if xp.isdtype(x.dtype, "complex floating"):
            return xp.atan2(xp.imag(x), xp.real(x))
        return xp.atan2(xp.zeros_like(x), x)

    def _forward_step(self, x):
        return self.m.step(x)

    # Image patches (convolutions, pooling; 1 to 3 spatial axes): one strided slice per kernel offset, with the
    # standard's functions.
    def _forward_unfold(self, x, kernel_size, stride=(1, 1), padding=(0, 0)):
        xp = self.xp
        n, c = x.shape[:2]
        counts = numpy_math.count_windows(x.shape[2:], kernel_size, stride, padding)
        x = self._pad(x, padding)
        windows = [x[(slice(None), slice(None)) + tuple(slice(i, i + (o - 1) * s + 1, s)
                                                        for i, o, s in zip(offset, counts, stride, strict=True))]
                   for offset in np.ndindex(*kernel_size)]
        # rows (c, *offset), as NumPy's
        return xp.reshape(xp.stack(windows, axis=2), (n, c * math.prod(kernel_size), math.prod(counts)))

    def _forward_fold(self, x, output_size, kernel_size, stride=(1, 1), padding=(0, 0)):
        n = x.shape[0]
        c = x.shape[1] // math.prod(kernel_size)
        counts = numpy_math.count_windows(output_size, kernel_size, stride, padding)
        patches = self.xp.reshape(x, (n, c, math.prod(kernel_size)) + counts)
        padded = tuple(m + 2 * p for m, p in zip(output_size, padding, strict=True))
        image = self.xp.zeros((n, c) + padded, dtype=x.dtype, device=device(x))
        for k, offset in enumerate(np.ndindex(*kernel_size)):  # in NumPy's order, so the same sums
            window = (slice(None), slice(None)) + tuple(slice(i, i + (o - 1) * s + 1, s)
                                                        for i, o, s in zip(offset, counts, stride, strict=True))
            image[window] = image[window] + patches[:, :, k, ...]
        return image[(slice(None), slice(None)) + tuple(slice(p, p + m)
                                                        for m, p in zip(output_size, padding, strict=True))]

    def _pad(self, x, padding):
        """x with ``padding`` zeros on both sides of its last len(padding) axes."""
        for axis, p in zip(range(-len(padding), 0), padding, strict=True):
            if p:
                shape = list(x.shape)
                shape[axis] = p
                zeros = self.xp.zeros(tuple(shape), dtype=x.dtype, device=device(x))
                x = self.xp.concat([zeros, x, zeros], axis=axis)
        return x

    def _forward_convolve(self, a, b, mode="full"):
        """scipy.signal.convolve by the direct sum: the full convolution adds each element of the smaller input
        times the larger one, shifted to that element's position; "valid" and "same" are its centred slices."""
        xp = self.xp
        a, b = self._floats(a, b)
        dtype = xp.result_type(a, b)
        full = tuple(p + q - 1 for p, q in zip(a.shape, b.shape, strict=True))
        small, large = (a, b) if math.prod(a.shape) <= math.prod(b.shape) else (b, a)
        large = xp.astype(large, dtype)
        out = xp.zeros(full, dtype=dtype, device=device(a))
        for position in np.ndindex(*small.shape):
            window = tuple(slice(i, i + n) for i, n in zip(position, large.shape, strict=True))
            out[window] = out[window] + small[position] * large
        if mode == "full":
            return out
        if mode == "valid":
            shape = tuple(abs(p - q) + 1 for p, q in zip(a.shape, b.shape, strict=True))
        else:
            shape = tuple(a.shape)
        return out[tuple(slice((n - k) // 2, (n - k) // 2 + k) for n, k in zip(full, shape, strict=True))]

    def _forward_lstm(self, x, weight, h, c):
        """rules.nn's lstm loop with the standard's functions, in its order of operations (the same rounding); the
        backward pass recomputes the gates from the output (nothing kept beside it, as NumPy's buffer)."""
        xp = self.xp
        x, weight, h, c = self.m._arrays(x, weight, h, c)
        size = weight.shape[1]
        transposed = self.m.swapaxes(weight, -1, -2)
        states = []
        for t in range(x.shape[0]):
            z = xp.matmul(h, transposed) + x[t, ...]
            i, f, o = (0.5 + 0.5 * xp.tanh(z[:, k * size:(k + 1) * size] * 0.5) for k in (0, 1, 3))
            c = f * c + i * xp.tanh(z[:, 2 * size:3 * size])
            h = o * xp.tanh(c)
            states.append(xp.concat([h, c], axis=-1))
        if not states:
            return xp.zeros((0, h.shape[0], 2 * size), dtype=xp.result_type(x, weight, h, c), device=device(x))
        return xp.stack(states, axis=0)

    # Linear algebra: the standard's linalg extension, results packed as chainrule.rules.linalg packs them.
    def _linalg(self, name, *args, **kwargs):
        try:
            return getattr(self.xp.linalg, name)(*args, **kwargs)
        except Exception as exc:
            if "LinAlgError" not in type(exc).__name__:  # NumPy's (array-api-strict), torch's _LinAlgError...
                raise
            problem, expected = (("is not positive definite", "a symmetric positive-definite matrix")
                                 if name == "cholesky" else ("is singular", "an invertible matrix"))
            raise DomainError(f"{name}: the matrix `a` of shape {tuple(args[0].shape)} {problem}; expected {expected}"
                              f" ({self.name} says: {exc})") from None

    def _forward_solve(self, a, b):
        # NumPy 2's rule for b (a vector when 1-D, else a stack of matrices), made explicit for every library: a
        # vector becomes a column, and both stacks are broadcast to one batch shape (PyTorch reads a b one axis
        # shorter than a as a stack of vectors).
        a, b = self.m._arrays(a, b)
        if b.ndim == 1:
            return self._linalg("solve", a, b[:, None])[..., 0]
        batch = np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
        a = self.xp.broadcast_to(a, batch + tuple(a.shape[-2:]))
        return self._linalg("solve", a, self.xp.broadcast_to(b, batch + tuple(b.shape[-2:])))

    def _forward_cho_factor(self, a):
        return self._linalg("cholesky", a)  # the lower factor, read from a's lower triangle, as NumPy's cholesky

    def _forward_solve_triangular(self, a, b, trans=0, lower=False, unit_diagonal=False):
        """op(A)⁻¹ b from A's triangle (diagonal ones when unit_diagonal), by the standard's solve (an LU of the
        triangle: exactly singular triangles raise, as SciPy's)."""
        xp = self.xp
        a, b = self.m._arrays(a, b)
        n = a.shape[-1]
        keep = (xp.tril if lower else xp.triu)(xp.ones((n, n), dtype=a.dtype, device=device(a)), k=1 if
                                                unit_diagonal and not lower else -1 if unit_diagonal else 0)
        triangle = a * keep
        if unit_diagonal:
            triangle = triangle + xp.eye(n, dtype=a.dtype, device=device(a))
        if trans:
            triangle = self.m.swapaxes(triangle, -1, -2)
        try:
            return self._forward_solve(triangle, b)
        except DomainError as exc:
            raise DomainError(f"solve_triangular: the triangular matrix `a` of shape {tuple(a.shape)} is singular; "
                              f"expected nonzero diagonal entries ({exc})") from None

    def _forward_inv(self, x):
        return self._linalg("inv", x)

    def _forward_det(self, x):
        return self._linalg("det", x)

    def _forward_logabsdet(self, x):
        return self._linalg("slogdet", x)[1]

    def _forward_logdet(self, x):
        sign, logabs = self._linalg("slogdet", x)
        return logabs + self.xp.log(sign)  # nan for a negative real determinant, -inf for a zero one, as NumPy

    def _forward_cholesky(self, x):
        return self._linalg("cholesky", x)

    def _forward_eigh(self, x):
        w, v = self._linalg("eigh", x)
        return self.xp.concat([self.xp.astype(w, v.dtype)[..., None, :], v], axis=-2)

    def _forward_eigvalsh(self, x):
        return self._linalg("eigvalsh", x)

    def _forward_svd(self, x):
        u, s, vh = self._linalg("svd", x, full_matrices=False)
        lead = tuple(x.shape[:-2])
        return self.xp.concat([self.xp.reshape(u, lead + (-1,)), self.xp.astype(s, u.dtype),
                               self.xp.reshape(vh, lead + (-1,))], axis=-1)

    def _forward_svdvals(self, x):
        return self._linalg("svdvals", x)

    def _forward_qr(self, x):
        q, r = self._linalg("qr", x)
        lead = tuple(x.shape[:-2])
        return self.xp.concat([self.xp.reshape(q, lead + (-1,)), self.xp.reshape(r, lead + (-1,))], axis=-1)

    def _forward_pinv(self, x):
        return self._linalg("pinv", x)

    # Fourier transforms: the standard's fft extension (its c2c transforms take complex input only).
    def _as_complex(self, x):
        xp = self.xp
        if xp.isdtype(x.dtype, "complex floating"):
            return x
        return xp.astype(x, xp.complex64 if x.dtype == xp.float32 else xp.complex128)

    def _forward_fftn(self, x, s, axes, norm):
        return self.xp.fft.fftn(self._as_complex(x), s=tuple(s), axes=tuple(axes), norm=norm)

    def _forward_ifftn(self, x, s, axes, norm):
        return self.xp.fft.ifftn(self._as_complex(x), s=tuple(s), axes=tuple(axes), norm=norm)

    def _forward_rfftn(self, x, s, axes, norm):
        return self.xp.fft.rfftn(x, s=tuple(s), axes=tuple(axes), norm=norm)

    def _forward_irfftn(self, x, s, axes, norm):
        return self.xp.fft.irfftn(self._as_complex(x), s=tuple(s), axes=tuple(axes), norm=norm)

    def _forward_fft_resize(self, x, sizes, axes):
        """x cropped, or padded with zeros at the end, to ``sizes`` along ``axes`` (fft's ``s``)."""
        for a, n in zip(axes, sizes, strict=True):
            have = x.shape[a]
            if n < have:
                x = x[(slice(None),) * a + (slice(0, n), Ellipsis)]
            elif n > have:
                shape = list(x.shape)
                shape[a] = n - have
                zeros = self.xp.zeros(tuple(shape), dtype=x.dtype, device=device(x))
                x = self.xp.concat([x, zeros], axis=a)
        return x

    def _forward_cross_entropy(self, x, labels, reduction):
        xp = self.xp
        z = self._shifted(x, 1)
        picked = xp.sum(z * self.m.one_hot(labels, x), axis=1)
        losses = xp.log(xp.sum(xp.exp(z), axis=1)) - picked
        if reduction == "none":
            return losses
        total = xp.sum(losses)
        return total / labels.shape[0] if reduction == "mean" else total


class ArrayAPIMath:
    """The math namespace ``m`` of one Array API library: the names of ``chainrule.rules.numpy_math``, on ``xp``.

    Every function keeps its operands in the library and on their device; Python numbers and NumPy constants are
    made arrays there first.
    """

    batched = False
    pi = math.pi

    def __init__(self, owner: Backend) -> None:
        self._owner = owner
        self.xp = xp = owner.xp
        for name in ("exp", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "abs", "sign", "real",
                     "conj", "zeros_like", "ones_like"):
            setattr(self, name, getattr(xp, name))
        for ours, theirs in (("arcsin", "asin"), ("arccos", "acos"), ("arctan", "atan"), ("arcsinh", "asinh"),
                             ("arccosh", "acosh"), ("arctanh", "atanh")):
            setattr(self, ours, getattr(xp, theirs))

    def __getattr__(self, name: str):
        raise NotImplementedError(f"the math namespace of {self._owner.name} arrays has no '{name}' yet (a rule's "
                                  "derivative needs it); chainrule never computes it on the host silently")

    def is_floating(self, x) -> bool:
        return self.xp.isdtype(x.dtype, "real floating")

    def _arrays(self, *values):
        like = next(v for v in values if is_foreign(v))
        return [v if is_foreign(v) else self._owner.asarray(v, like) for v in values]

    def log(self, x):
        if isinstance(x, numbers.Real | np.generic):
            return float(np.log(x))  # a constant (log's base): a weak scalar, like numpy_math.log
        return self.xp.log(x)

    def maximum(self, a, b):
        return self.xp.maximum(*self._arrays(a, b))

    def minimum(self, a, b):
        return self.xp.minimum(*self._arrays(a, b))

    def where(self, condition, a, b):
        like = a if is_foreign(a) else b if is_foreign(b) else condition  # numbers take the values' dtype
        dtype = like.dtype if self.xp.isdtype(like.dtype, "complex floating") else None  # (real ones: asarray's)
        a, b = (v if is_foreign(v) else self._owner.asarray(v, like, dtype if isinstance(v, numbers.Number) else None)
                for v in (a, b))
        return self.xp.where(condition, a, b)

    def isnan(self, x):
        return self.xp.isnan(x)

    def imag(self, x):
        """The imaginary part; zeros of x's dtype for a real x, as NumPy's (the standard's imag takes complex x)."""
        return self.xp.imag(x) if self.xp.isdtype(x.dtype, "complex floating") else self.xp.zeros_like(x)

    def flip(self, x, axis):
        return self.xp.flip(x, axis=axis)

    def constant(self, value, like):
        """The NumPy constant ``value`` (a mask, an identity matrix) in like's dtype, moved to like's device."""
        return self._owner.asarray(np.asarray(value), like, like.dtype)

    def has_nonzero(self, x) -> bool:
        return bool(self.xp.any(x != 0))

    def has_zero(self, raw) -> bool:
        """True: rules mask edge values always rather than test device values (numpy_math.has_zero)."""
        return True

    def eye(self, n, like):
        return self.xp.eye(n, dtype=like.dtype, device=device(like))

    def tril_mask(self, n, k, like):
        return self.xp.tril(self.xp.ones((n, n), dtype=like.dtype, device=device(like)), k=k)

    def arange(self, n, like):
        return self.xp.arange(n, device=device(like))

    def sinc(self, x):
        """sin(πx)/(πx), 1 at 0: NumPy's operations (x = 0 replaced by 1e-20), so the same rounding."""
        y = math.pi * self.xp.where(x == 0, self._owner.asarray(1.0e-20, x), x)
        return self.xp.sin(y) / y

    def product_of_others(self, x):
        """numpy_math.product_of_others with the standard's cumulative_prod and flip (no negative-step slice)."""
        xp = self.xp
        ones = xp.ones(tuple(x.shape[:-1]) + (1,), dtype=x.dtype, device=device(x))
        left = xp.cumulative_prod(xp.concat([ones, x[..., :-1]], axis=-1), axis=-1)
        right = xp.cumulative_prod(xp.concat([ones, xp.flip(x, axis=-1)[..., :-1]], axis=-1), axis=-1)
        return left * xp.flip(right, axis=-1)

    def solve(self, a, b):
        return self._owner._forward_solve(a, b)

    def eigh(self, x):
        return self._owner._forward_eigh(x)

    def eig(self, x):
        from ..rules.registry import lookup

        return self._owner.forward(lookup("eig"))(x)

    def largest_component(self, v):
        """numpy_math.largest_component: the one-hot mask of each column's largest |v|² (the first on a tie)."""
        xp = self.xp
        size = xp.real(v * xp.conj(v)) if xp.isdtype(v.dtype, "complex floating") else v * v
        top = size == xp.max(size, axis=-2, keepdims=True)
        first = top & (xp.cumulative_sum(xp.astype(top, xp.int64), axis=-2) == 1)
        return xp.astype(first, size.dtype)

    def svd(self, x):
        return self._owner._forward_svd(x)

    def unfold(self, x, kernel_size, stride=(1, 1), padding=(0, 0)):
        return self._owner._forward_unfold(x, kernel_size, stride, padding)

    def fold(self, x, output_size, kernel_size, stride=(1, 1), padding=(0, 0)):
        return self._owner._forward_fold(x, output_size, kernel_size, stride, padding)

    def matmul(self, a, b):
        return self.xp.matmul(*self._arrays(a, b))

    def swapaxes(self, x, a, b):
        if x.ndim < 2 and (a, b) in ((-1, -2), (-2, -1)):
            return x
        axes = list(range(x.ndim))
        axes[a], axes[b] = axes[b], axes[a]
        return self.xp.permute_dims(x, tuple(axes))

    def expand_dims(self, x, axis):
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        ndim = x.ndim + len(axes)
        for a in sorted(a % ndim for a in axes):
            x = self.xp.expand_dims(x, axis=a)
        return x

    def broadcast_to(self, x, shape):
        return self.xp.broadcast_to(x, tuple(shape))

    def reshape(self, x, shape):
        return self.xp.reshape(x, tuple(shape))

    def transpose(self, x, axes=None):
        return self.xp.permute_dims(x, tuple(reversed(range(x.ndim))) if axes is None else tuple(axes))

    def concatenate(self, xs, axis=0):
        return self.xp.concat(self._arrays(*xs), axis=axis)

    def stack(self, xs, axis=0):
        return self.xp.stack(self._arrays(*xs), axis=axis)

    def sum(self, x, axis=None, keepdims=False):
        return self.xp.sum(x, axis=axis, keepdims=keepdims)

    def mean(self, x, axis=None, keepdims=False):
        return self.xp.mean(x, axis=axis, keepdims=keepdims)

    def prod(self, x, axis=None, keepdims=False):
        return self.xp.prod(x, axis=axis, keepdims=keepdims)

    def cumsum(self, x, axis):
        return self.xp.cumulative_sum(x, axis=axis)

    def softmax(self, x, axis=-1):
        e = self.xp.exp(self._owner._shifted(x, axis))
        return e / self.xp.sum(e, axis=axis, keepdims=True)

    def erf(self, x):
        """The error function with numpy_math.erf's polynomials, element by element in float64 (float32 stays
        float32): every piece is evaluated everywhere and the right one selected, no data-dependent branch."""
        xp = self.xp
        dtype = x.dtype if self.is_floating(x) else xp.float64
        v = xp.astype(x, xp.float64)
        size = xp.abs(v)
        out = xp.sign(v)  # ±1 from 6 on, and at ±inf; NaN stays NaN
        # Each piece sees its own range only (others clamped into it), so that no inf·0 is formed where unused.
        for low, high, coefficients in reversed(numpy_math._ERFC_PIECES):
            u = xp.clip(size, low, high)
            s = (2 * u - (low + high)) / (high - low)
            piece = xp.copysign(1 - xp.exp(-(u * u)) * self._horner(coefficients, s), v)
            out = xp.where((size >= low) & (size < high), piece, out)
        w = xp.clip(v, -1.0, 1.0)
        near = w * self._horner(numpy_math._ERF_NEAR_0, 2 * (w * w) - 1)
        return xp.astype(xp.where(size < 1, near, out), dtype)

    def erfc(self, x):
        """1 − erf(x), relatively accurate in the right tail: 1 − erf x for |x| < 1, e^(−x²)·(e^(x²) erfc x) from 1 on
        (erfc_scaled), 2 minus that from −1 down. Within 1e-15 relative of the exact function in float64."""
        xp = self.xp
        dtype = x.dtype if self.is_floating(x) else xp.float64
        v = xp.astype(x, xp.float64)
        size = xp.abs(v)
        u = xp.clip(size, 0.0, 30.0)  # erfc(30) underflows to 0; clipped, inf gives 0 rather than inf·0
        high = xp.round(u * 128) / 128  # e^(−u²) as e^(−h²)·e^(−l(2h + l)): h² is exact, so no rounding of u²
        low = u - high
        tail = xp.exp(-(high * high)) * xp.exp(-(low * (2 * high + low))) * self.erfc_scaled(u)
        out = xp.where(size < 1, 1 - self.erf(v), xp.where(v > 0, tail, 2 - tail))
        return xp.astype(out, dtype)

    def erfc_scaled(self, x):
        """e^(x²) erfc x for x >= 1 (smaller x taken as 1), in float64: numpy_math's polynomials below 6, from 6 on
        the asymptotic series (1/(x√π)) Σ (−1)ⁿ (2n−1)!!/(2x²)ⁿ to n = 36, whose terms still fall there (< 1e-15)."""
        xp = self.xp
        v = xp.clip(x, 6.0, math.inf)
        z = 1 / (2 * (v * v))
        series = xp.ones_like(v)
        for k in range(36, 0, -1):  # 1 − z(1 − 3z(1 − 5z(...))): each factor (2k−1)z < 1
            series = 1 - (2 * k - 1) * z * series
        out = series / (v * math.sqrt(math.pi))
        for low, high, coefficients in reversed(numpy_math._ERFC_PIECES):  # (the lowest piece also below 1)
            u = xp.clip(x, low, high)
            out = xp.where(x < high, self._horner(coefficients, (2 * u - (low + high)) / (high - low)), out)
        return out

    def _horner(self, coefficients, s):
        out = self.xp.full_like(s, coefficients[-1])
        for c in coefficients[-2::-1]:
            out = out * s + c
        return out

    def sigmoid(self, x):
        """Logistic function, stable for large |x| (as numpy_math.sigmoid: only exp(-|x|) is formed)."""
        z = self.xp.exp(-self.xp.abs(x))
        return self.xp.where(x >= 0, 1 / (1 + z), z / (1 + z))

    def logical_not(self, x):
        """not x; for a mask already in a floating dtype (where's condition as the node keeps it), 1 − x."""
        return 1 - x if self.is_floating(x) else self.xp.logical_not(x)

    def step(self, x):
        """[x > 0] in x's dtype."""
        return self.xp.astype(x > 0, x.dtype)

    def stop(self, x):
        return x

    def astype(self, x, dtype):
        return self.xp.astype(x, getattr(self.xp, np.dtype(dtype).name if isinstance(dtype, np.dtype | str | type)
                                         else str(dtype).rpartition(".")[2]))

    def apply_rule(self, rule, args, params):
        return self._owner.forward(rule)(*args, **params)

    def one_hot(self, labels, like):
        """onehot[n, labels[n]] = 1 in like's dtype and on its device (the integer labels move there, explicitly)."""
        xp = self.xp
        classes = xp.arange(like.shape[1], device=device(like))
        if not is_foreign(labels):
            labels = self._owner.asarray(labels, like)
        return xp.astype(classes[None, :] == labels[:, None], like.dtype)

    def transfer(self, x, to, back):
        """x moved by ``to`` (the move rule's vjp and jvp)."""
        return to(x)

    def getitem(self, x, index):
        """``x[index]`` with NumPy's indexing (the scatter's vjp: the index was checked by the forward)."""
        owner = self._owner
        return array_index.take(owner, x, array_index.plan(owner, index, tuple(x.shape), x, check=False))

    def scatter(self, g, index, shape):
        """Gradient of ``x[index]``: ``g`` added into zeros of x's shape at the indexed places (repeats add up)."""
        owner = self._owner
        return array_index.put(owner, g, array_index.plan(owner, index, tuple(shape), g, check=False))

    # How many elements a one-hot block of the scatter-add may hold (array_index; not PyTorch, which has its own).
    ONE_HOT_BLOCK = 1 << 22
