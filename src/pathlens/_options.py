"""Typed options of a registered method (a datapath method, an attack), checked by name.

A registry declares each method's options once; callers pass them as keyword arguments and
get back every option with its default filled in, or a `PathlensError` naming what was wrong.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from pathlens.errors import PathlensError


@dataclass(frozen=True)
class Option:
    """One option: its name, type (int, float, bool or str), default, bounds and help.

    low/high bound numbers (inclusive unless `low_open`/`high_open`); choices limit strings;
    optional options also accept None.
    """

    name: str
    type: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None
    optional: bool = False

    def describe(self) -> str:
        """The accepted values in words, e.g. "a number > 0 and <= 1"."""
        kind = {int: "an integer", float: "a number", bool: "True or False", str: "a string"}
        text = kind.get(self.type, self.type.__name__)
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            bounds.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        if bounds:
            text += " " + " and ".join(bounds)
        if self.choices:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        return text + (" (or None)" if self.optional else "")

    def check(self, value: Any, owner: str) -> Any:
        """`value` converted to the option's type, or a PathlensError saying what to give."""
        if value is None and self.optional:
            return None
        converted = self._convert(value)
        if converted is None or not self._in_bounds(converted):
            raise PathlensError(f"{owner}: {self.name} must be {self.describe()}; got {value!r}.")
        return converted

    def _convert(self, value: Any) -> Any:
        if self.type is bool:
            return value if isinstance(value, bool) else None
        if isinstance(value, bool):
            return None  # True is an int to Python, never a count or a rate to a user
        if self.type is int:
            return int(value) if isinstance(value, Integral) else None
        if self.type is float:
            ok = isinstance(value, Real) and math.isfinite(float(value))
            return float(value) if ok else None
        return value if isinstance(value, self.type) else None

    def _in_bounds(self, value: Any) -> bool:
        if self.choices is not None and value not in self.choices:
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None:
            return value < self.high if self.high_open else value <= self.high
        return True


def check_options(options: Iterable[Option], given: Mapping[str, Any], owner: str) -> dict:
    """Every option of `options` with its value from `given` (checked) or its default.

    owner names the method in messages, e.g. "method 'gates'". A name that is not an option
    is refused with the valid names and the closest one.
    """
    known = {o.name: o for o in options}
    unknown = [name for name in given if name not in known]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        valid = ", ".join(known) if known else "none"
        raise PathlensError(f"{owner} has no option {name!r}.{hint} Its options are: {valid}.")
    return {name: o.check(given.get(name, o.default), owner) for name, o in known.items()}
