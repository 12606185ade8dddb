"""The datapath methods, each declared once next to its scorer with its typed options.

`extract_datapath`, the CLI, the benchmarks and the docs read `METHODS`; a new method is one
scorer with one `@register_method(...)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pathlens._options import Option, check_options


@dataclass(frozen=True)
class DatapathMethod:
    """A datapath method: how it scores channels and how its scores are cut into a mask.

    cut: "global" when the scores share one scale across sites (one threshold for the whole
    network; the scorer returns scores, a mask it already checked or None, and candidate
    scores); "per_site" when they do not (the same kept fraction at every site; the scorer
    returns scores). options: the keyword settings `extract_datapath` accepts for it.
    """

    name: str
    scorer: Callable[..., Any]
    cut: Literal["global", "per_site"]
    help: str
    options: tuple[Option, ...]

    def check(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Every option with its given (checked) or default value; PathlensError if wrong."""
        return check_options(self.options, settings, f"Datapath method {self.name!r}")


METHODS: dict[str, DatapathMethod] = {}


def register_method(
    name: str, *, cut: Literal["global", "per_site"], help: str, options: tuple[Option, ...] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the decorated scorer as datapath method `name` (see `DatapathMethod`)."""

    def register(scorer: Callable[..., Any]) -> Callable[..., Any]:
        if name in METHODS:
            raise ValueError(f"datapath method {name!r} is registered twice")  # a bug, not input
        METHODS[name] = DatapathMethod(name, scorer, cut, help, tuple(options))
        return scorer

    return register
