"""Argument checks shared by the public functions: each refuses a bad value with a
`PathlensError` that names the argument, before any work is done."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

from pathlens.errors import PathlensError


def check_count(name: str, value: Any, least: int = 1) -> int:
    """`value` as an int if it is a whole number >= `least` (True is not a count)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < least:
        raise PathlensError(f"{name} must be a whole number, at least {least}; not {value!r}.")
    return int(value)


def check_number(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
) -> float:
    """`value` as a float if it is finite and within [low, high] ((low, high] if `low_open`)."""
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        if low is not None and high is not None:
            where = f"in {'(' if low_open else '['}{low:g}, {high:g}]"
        elif low is not None:
            where = f"{'>' if low_open else '>='} {low:g}"
        elif high is not None:
            where = f"<= {high:g}"
        else:
            where = "a number"
        raise PathlensError(f"{name} must be {where} (a finite number), not {value!r}.")
    return float(value)
