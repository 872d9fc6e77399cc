"""Argument checks shared by the engine's constructors: a ValueError that names the argument, so a
mistake is caught where it is made rather than as a NaN a thousand steps later."""

import math
import numbers


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def positive(name, value):
    """A finite number > 0 (a learning rate, a std)."""
    if _number(name, value) <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


def non_negative(name, value):
    """A finite number >= 0 (a weight decay)."""
    if _number(name, value) < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def fraction(name, value, closed=False):
    """A number in [0, 1) (a momentum, a decay rate, a dropout ratio), or [0, 1] when closed."""
    value = _number(name, value)
    if not (0 <= value <= 1 if closed else 0 <= value < 1):
        raise ValueError(f"{name} must be in [0, 1{']' if closed else ')'}, got {value!r}")
    return value


def count(name, value, low=1):
    """A whole number >= low (a layer size, a batch size)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(value)
