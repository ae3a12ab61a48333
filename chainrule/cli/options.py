"""Options that the commands share, checked when the command line is read (argparse names the option)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

#: Seeds are any integer NumPy's generators accept, up to 64 bits (the largest every seeded component takes).
MAX_SEED = 2**64 - 1


def int_option(low: int, high: int | None = None, bounds: str | None = None) -> Callable[[str], int]:
    """An argparse ``type`` that reads an integer in [low, high]; argparse names the option in its message."""

    def read(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            expected = bounds or (f"from {low} to {high}" if high is not None else f"of at least {low}")
            raise argparse.ArgumentTypeError(f"expected an integer {expected}, got {text!r}")
        return value

    return read


def positive_float(text: str) -> float:
    """An argparse ``type`` for a finite number > 0 (a learning rate): not nan, inf, 0 or negative."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number greater than 0, got {text!r}")
    return value


def probability_below_one(text: str) -> float:
    """An argparse ``type`` for a probability in [0, 1) (a dropout rate)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < 1:  # False for nan too
        raise argparse.ArgumentTypeError(f"expected a number from 0 up to (not including) 1, got {text!r}")
    return value


#: ``--seed``: a non-negative integer, as NumPy's random generators need.
seed_option = int_option(0, MAX_SEED, "from 0 to 2**64 - 1")
