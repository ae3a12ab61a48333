"""L-BFGS with an optional strong-Wolfe line search, the algorithm and numbers of ``torch.optim.LBFGS``.

Scalars (dot products, step lengths) are NumPy scalars of the parameters' dtype, which combine with Python numbers
as torch's 0-d tensors do, so float32 runs round where torch's do.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..engine import bump
from ..engine.backends import is_foreign
from ..errors import DomainError
from ..tensor import Tensor
from .optimizer import Optimizer


def _cubic_interpolate(x1: Any, f1: Any, g1: Any, x2: Any, f2: Any, g2: Any,
                       bounds: tuple[Any, Any] | None = None) -> Any:
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, kept inside ``bounds`` (the
    midpoint of the bounds when the cubic has no minimum)."""
    if bounds is not None:
        low, high = bounds
    else:
        low, high = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, low), high)
    return (low + high) / 2.0


def _strong_wolfe(obj_func: Callable, x: list, t: Any, d: np.ndarray, f: float, g: np.ndarray, gtd: Any,
                  c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9, max_ls: int = 25
                  ) -> tuple[float, np.ndarray, Any, int]:
    """A step length t along d meeting the strong Wolfe conditions (sufficient decrease c1, curvature c2): first
    bracket an interval, then zoom by cubic interpolation (Nocedal & Wright, algorithms 3.5 and 3.6, as torch)."""
    d_norm = np.max(np.abs(d))
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # extrapolate, between 1.01 t and 10 t
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        previous = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = previous, f_new, g_new, gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:  # the evaluations ran out while extrapolating
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom: shrink the bracket until the point meets the conditions or the bracket is too small to matter
    insufficient_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # a point too near an end of the bracket makes little progress: move it 10% of the width inside
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insufficient_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new, gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new, gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


class LBFGS(Optimizer):
    """L-BFGS (Nocedal, 1980), as ``torch.optim.LBFGS``: ``step(closure)`` runs up to ``max_iter`` iterations (and
    ``max_eval`` evaluations of the closure), each along the direction of the two-loop recursion over the last
    ``history_size`` curvature pairs, with a fixed step lr (the first one scaled by min(1, 1/‖g‖₁)) or a strong-Wolfe
    line search (``line_search_fn="strong_wolfe"``). It stops early when max|g| ≤ ``tolerance_grad`` or the step or
    the loss changes by less than ``tolerance_change``.

    The closure clears the gradients, computes the loss, calls backward and returns the loss. One parameter group;
    all parameters NumPy arrays of one dtype (complex ones count as pairs of reals, as in torch).

    >>> import chainrule as cr
    >>> w = cr.nn.Parameter([-1.0, 2.0])
    >>> opt = cr.optim.LBFGS([w], line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = ((1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2)
    ...     loss.backward()
    ...     return loss
    >>> for _ in range(5):
    ...     _ = opt.step(closure)
    >>> [round(v, 4) for v in w.numpy().tolist()]
    [1.0, 1.0]
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 history_size: int = 100, line_search_fn: str | None = None) -> None:
        if max_eval is None and _is_positive_int(max_iter):
            max_eval = max_iter * 5 // 4
        super().__init__(params, {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                                  "tolerance_grad": tolerance_grad, "tolerance_change": tolerance_change,
                                  "history_size": history_size, "line_search_fn": line_search_fn})
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups): pass one list of "
                             f"parameters, got {len(self.param_groups)} groups")
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, group: dict[str, Any], seen: set[int] | None = None) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(group, seen)

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        for name in ("max_iter", "max_eval", "history_size"):
            if not _is_positive_int(group[name]):
                raise DomainError(f"LBFGS: {name} must be a positive int, got {group[name]!r}")
        for name in ("tolerance_grad", "tolerance_change"):
            value = group[name]
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
                raise DomainError(f"LBFGS: {name} must be a number >= 0, got {value!r}")
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise DomainError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {group['line_search_fn']!r}")
        dtypes = {np.dtype(p.dtype) for p in group["params"] if not is_foreign(p._data)}
        if any(is_foreign(p._data) for p in group["params"]) or len(dtypes) > 1:
            raise TypeError("LBFGS keeps one flat vector of all parameters: they must be NumPy arrays of one dtype, "
                            f"got {sorted({str(p.dtype) for p in group['params']})}")

    def _buffer_shape(self, key: str, shape: tuple[int, ...]) -> tuple[int, ...] | None:
        return None  # flat vectors over all parameters, and lists of them

    # -----------------------------------------------------------------------------------------------------------
    # The parameters as one flat real vector.
    # -----------------------------------------------------------------------------------------------------------
    def _gather_flat_grad(self) -> np.ndarray:
        views = []
        for p in self._params:
            if p.grad is None:
                view = np.zeros(p._data.size, dtype=p._data.dtype)
            else:
                view = np.asarray(p.grad._data, dtype=p._data.dtype).reshape(-1)
            if view.dtype.kind == "c":  # torch's gradient of a complex parameter is the conjugate of ours
                view = np.conj(view).view(view.real.dtype)
            views.append(view)
        return np.concatenate(views)

    def _add_grad(self, step_size: Any, update: np.ndarray) -> None:
        offset = 0
        for p in self._params:
            data = p._data
            flat = data.reshape(-1).view(data.real.dtype) if data.dtype.kind == "c" else data.reshape(-1)
            flat += step_size * update[offset:offset + flat.size]
            offset += flat.size
            bump(data)

    def _clone_param(self) -> list[np.ndarray]:
        return [p._data.copy() for p in self._params]

    def _set_param(self, values: list[np.ndarray]) -> None:
        for p, value in zip(self._params, values, strict=True):
            p._data[...] = value
            bump(p._data)

    def _directional_evaluate(self, closure: Callable, x: list[np.ndarray], t: Any, d: np.ndarray
                              ) -> tuple[float, np.ndarray]:
        self._add_grad(t, d)
        loss = _loss_value(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` iterations; ``closure`` re-evaluates the model (zero_grad, loss, backward) and
        returns the loss. Returns the loss of the first evaluation, as torch."""
        if not callable(closure):
            raise TypeError("LBFGS.step needs a closure: a function that clears the gradients, computes the loss, "
                            "calls loss.backward() and returns the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]
        state = self.state.setdefault(id(self._params[0]), {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = _loss_value(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if np.max(np.abs(flat_grad)) <= tolerance_grad:  # already optimal
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps = list(state.get("old_dirs") or []), list(state.get("old_stps") or [])
        ro, H_diag = list(state.get("ro") or []), state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:  # keep the pair only where the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                # the two-loop recursion: d = −H·g with H the L-BFGS inverse Hessian, H₀ = H_diag·I
                al = list(state.get("al") or [None] * history_size)
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q = q + -al[i] * old_dirs[i]
                r = q * H_diag
                for i in range(len(old_dirs)):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r = r + (al[i] - be_i) * old_stps[i]
                d = r
                state["al"] = al
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            # the first step ever is scaled down by the gradient's size; later ones take lr
            t = min(1.0, 1.0 / np.sum(np.abs(flat_grad))) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # not a descent direction (any more)
                break
            ls_func_evals = 0
            if group["line_search_fn"] is not None:
                x_init = self._clone_param()

                def obj_func(x: list[np.ndarray], t: Any, d: np.ndarray) -> tuple[float, np.ndarray]:
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(obj_func, x_init, t, d, loss, flat_grad, gtd,
                                                                  max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = np.max(np.abs(flat_grad)) <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:  # re-evaluate, unless this was the last iteration
                    loss = _loss_value(closure())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = np.max(np.abs(flat_grad)) <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.max(np.abs(d * t)) <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break
        state.update({"d": d, "t": t, "old_dirs": old_dirs, "old_stps": old_stps, "ro": ro, "H_diag": H_diag,
                      "prev_flat_grad": prev_flat_grad, "prev_loss": prev_loss})
        return orig_loss

    def state_dict(self) -> dict[str, Any]:
        """As torch's: the history lives in the state of the first parameter (index 0); lists are copied."""
        saved = super().state_dict()
        saved["state"] = {i: {k: list(v) if isinstance(v, list) else v for k, v in s.items()}
                          for i, s in saved["state"].items()}
        return saved


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def _loss_value(loss: Any) -> float:
    """The closure's loss as a Python float (torch: float(closure()))."""
    try:
        return float(loss.item() if isinstance(loss, Tensor) else loss)
    except (TypeError, ValueError):
        raise TypeError(f"LBFGS: the closure must return the loss (a scalar Tensor or number), got "
                        f"{type(loss).__name__}") from None
