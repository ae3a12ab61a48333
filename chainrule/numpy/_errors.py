"""NumPy's own errors, raised under a cnp function's name: the user reads which function and argument failed."""

from __future__ import annotations

import functools
from collections.abc import Callable

from .. import ops
from ..errors import ChainruleError, DomainError


def named_errors(name: str) -> Callable[[Callable], Callable]:
    """Re-raise what NumPy raises inside ``function`` on Tensors with ``cnp.<name>`` in front: a ValueError as
    DomainError (a ValueError), an IndexError, TypeError or MemoryError as itself. Chainrule's own errors pass
    unchanged, and with no Tensor among the arguments NumPy's own error does too (the function is NumPy's there)."""

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except ChainruleError:
                raise
            except (ValueError, IndexError, TypeError, MemoryError) as exc:
                message = str(exc)
                if message.startswith("cnp.") or not (ops.holds_tensor(args) or ops.holds_tensor(kwargs.values())):
                    raise
                if isinstance(exc, MemoryError):  # asked for at once, before anything was filled: nothing is lost
                    raise MemoryError(f"cnp.{name}: the result is too large for this machine's memory ({message}); "
                                      "check the sizes and counts passed") from None
                message = f"cnp.{name}: {message}; see numpy.{name} for the arguments it takes"
                if isinstance(exc, IndexError):
                    raise IndexError(message) from None
                if isinstance(exc, TypeError):
                    raise TypeError(message) from None
                raise DomainError(message) from None

        return wrapper

    return decorate
