"""Turning channel scores into the sparsest hard mask that meets the fidelity targets."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from pathlens.datapath._problem import Problem, keep_top


def _smallest_passing(
    problem: Problem,
    n: int,
    gates_at: Callable[[int], dict[str, torch.Tensor]],
    known: dict[str, torch.Tensor] | None = None,
) -> tuple[dict[str, torch.Tensor], bool]:
    """Binary search for the smallest option index in [0, n) whose gates pass the check.

    Options are ordered by kept channels; passing is assumed to be monotone in that order,
    and whatever is returned was checked. `known`, a mask already checked to pass, stands in
    for the last option. When even the last option fails, it is returned with False.
    """
    last = known if known is not None else gates_at(n - 1)
    if known is None and not problem.check(last)[0]:
        return last, False
    lo, hi, best = 0, n - 1, last
    while lo < hi:
        mid = (lo + hi) // 2
        gates = gates_at(mid)
        if problem.check(gates)[0]:
            hi, best = mid, gates
        else:
            lo = mid + 1
    return best, True


def search_per_site(
    problem: Problem, scores: dict[str, torch.Tensor]
) -> tuple[dict[str, torch.Tensor], bool]:
    """The same fraction of top channels at every site (at least one), smallest that passes."""
    levels = max(s.channels for s in problem.sites)

    def gates_at(level: int) -> dict[str, torch.Tensor]:
        fraction = (level + 1) / levels
        counts = {s.name: max(1, math.ceil(fraction * s.channels - 1e-9)) for s in problem.sites}
        return keep_top(scores, counts)

    return _smallest_passing(problem, levels, gates_at)


def search_global(
    problem: Problem,
    scores: dict[str, torch.Tensor],
    known: dict[str, torch.Tensor] | None = None,
) -> tuple[dict[str, torch.Tensor], bool]:
    """One threshold over all sites' scores (at least one channel per site), sparsest passing.

    Right for scores on a common scale, such as gate values in [0, 1]. With `known` (a mask
    already checked to pass), only sparser thresholds are searched.
    """
    names = [s.name for s in problem.sites]
    forced, rest = [], []
    for name in names:
        order = torch.argsort(scores[name], descending=True, stable=True).tolist()
        forced.append((name, order[0]))
        rest += [(scores[name][c].item(), name, c) for c in order[1:]]
    rest.sort(key=lambda t: -t[0])

    def gates_at(k: int) -> dict[str, torch.Tensor]:
        gates = {name: torch.zeros_like(scores[name]) for name in names}
        for name, c in forced:
            gates[name][c] = 1.0
        for _, name, c in rest[:k]:
            gates[name][c] = 1.0
        return gates

    n = len(rest) + 1
    if known is not None:
        n = min(n, sum(int(g.sum()) for g in known.values()) - len(names) + 1)
    return _smallest_passing(problem, n, gates_at, known)
