"""Learning-rate schedules, stepping like PyTorch's (once per epoch or batch, after the optimizer's step), with the
same recursive formulas so the rates agree with ``torch.optim.lr_scheduler`` step by step.

As in PyTorch, building a scheduler takes its first step at once (epoch 0): ``LinearLR`` and ``OneCycleLR`` set their
starting rate then. To resume, build the optimizer and scheduler as before, then ``load_state_dict`` both.

>>> import chainrule as cr
>>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=0.1)
>>> sched = cr.optim.StepLR(opt, step_size=2, gamma=0.5)
>>> rates = []
>>> for epoch in range(5):
...     opt.step()
...     sched.step()
...     rates.append(sched.get_last_lr()[0])
>>> rates
[0.1, 0.05, 0.05, 0.025, 0.025]
"""

from __future__ import annotations

import bisect
import copy
import math
import numbers
import types
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import DomainError
from .optimizer import Optimizer


def _positive_int(value: Any, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise DomainError(f"{where}: {name} must be a positive int, got {value!r}")
    return int(value)


def _number(value: Any, name: str, where: str, low: float = -math.inf, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not low <= value <= high:
        raise DomainError(f"{where}: {name} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


def _per_group(value: Any, name: str, optimizer: Optimizer, where: str) -> list[float]:
    """One value per parameter group: a number for all, or a list with one per group."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise DomainError(f"{where}: expected {n} value(s) of {name}, one per parameter group, got {len(value)}")
        return [_number(v, name, where) for v in value]
    return [_number(value, name, where)] * n


class LRScheduler:
    """Base class: ``step()`` advances one epoch and writes ``get_lr()`` into each parameter group's ``lr``.

    ``last_epoch=-1`` starts a new schedule; another value resumes one (the groups must then hold ``initial_lr``).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} expects a cr.optim optimizer, not {type(optimizer).__name__}")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, numbers.Integral) or last_epoch < -1:
            raise DomainError(f"{type(self).__name__}: last_epoch must be an int >= -1, got {last_epoch!r}")
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr' to resume from "
                               f"(last_epoch={last_epoch}); load the optimizer's state_dict first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = int(last_epoch)
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._initial = True  # PyTorch's schedules keep the current rate on this first step
        try:
            self.step()
        finally:
            self._initial = False

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def step(self, epoch: int | None = None) -> None:
        """Move to the next epoch and set its learning rates; ``step(epoch)`` jumps to ``epoch`` (torch's deprecated
        form: the closed-form rate where the schedule has one)."""
        self._step_count += 1
        if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0):
            raise DomainError(f"{type(self).__name__}.step: epoch must be an int >= 0, got {epoch!r}")
        self._update_lr(None if epoch is None else int(epoch))

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            rates = self.get_lr()
        else:  # jump to an epoch (SequentialLR's milestones): the closed form where there is one
            self.last_epoch = epoch
            closed_form = getattr(self, "_closed_form_lr", None)
            rates = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, rates, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _rates(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rate of each parameter group, as last set."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (plain numbers and lists), as in PyTorch."""
        return copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "optimizer"})

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (the optimizer's own state is loaded separately)."""
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or "last_epoch" not in state_dict:
            raise ValueError(f"{name}: expected a dict saved by state_dict(), got "
                             + ("one without 'last_epoch'" if isinstance(state_dict, dict)
                                else type(state_dict).__name__))
        # Checked before anything changes: a value of another kind than this scheduler's (a str step_size, a None
        # last_epoch, nan) fails later in step() deep inside, or sets nan learning rates; a key naming a method
        # ('step') or the optimizer would replace it.
        current = self.state_dict()
        for key, value in state_dict.items():
            if not isinstance(key, str) or key == "optimizer" or hasattr(type(self), key):
                raise ValueError(f"{name}: {key!r:.40} is not an entry of a saved scheduler")
            if key in current:
                _check_like(value, current[key], f"{name}: {key!r}")
        self.__dict__.update(copy.deepcopy(state_dict))


def _check_like(value: Any, like: Any, where: str) -> None:
    """``value`` must be of the kind of ``like`` (this scheduler's own value): numbers (never NaN), bools, strings,
    lists of the same length, dicts, recursively."""
    def bad(expected: str) -> ValueError:
        return ValueError(f"{where} is {value!r:.60}; expected {expected} (like this scheduler's {like!r:.60})")

    if isinstance(like, bool):
        if not isinstance(value, bool):
            raise bad("True or False")
    elif isinstance(like, numbers.Real):  # an int or a float: a rate built from lr=1 is an int, saved ones floats
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
            raise bad("a number")
    elif isinstance(like, str):
        if not isinstance(value, str):
            raise bad("a string")
    elif isinstance(like, list | tuple):
        if not isinstance(value, list | tuple) or len(value) != len(like):
            raise bad(f"a list of {len(like)}")
        for i, (v, w) in enumerate(zip(value, like, strict=True)):
            _check_like(v, w, f"{where}[{i}]")
    elif isinstance(like, dict):
        if not isinstance(value, dict):
            raise bad("a dict")
        for k in value.keys() & like.keys():
            _check_like(value[k], like[k], f"{where}[{k!r}]")


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs: lr = base_lr·gamma^⌊epoch/step_size⌋."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.step_size = _positive_int(step_size, "step_size", "StepLR")
        self.gamma = _number(gamma, "gamma", "StepLR", 0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._rates()
        return [lr * self.gamma for lr in self._rates()]

    def _closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each epoch in ``milestones`` (a milestone listed twice, twice)."""

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Sequence | set | frozenset):
            raise DomainError(f"MultiStepLR: milestones must be a list of epochs, got {milestones!r}")
        for m in milestones:
            if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 0:
                raise DomainError(f"MultiStepLR: milestones must be ints >= 0, got {m!r}")
        self.milestones = sorted(int(m) for m in milestones)  # a plain list (repeats kept) so it saves as is
        self.gamma = _number(gamma, "gamma", "MultiStepLR", 0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        count = self.milestones.count(self.last_epoch)
        if count == 0:
            return self._rates()
        return [lr * self.gamma**count for lr in self._rates()]

    def _closed_form_lr(self) -> list[float]:
        passed = bisect.bisect_right(self.milestones, self.last_epoch)
        return [base * self.gamma**passed for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch: lr = base_lr·gamma^epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = _number(gamma, "gamma", "ExponentialLR", 0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._initial:
            return self._rates()
        return [lr * self.gamma for lr in self._rates()]

    def _closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class LambdaLR(LRScheduler):
    """lr = base_lr · lr_lambda(epoch), with one function for all groups or a list with one per group.

    ``state_dict`` leaves plain functions out (they cannot be saved); a callable object's attributes are kept.
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        n = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 1
        where = type(self).__name__
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise DomainError(f"{where}: expected {n} lr_lambda function(s), one per parameter group, "
                                  f"got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"{where}: lr_lambda must be a function of the epoch, got {fn!r}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs, strict=True)]

    def state_dict(self) -> dict[str, Any]:
        state = copy.deepcopy({k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")})
        state["lr_lambdas"] = [None if _is_function(fn) else copy.deepcopy(fn.__dict__) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        super().load_state_dict(state)
        for fn, attributes in zip(self.lr_lambdas, saved, strict=False):
            if attributes is not None:
                fn.__dict__.update(copy.deepcopy(attributes))


def _is_function(fn: Any) -> bool:
    plain = types.FunctionType | types.MethodType | types.BuiltinFunctionType
    return isinstance(fn, plain) or not hasattr(fn, "__dict__")


class LinearLR(LRScheduler):
    """Scale the rate linearly from ``start_factor``·base_lr to ``end_factor``·base_lr over ``total_iters`` epochs,
    then keep it (a linear warm-up with the defaults changed)."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        if isinstance(start_factor, bool) or not isinstance(start_factor, numbers.Real) or not 0 < start_factor <= 1:
            raise DomainError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        self.start_factor = float(start_factor)
        self.end_factor = _number(end_factor, "end_factor", "LinearLR", 0.0, 1.0)
        self.total_iters = _positive_int(total_iters, "total_iters", "LinearLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._rates()]
        if self._initial or self.last_epoch > self.total_iters:
            return self._rates()
        change = self.end_factor - self.start_factor
        factor = 1.0 + change / (self.total_iters * self.start_factor + (self.last_epoch - 1) * change)
        return [lr * factor for lr in self._rates()]

    def _closed_form_lr(self) -> list[float]:
        share = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * (self.start_factor + (self.end_factor - self.start_factor) * share) for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Anneal from the base rate to ``eta_min`` along half a cosine over ``T_max`` epochs:

    lr_t = eta_min + (base_lr − eta_min)·(1 + cos(π t / T_max)) / 2, computed recursively from lr_{t−1} as
    PyTorch does (so a rate changed by hand is followed); past T_max it rises again.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.T_max = _positive_int(T_max, "T_max", "CosineAnnealingLR")
        self.eta_min = _number(eta_min, "eta_min", "CosineAnnealingLR", 0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._initial:
            return self._rates()
        if self._step_count == 1 and t > 0:  # resumed with last_epoch: the closed form
            return self._closed_form_lr()
        if (t - 1 - T) % (2 * T) == 0:
            return [lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, self._rates(), strict=True)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in self._rates()]

    def _closed_form_lr(self) -> list[float]:
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        return [eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / T)) / 2 for base in self.base_lrs]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2017), stepped once per batch, as ``torch.optim.lr_scheduler.OneCycleLR``.

    The rate rises from max_lr/div_factor to ``max_lr`` over the first ``pct_start`` of ``total_steps`` (or
    ``epochs``·``steps_per_epoch``), then falls to max_lr/(div_factor·final_div_factor), along a cosine or a line;
    with ``cycle_momentum`` the momentum (or Adam's β₁) moves the opposite way between ``max_momentum`` and
    ``base_momentum``. ``three_phase`` comes back down to the start before the final fall.
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | list[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True, base_momentum: float | list[float] = 0.85,
                 max_momentum: float | list[float] = 0.95, div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1) -> None:
        where = "OneCycleLR"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{where} expects a cr.optim optimizer, not {type(optimizer).__name__}")
        if total_steps is not None:
            self.total_steps = _positive_int(total_steps, "total_steps", where)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (_positive_int(epochs, "epochs", where)
                                * _positive_int(steps_per_epoch, "steps_per_epoch", where))
        else:
            raise DomainError(f"{where}: give total_steps, or both epochs and steps_per_epoch")
        pct_start = _number(pct_start, "pct_start", where, 0.0, 1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise DomainError(f"{where}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        _number(div_factor, "div_factor", where, 0.0)
        _number(final_div_factor, "final_div_factor", where, 0.0)
        if div_factor == 0 or final_div_factor == 0:
            raise DomainError(f"{where}: div_factor and final_div_factor must be > 0")
        rise_end = float(pct_start * self.total_steps) - 1
        last = self.total_steps - 1
        if three_phase:
            self.phases = [[rise_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"],
                           [float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr", "base_momentum",
                            "max_momentum"],
                           [last, "initial_lr", "min_lr", "max_momentum", "max_momentum"]]
        else:
            self.phases = [[rise_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"],
                           [last, "max_lr", "min_lr", "base_momentum", "max_momentum"]]
        max_lrs = _per_group(max_lr, "max_lr", optimizer, where)
        if last_epoch == -1:
            for top, group in zip(max_lrs, optimizer.param_groups, strict=True):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise DomainError(f"{where}: cycle_momentum=True needs an optimizer with momentum or betas "
                                  f"({type(optimizer).__name__} has neither); pass cycle_momentum=False")
            self.use_beta1 = "betas" in optimizer.defaults
            highs = _per_group(max_momentum, "max_momentum", optimizer, where)
            lows = _per_group(base_momentum, "base_momentum", optimizer, where)
            if last_epoch == -1:
                for high, low, group in zip(highs, lows, optimizer.param_groups, strict=True):
                    self._set_momentum(group, high)
                    group["max_momentum"], group["base_momentum"] = high, low
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict[str, Any], value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start: float, end: float, share: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * share) + 1)
        return (end - start) * share + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise DomainError(f"OneCycleLR: stepped {step} times, past total_steps={self.total_steps}")
        rates = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr_from, lr_to, m_from, m_to) in enumerate(self.phases):
                if step <= end or i == len(self.phases) - 1:
                    share = (step - start) / (end - start)
                    rates.append(self._anneal(group[lr_from], group[lr_to], share))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(group[m_from], group[m_to], share))
                    break
                start = end
        return rates


class ReduceLROnPlateau(LRScheduler):
    """Multiply the rate by ``factor`` when a metric (``step(metric)``) has not improved for ``patience`` epochs.

    Improvement: in mode "min", metric < best·(1 − threshold) ("rel") or < best − threshold ("abs"); "max" mirrors
    it. After a reduction, wait ``cooldown`` epochs; never go below ``min_lr``, nor change by eps or less.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | list[float] = 0.0, eps: float = 1e-8) -> None:
        where = "ReduceLROnPlateau"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{where} expects a cr.optim optimizer, not {type(optimizer).__name__}")
        self.factor = _number(factor, "factor", where, 0.0)
        if self.factor >= 1.0:
            raise DomainError(f"{where}: factor must be < 1, got {factor!r}")
        if mode not in ("min", "max"):
            raise DomainError(f"{where}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise DomainError(f"{where}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.optimizer = optimizer
        self.min_lrs = _per_group(min_lr, "min_lr", optimizer, where)
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise DomainError(f"{where}: {name} must be an int >= 0, got {value!r}")
        self.patience, self.cooldown = int(patience), int(cooldown)
        self.threshold = _number(threshold, "threshold", where, 0.0)
        self.eps = _number(eps, "eps", where, 0.0)
        self.mode, self.threshold_mode = mode, threshold_mode
        self.last_epoch = 0
        self._last_lr = self._rates()
        self.best = math.inf if mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _is_better(self, value: float) -> bool:
        if self.mode == "min":
            return value < (self.best * (1 - self.threshold) if self.threshold_mode == "rel"
                            else self.best - self.threshold)
        return value > (self.best * (1 + self.threshold) if self.threshold_mode == "rel"
                        else self.best + self.threshold)

    def step(self, metrics: float) -> None:  # type: ignore[override]
        """Record this epoch's metric (e.g. the validation loss) and reduce the rate if it has stalled."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(f"ReduceLROnPlateau.step expects a number (the metric), got {metrics!r}") from None
        self.last_epoch += 1
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
                old = float(group["lr"])
                new = max(old * self.factor, floor)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self._rates()


def _composite_state(composite: Any) -> dict[str, Any]:
    """The state of a scheduler made of others (SequentialLR, ChainedScheduler): its own, and each inner one's."""
    state = copy.deepcopy({k: v for k, v in composite.__dict__.items() if k not in ("optimizer", "_schedulers")})
    state["_schedulers"] = [s.state_dict() for s in composite._schedulers]
    return state


def _split_composite_state(state_dict: Any, schedulers: list, where: str) -> tuple[dict[str, Any], list]:
    """(own state, inner states) of a saved composite scheduler, checked against its ``schedulers``."""
    state = dict(state_dict) if isinstance(state_dict, dict) else None
    inner = None if state is None else state.pop("_schedulers", None)
    if not isinstance(inner, list) or len(inner) != len(schedulers):
        raise ValueError(f"{where}.load_state_dict: expected {len(schedulers)} saved schedulers")
    return state, inner


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another, switching at the epochs in ``milestones`` (one fewer than schedulers);
    each scheduler restarts from its own epoch 0 at its milestone. E.g. a LinearLR warm-up then CosineAnnealingLR."""

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int],
                 last_epoch: int = -1) -> None:
        where = "SequentialLR"
        schedulers = list(schedulers)
        if not schedulers:
            raise DomainError(f"{where} expects at least one scheduler")
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau) or not isinstance(s, LRScheduler):
                raise TypeError(f"{where}: scheduler {i} is a {type(s).__name__}; expected an LRScheduler other than "
                                "ReduceLROnPlateau (whose step needs a metric)")
            if s.optimizer is not optimizer:
                raise DomainError(f"{where}: scheduler {i} ({type(s).__name__}) belongs to another optimizer")
        milestones = list(milestones)
        if len(milestones) != len(schedulers) - 1:
            raise DomainError(f"{where}: expected {len(schedulers) - 1} milestone(s) for {len(schedulers)} "
                              f"schedulers, got {len(milestones)}")
        for m in milestones:
            _positive_int(m, "milestones", where)
        self._schedulers = schedulers
        self._milestones = [int(m) for m in milestones]
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for s in schedulers:  # undo the first step each took when it was built ...
            s.last_epoch -= 1
        first = self._schedulers[bisect.bisect_right(self._milestones, 0)]
        first._initial_step()  # ... and take it again for the one that runs now
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        i = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[i]
        if i > 0 and self._milestones[i - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        return _composite_state(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state, inner = _split_composite_state(state_dict, self._schedulers, "SequentialLR")
        super().load_state_dict(state)
        for s, saved in zip(self._schedulers, inner, strict=True):
            s.load_state_dict(saved)


class ConstantLR(LRScheduler):
    """Multiply the rate by ``factor`` for the first ``total_iters`` epochs, then give back the base rate
    (lr = base_lr·factor while epoch < total_iters, base_lr after), as ``torch.optim.lr_scheduler.ConstantLR``."""

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        self.factor = _number(factor, "factor", "ConstantLR", 0.0, 1.0)
        if isinstance(total_iters, bool) or not isinstance(total_iters, numbers.Integral) or total_iters < 0:
            raise DomainError(f"ConstantLR: total_iters must be an int >= 0, got {total_iters!r}")
        self.total_iters = int(total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._rates()]
        if self.last_epoch != self.total_iters:
            return self._rates()
        if self.factor == 0:  # torch divides by the factor here (ZeroDivisionError); the base rate is meant
            return list(self.base_lrs)
        return [lr * (1.0 / self.factor) for lr in self._rates()]

    def _closed_form_lr(self) -> list[float]:
        return [base * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base in self.base_lrs]


class MultiplicativeLR(LambdaLR):
    """Multiply the current rate by ``lr_lambda(epoch)`` each epoch (one function, or one per group), as
    ``torch.optim.lr_scheduler.MultiplicativeLR``: lr_epoch = lr_(epoch−1)·lr_lambda(epoch)."""

    def get_lr(self) -> list[float]:
        if self._initial:
            return self._rates()
        return [lr * fn(self.last_epoch) for fn, lr in zip(self.lr_lambdas, self._rates(), strict=True)]

    _closed_form_lr = None  # no closed form: step(epoch) multiplies once by lr_lambda(epoch), as torch


class PolynomialLR(LRScheduler):
    """Decay the rate to zero over ``total_iters`` epochs along a polynomial of degree ``power``:
    lr = base_lr·(1 − min(epoch, total_iters)/total_iters)^power, computed recursively as torch does."""

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1) -> None:
        self.total_iters = _positive_int(total_iters, "total_iters", "PolynomialLR")
        self.power = _number(power, "power", "PolynomialLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._initial or self.last_epoch > self.total_iters:
            return self._rates()
        t, n = self.last_epoch, self.total_iters
        decay = ((1.0 - t / n) / (1.0 - (t - 1) / n)) ** self.power
        return [lr * decay for lr in self._rates()]

    def _closed_form_lr(self) -> list[float]:
        share = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * (1.0 - share) ** self.power for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR (Loshchilov & Hutter, 2017): cosine annealing from the base rate to ``eta_min`` over T_i epochs, then a
    restart, with T_0 for the first period and T_(i+1) = T_mult·T_i:

    lr = eta_min + (base_lr − eta_min)(1 + cos(π·T_cur/T_i))/2, T_cur the epochs since the last restart.
    ``step(epoch)`` accepts a fractional epoch (e.g. ``epoch + batch / batches`` per batch), as torch's.
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        where = "CosineAnnealingWarmRestarts"
        self.T_0 = _positive_int(T_0, "T_0", where)
        self.T_i = self.T_0
        if isinstance(T_mult, bool) or not isinstance(T_mult, numbers.Integral) or T_mult < 1:
            raise DomainError(f"{where}: T_mult must be an int >= 1, got {T_mult!r}")
        self.T_mult = int(T_mult)
        self.eta_min = _number(eta_min, "eta_min", where)
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or go to ``epoch`` (an int or a fraction of an epoch, >= 0)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if isinstance(epoch, bool) or not isinstance(epoch, numbers.Real) or not 0 <= epoch < math.inf:
                raise DomainError(f"CosineAnnealingWarmRestarts.step: epoch must be a finite number >= 0, got "
                                  f"{epoch!r}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:  # the restart before epoch: T_0(T_mult^n − 1)/(T_mult − 1) <= epoch
                    n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult**n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = self._rates()


class CyclicLR(LRScheduler):
    """Cyclical learning rates (Smith, 2017), stepped once per batch, as ``torch.optim.lr_scheduler.CyclicLR``:
    the rate goes from ``base_lr`` up to ``max_lr`` in ``step_size_up`` steps and back in ``step_size_down``;
    the height of each cycle is scaled by mode "triangular" (1), "triangular2" (halved each cycle), "exp_range"
    (gamma^step), or by ``scale_fn`` of the cycle or the step (``scale_mode``). With ``cycle_momentum`` the
    momentum (or Adam's β₁) moves the other way between ``max_momentum`` and ``base_momentum``.
    """

    def __init__(self, optimizer: Optimizer, base_lr: float | list[float], max_lr: float | list[float],
                 step_size_up: int = 2000, step_size_down: int | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn: Callable[[float], float] | None = None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum: float | list[float] = 0.8,
                 max_momentum: float | list[float] = 0.9, last_epoch: int = -1) -> None:
        where = "CyclicLR"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{where} expects a cr.optim optimizer, not {type(optimizer).__name__}")
        self.optimizer = optimizer
        base_lrs = _per_group(base_lr, "base_lr", optimizer, where)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups, strict=True):
                group["lr"] = lr
        self.max_lrs = _per_group(max_lr, "max_lr", optimizer, where)
        up = _number(step_size_up, "step_size_up", where, 0.0)
        down = up if step_size_down is None else _number(step_size_down, "step_size_down", where, 0.0)
        if up + down == 0 or up == 0:
            raise DomainError(f"{where}: step_size_up must be > 0 (and the cycle longer than 0 steps), got "
                              f"step_size_up={step_size_up!r}, step_size_down={step_size_down!r}")
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise DomainError(f"{where}: mode must be 'triangular', 'triangular2' or 'exp_range' (or give scale_fn), "
                              f"got {mode!r}")
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"{where}: scale_fn must be a function of the cycle or step, got {scale_fn!r}")
        if scale_mode not in ("cycle", "iterations"):
            raise DomainError(f"{where}: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
        self.mode, self.gamma = mode, _number(gamma, "gamma", where)
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode if scale_fn is not None else \
            ("iterations" if mode == "exp_range" else "cycle")
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise DomainError(f"{where}: cycle_momentum=True needs an optimizer with momentum or betas "
                                  f"({type(optimizer).__name__} has neither); pass cycle_momentum=False")
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = _per_group(base_momentum, "base_momentum", optimizer, where)
            self.max_momentums = _per_group(max_momentum, "max_momentum", optimizer, where)
            if last_epoch == -1:
                for high, low, group in zip(self.max_momentums, self.base_momentums, optimizer.param_groups,
                                            strict=True):
                    self._set_momentum(group, high)
                    group["max_momentum"], group["base_momentum"] = high, low
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _set_momentum(self, group: dict[str, Any], value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def scale_fn(self, x: float) -> float:
        """The height of the cycle: the given scale_fn, or the mode's."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self) -> list[float]:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        rates = [base + (top - base) * scale_factor * scale
                 for base, top in zip(self.base_lrs, self.max_lrs, strict=True)]
        if self.cycle_momentum:
            for group, low, high in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums,
                                        strict=True):
                self._set_momentum(group, high - (high - low) * scale_factor * scale)
        return rates

    def state_dict(self) -> dict[str, Any]:
        """As torch's: a plain scale_fn is left out; a callable object's attributes are kept."""
        fn = self._scale_fn_custom
        state = copy.deepcopy({k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_scale_fn_custom")})
        state["_scale_fn_custom"] = None if fn is None or _is_function(fn) else copy.deepcopy(fn.__dict__)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        attributes = state.pop("_scale_fn_custom", None)
        super().load_state_dict(state)
        if attributes is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(copy.deepcopy(attributes))


class ChainedScheduler(LRScheduler):
    """Step several schedulers of one optimizer together, each multiplying in its own change (e.g. ConstantLR
    then ExponentialLR), as ``torch.optim.lr_scheduler.ChainedScheduler``."""

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None) -> None:
        where = "ChainedScheduler"
        schedulers = list(schedulers)
        if not schedulers:
            raise DomainError(f"{where} expects at least one scheduler to chain, got none")
        optimizer = optimizer or schedulers[0].optimizer if isinstance(schedulers[0], LRScheduler) else optimizer
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau) or not isinstance(s, LRScheduler):
                raise TypeError(f"{where}: scheduler {i} is a {type(s).__name__}; expected an LRScheduler other than "
                                "ReduceLROnPlateau (whose step needs a metric)")
            if s.optimizer is not optimizer:
                raise DomainError(f"{where}: scheduler {i} ({type(s).__name__}) belongs to another optimizer")
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = self._rates()

    def step(self) -> None:  # type: ignore[override]
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._rates()

    def state_dict(self) -> dict[str, Any]:
        return _composite_state(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state, inner = _split_composite_state(state_dict, self._schedulers, "ChainedScheduler")
        if "_last_lr" in state:
            _check_like(state["_last_lr"], self._last_lr, "ChainedScheduler.load_state_dict: '_last_lr'")
        for s, saved in zip(self._schedulers, inner, strict=True):
            s.load_state_dict(saved)
        self._last_lr = list(state.get("_last_lr", self._last_lr))
