"""Credit assignment: which neurons of the previous sites fed a neuron over a snapshot window.

The contribution of neuron i of a site's input site to its neuron j at a snapshot is
``W[j, i] * a[i]``: the kernel-summed weight recorded by the tracker (``edge_weight``, see
`pathlens.Tracker`) times i's mean activation on the probe (``act_mean``). It is exactly
what i adds to the mean pre-activation of j when i is constant over positions (a linear
layer, or a convolution away from the borders); a normalisation between the layer and the
site (batch norm) scales all of j's inputs alike and drops out of the normalised shares
below (a negative batch-norm scale flips all their signs).

Over a window the contributions are averaged over its snapshots (non-finite ones skipped),
then normalised per target: ``share[j, i] = c[j, i] / sum_i |c[j, i]|``, so the absolute
shares of one target add up to 1 and their signs say whether i pushes j up or down. The
trace starts at the chosen neuron and follows, `depth` times, the `top` inputs with the
largest absolute shares of every neuron reached. A node's credit is the sum over the paths
from the chosen neuron of the product of the shares along them (1 for the chosen neuron).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pathlens.errors import PathlensError
from pathlens.training._recording import TrainingRun, open_run

_BLOCK = 16  # snapshots read at a time: bounds memory for wide layers


def credit(
    run: TrainingRun | str | Path,
    site: str,
    neuron: int,
    window: tuple[int | None, int | None] | None = None,
    depth: int = 2,
    top: int = 8,
) -> dict:
    """Trace the contributions to one neuron back through `depth` sites, as a graph.

    Args:
        run: a `TrainingRun` (``open_run(...)``) or a run folder.
        site, neuron: the neuron to explain (site name as in ``run.sites()``, channel index).
        window: (start, stop) snapshot indices, sliced like a Python range (``(0, None)``,
            ``(-5, None)`` for the last five); None for every snapshot.
        depth: how many sites to go back.
        top: inputs followed per neuron (those with the largest absolute shares).

    Returns a JSON-ready dict::

        {"site": str, "neuron": int, "depth": int, "top": int,
         "window": {"start": int, "stop": int, "steps": [first step, last step]},
         "nodes": [{"site", "neuron", "credit", "depth", "activation"}],   # root first
         "edges": [{"from": (site, neuron), "to": (site, neuron), "weight", "contribution"}],
         "covered": {"site/neuron": float},    # |shares| kept by `top` for each expanded node
         "stops": [{"site": str, "reason": str}]}   # where the trace ended before `depth`

    ``weight`` is the normalised share of ``from`` in ``to`` (signed, |shares| of a target sum
    to 1 over all its inputs), ``contribution`` the raw mean ``W * a``; ``activation`` is the
    node's mean ``act_mean`` over the window's finite snapshots (None if it has none);
    ``credit`` as in the module docstring. Tuples become lists in JSON.

    >>> graph = credit(open_run("runs/train-vae-fail"), "mu", 9, window=(41, None), top=4)
    >>> graph["nodes"][1]          # the largest contributor one site back
    {'site': 'encoder.3', 'neuron': 17, 'credit': 0.085, 'depth': 1, 'activation': 2.03}
    """
    if isinstance(run, TrainingRun):
        return _credit(run, site, neuron, window, depth, top)
    with open_run(run) as opened:
        return _credit(opened, site, neuron, window, depth, top)


def _credit(run: TrainingRun, site: str, neuron, window, depth, top) -> dict:
    channels = run.site_info(site)["channels"]
    if isinstance(neuron, bool) or not isinstance(neuron, int | np.integer):
        raise PathlensError(f"neuron must be a channel index (int), got {neuron!r}.")
    if not 0 <= neuron < channels:
        raise PathlensError(
            f"Site {site!r} has {channels} neurons: neuron must be in 0..{channels - 1}, "
            f"got {neuron}."
        )
    for value, name, meaning in ((depth, "depth", "sites to go back"),
                                 (top, "top", "inputs followed per neuron")):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < (name == "top"):
            least = 1 if name == "top" else 0
            raise PathlensError(f"{name} must be a whole number >= {least} ({meaning}).")
    lo, hi = snapshot_window(run, window)
    steps = run.snapshots()

    shares_of: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    activation_of: dict[str, np.ndarray] = {}

    def activation(name: str) -> np.ndarray:
        if name not in activation_of:
            activation_of[name] = _finite_mean(run.neuron_series(name, "act_mean", lo, hi))
        return activation_of[name]

    def shares(name: str, source: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in shares_of:
            raw = _mean_contributions(run, name, source, lo, hi)
            total = np.abs(raw).sum(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(total > 0, raw / total, 0.0)
            shares_of[name] = (share, raw)
        return shares_of[name]

    root = (site, int(neuron))
    nodes = {root: {"site": site, "neuron": int(neuron), "credit": 1.0, "depth": 0}}
    edges: list[dict] = []
    covered: dict[str, float] = {}
    stops: list[dict] = []
    frontier = [root]
    for level in range(depth):
        following: list[tuple[str, int]] = []
        for key in frontier:
            name, j = key
            source = run.input_site(name)
            if source is None or "edge_weight" not in run.site_info(name)["arrays"]:
                if not any(s["site"] == name for s in stops):
                    stops.append({"site": name, "reason": _stop_reason(run, name, source)})
                continue
            share, raw = shares(name, source)
            row = share[j]
            order = np.argsort(-np.abs(row), kind="stable")[:top]
            order = [int(i) for i in order if row[i] != 0]
            covered[f"{name}/{j}"] = float(np.abs(row[order]).sum()) if order else 0.0
            for i in order:
                child = (source, i)
                if child not in nodes:
                    nodes[child] = {"site": source, "neuron": i, "credit": 0.0,
                                    "depth": level + 1}  # fmt: skip
                    following.append(child)
                nodes[child]["credit"] += nodes[key]["credit"] * float(row[i])
                edges.append(
                    {
                        "from": child,
                        "to": key,
                        "weight": float(row[i]),
                        "contribution": float(raw[j, i]),
                    }
                )
        frontier = following
        if not frontier:
            break
    ordered = sorted(nodes.values(), key=lambda n: (n["depth"], -abs(n["credit"])))
    for node in ordered:
        value = float(activation(node["site"])[node["neuron"]])
        node["activation"] = value if np.isfinite(value) else None
    return {
        "site": site,
        "neuron": int(neuron),
        "depth": depth,
        "top": top,
        "window": {"start": lo, "stop": hi, "steps": [int(steps[lo]), int(steps[hi - 1])]},
        "nodes": ordered,
        "edges": edges,
        "covered": covered,
        "stops": stops,
    }


def snapshot_window(run: TrainingRun, window) -> tuple[int, int]:
    """(start, stop) snapshot indices of a window given like a Python slice; a clear error
    for an empty one."""
    count = len(run.snapshots())
    if window is None:
        window = (None, None)
    try:
        start, stop = window
        lo, hi, _ = slice(start, stop).indices(count)
    except (TypeError, ValueError):
        raise PathlensError(
            f"window must be (start, stop) snapshot indices or None, got {window!r}."
        ) from None
    if hi <= lo:
        raise PathlensError(
            f"The window {tuple(window)} holds no snapshots (the run has {count}); give "
            "(start, stop) with start < stop, e.g. (0, None) for all."
        )
    return lo, hi


def _mean_contributions(run: TrainingRun, site: str, source: str, lo: int, hi: int):
    """Mean over the window's finite snapshots of W[j, i] * a[i]: [C_out, C_in] float64."""
    total, count = None, None
    for start in range(lo, hi, _BLOCK):
        stop = min(hi, start + _BLOCK)
        weights = run.edge_weights(site, start, stop).astype(np.float64)
        acts = run.neuron_series(source, "act_mean", start, stop).astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            contribution = weights * acts[:, None, :]
        finite = np.isfinite(contribution)
        part = np.where(finite, contribution, 0.0).sum(axis=0)
        seen = finite.sum(axis=0)
        total = part if total is None else total + part
        count = seen if count is None else count + seen
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def _finite_mean(series: np.ndarray) -> np.ndarray:
    finite = np.isfinite(series)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.where(finite, series, 0.0).sum(axis=0, dtype=np.float64)
        return np.where(finite.any(axis=0), total / np.maximum(finite.sum(axis=0), 1), np.nan)


def _stop_reason(run: TrainingRun, site: str, source: str | None) -> str:
    if source is None:
        return "its layer reads no other site (the model input, a residual sum or a concatenation)"
    return "the run has no recorded edge weights for it (edge_weights=False, or too large)"


__all__ = ["credit", "snapshot_window"]
