"""Answers about a training run (recorded by `pathlens.Tracker`) for the web app's training
views: the run's structure, scalar timelines, and sampled neuron polylines per site.

Every answer re-reads the run, so a page open during training sees new snapshots; the
`/api/training/events` stream tells it when to ask again.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from pathlens.errors import PathlensError

MAX_POINTS = 2000  # per scalar timeline; longer ones are reduced to min/max per bucket
QUANTILES = (5, 25, 50, 75, 95)
OUTLIER_SCORE = 3.5  # robust z-score of a series' typical distance from the median series


class TrainingView:
    """Thread-safe reader: one `TrainingRun` per thread (they are not shareable)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()

    def run(self):
        from pathlens.training import open_run

        run = getattr(self._local, "run", None)
        if run is None:
            run = self._local.run = open_run(self.path)
        return run

    def progress(self) -> dict:
        """What changes while training runs: snapshot count, last step, status."""
        run = self.run()
        steps = run.snapshots()
        return {
            "snapshots": len(steps),
            "last_snapshot_step": int(steps[-1]) if len(steps) else None,
            "last_step": run.last_step(),
            "status": run.status().get("status", "unknown"),
        }

    def info(self) -> dict:
        run = self.run()
        sites = []
        for name in run.sites():
            site = run.site_info(name)
            sites.append(
                {
                    "name": name,
                    "model": site.get("model"),
                    "module": site.get("module", name),
                    "channels": site["channels"],
                    "kind": site.get("kind", ""),
                }
            )
        models = {
            name: {"class": facts.get("class"), "network": facts.get("network")}
            for name, facts in run.models().items()
        }
        return {
            "every": run.every,
            "models": models,
            "sites": sites,
            "stats": run.stats(),
            "scalars": run.scalar_names(),
            "snapshot_steps": run.snapshots().tolist(),
            **self.progress(),
        }

    def scalars(self, names: list[str], max_points: int = MAX_POINTS) -> dict:
        run = self.run()
        if not names:
            names = run.scalar_names()
        out = {}
        for name in names:
            steps, values = run.scalars(name)
            steps, values = _reduce(steps, values, max_points)
            out[name] = {"steps": steps.tolist(), "values": _json_floats(values)}
        return out

    def series(
        self, site: str, stat: str, n: int = 150, start: int | None = None, stop: int | None = None
    ) -> dict:
        """Sampled polylines of one statistic of a site's neurons over a snapshot window, the
        quantile band of all neurons behind them, and which drawn series are outliers."""
        from pathlens.training import sample_polylines

        if not 1 <= n <= 2000:
            raise PathlensError(f"n must be in 1..2000 (series to draw), not {n}.")
        run = self.run()
        values = run.neuron_series(site, stat, start, stop)  # [snapshots, neurons]
        steps = run.snapshots()[slice(start, stop)]
        neurons = values.shape[1]
        if values.shape[0] == 0:
            return {"site": site, "stat": stat, "steps": [], "neurons": neurons,
                    "drawn": [], "band": {}, "outliers": 0}  # fmt: skip
        series = np.nan_to_num(values.T.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        score = _outlier_score(series)
        outliers = np.flatnonzero(score > OUTLIER_SCORE)
        if series.shape[1] < 2 or neurons <= n:
            chosen = np.arange(neurons)
        else:
            chosen = np.asarray(sample_polylines(series, n))
        # every outlier is drawn (the strongest, up to half the budget), whatever the sample
        strongest = outliers[np.argsort(-score[outliers])][: max(1, n // 2)]
        chosen = np.union1d(chosen, strongest)
        band = np.nanpercentile(values, QUANTILES, axis=1) if neurons else np.zeros((5, 0))
        drawn = [
            {
                "neuron": int(i),
                "outlier": bool(score[i] > OUTLIER_SCORE),
                "score": round(float(score[i]), 3),
                "values": _json_floats(values[:, i]),
            }
            for i in chosen
        ]
        return {
            "site": site,
            "stat": stat,
            "steps": steps.tolist(),
            "neurons": neurons,
            "drawn": drawn,
            "band": {
                f"p{q:02d}": _json_floats(row) for q, row in zip(QUANTILES, band, strict=True)
            },
            "outliers": len(outliers),
        }

    def anomalies(self, start: int | None = None, stop: int | None = None) -> dict:
        """Detector scores per site and neuron, and where and when each failure began."""
        from pathlens.training import detect

        return detect(self.run(), (start, stop))

    def credit(
        self, site: str, neuron: int, start: int | None, stop: int | None, depth: int
    ) -> dict:
        """Which neurons of earlier sites fed `neuron` over the window (see `credit`)."""
        from pathlens.training import credit

        if not 1 <= depth <= 8:
            raise PathlensError(f"depth must be in 1..8 (sites to go back), not {depth}.")
        return credit(self.run(), site, neuron, (start, stop), depth=depth)


def _json_floats(values) -> list[float | None]:
    return [round(float(v), 6) if np.isfinite(v) else None for v in values]


def _reduce(steps: np.ndarray, values: np.ndarray, max_points: int):
    """At most about `max_points` points: each bucket keeps its min and its max, in step order,
    so spikes survive the reduction."""
    if len(steps) <= max_points:
        return steps, values
    buckets = np.array_split(np.arange(len(steps)), max_points // 2)
    keep = []
    for b in buckets:
        v = values[b]
        if np.all(~np.isfinite(v)):
            keep.append(b[0])
            continue
        keep.extend(sorted({b[np.nanargmin(v)], b[np.nanargmax(v)]}))
    keep = np.asarray(keep)
    return steps[keep], values[keep]


def _outlier_score(series: np.ndarray) -> np.ndarray:
    """Per series [N, T]: its mean absolute distance from the per-snapshot median series, as a
    robust z-score over all series (median and MAD)."""
    median = np.median(series, axis=0, keepdims=True)
    spread = np.median(np.abs(series - median), axis=0, keepdims=True)
    scale = np.where(spread > 1e-12, spread, 1.0)
    distance = np.mean(np.abs(series - median) / scale, axis=1)
    centre = np.median(distance)
    mad = np.median(np.abs(distance - centre))
    return (distance - centre) / (1.4826 * mad if mad > 1e-12 else 1.0)
