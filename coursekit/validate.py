"""Parameter checks that fail with a message a learner can act on.

Every error names the parameter, the value it got and what is allowed, for example
``ValueError: steps=-5 is not allowed: it must be an integer >= 1``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable


def _reject(name: str, value: object, allowed: str) -> ValueError:
    return ValueError(f"{name}={value!r} is not allowed: it must be {allowed}")


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def integer(name: str, value: object, *, minimum: int | None = None) -> int:
    """An integer, at least ``minimum`` when given. Returns it as ``int``."""
    allowed = "an integer" if minimum is None else f"an integer >= {minimum}"
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise _reject(name, value, allowed)
    if minimum is not None and value < minimum:
        raise _reject(name, value, allowed)
    return int(value)


def positive(name: str, value: object) -> float:
    """A finite real number > 0."""
    if not _is_real(value) or not math.isfinite(value) or value <= 0:
        raise _reject(name, value, "a finite number > 0")
    return float(value)


def non_negative(name: str, value: object) -> float:
    """A finite real number >= 0."""
    if not _is_real(value) or not math.isfinite(value) or value < 0:
        raise _reject(name, value, "a finite number >= 0")
    return float(value)


def in_interval(
    name: str, value: object, low: float, high: float, *, closed: str = "both"
) -> float:
    """A real number in an interval; ``closed`` is 'both', 'left', 'right' or 'neither'."""
    left = "[" if closed in ("both", "left") else "("
    right = "]" if closed in ("both", "right") else ")"
    allowed = f"a number in {left}{low}, {high}{right}"
    if not _is_real(value) or math.isnan(value):
        raise _reject(name, value, allowed)
    above = value >= low if left == "[" else value > low
    below = value <= high if right == "]" else value < high
    if not (above and below):
        raise _reject(name, value, allowed)
    return float(value)


def one_of(name: str, value: object, choices: Iterable[object]) -> object:
    """One of a fixed set of choices."""
    choices = tuple(choices)
    if value not in choices:
        raise _reject(name, value, "one of " + ", ".join(repr(c) for c in choices))
    return value
