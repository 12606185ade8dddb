"""Anomaly detectors over a recorded training run: per neuron, per site, and for GANs per run.

Every detector turns what the tracker recorded into an *evidence* value per neuron and
snapshot, in the detector's own unit, that is >= 0 exactly where its condition holds, and a
*score* ``clip(0.5 + evidence / 2, 0, 1)``: 0.5 at the threshold, 1 one unit beyond it, 0 one
unit short of it. Dead, saturated and vanishing neurons are judged by their state at the end
of the window (the median evidence of its last three snapshots); exploding ones by their peak
over the window (a transient explosion, or one that ended in NaN, is a failure too).

Neuron detectors, with m = sqrt(act_mean² + act_std²) the RMS activation on the probe, and
gradient norms averaged over 5 snapshots (one batch's gradient is noisy, a sparse unit's
often exactly zero):

- ``dead``: m <= tol, tol = 1e-6 + 1e-3 x the site's median m over the window; evidence
  log10(tol / m) (decades below the tolerance).
- ``saturated``: a bounded activation (Tanh, Sigmoid, Hardtanh, Hardsigmoid, Softsign,
  ReLU6) whose mean is within 5 % of a bound, u = |mean - centre| / half-range >= 0.95,
  evidence (u - 0.95) / 0.05; any other activation that is *stuck*: alive (not dead) but
  constant, std / |mean| <= 0.01, evidence log10(0.01 x |mean| / std).
- ``exploding_activation`` / ``exploding_gradient``: growth L, in decades, of m (or of the
  gradient norm) over the larger of two references: the neuron's start (the median over the
  reference period: the first tenth of the window, at least 3 snapshots, after the run's
  very first snapshot) and its median over that many snapshots before (so that a sudden jump
  after slow drift counts); values below 0.1 x the site's median start count as that. P:
  log10 of the neuron over its site's median neuron at that snapshot. Evidence max(L - a,
  min(L - b, P - 1)) with (a, b) = `GROWTH`: it grew a decades, or b decades and is 10-fold
  its site's typical neuron. A value that overflows (inf, or NaN after finite values) counts
  as exploded.
- ``vanishing_activation`` / ``vanishing_gradient``: the same with decay against the start
  (floor 1e-3 x the site's median start) and P <= -1. Dead neurons are not also called
  vanishing.

The onset of a flagged neuron: for dead, saturated and vanishing, the first snapshot from
which the condition held to the end of the window; for exploding, the start of the run of
snapshots each at least 1.5-fold the median of those before it that led to its first flagged
snapshot (where the growth began, not where it crossed the threshold: a downstream site
amplifies and crosses first), or where it overflowed when it never crossed with finite
values (NaNs spread through a network in one update and say nothing about where it began). A
site's onset is its flagged neurons' earliest; the run's ``first`` for a flag is the site
with the earliest onset, the earlier site in forward order on a tie (where a failure starts
is upstream of where it spreads).

GAN detectors (a run with a generator and a discriminator model), flagged when their
condition held for a sustained stretch anywhere in the window (``at_end`` says whether it
still holds at the end):

- ``mode_collapse``: the generator's output diversity on its probe (recorded by the
  tracker) fell to half its own peak so far and, when the discriminator's probe has the
  generator's output shape (real data), below half the real data's: evidence
  log2(0.5 x peak / diversity), and log2(0.5 / ratio to real data); 3 snapshots in a row.
- ``d_domination``: the discriminator's loss (smoothed over a twentieth of the window) fell
  to <= 0.1 while the generator's rose to >= 1.5 x its lowest so far: evidence
  min(log10(0.1 / loss_d), log2(loss_g / (1.5 x lowest loss_g))), a twentieth of the
  window's steps in a row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pathlens.errors import PathlensError
from pathlens.training._credit import snapshot_window
from pathlens.training._recording import TrainingRun, open_run

NEURON_FLAGS = (
    "dead",
    "saturated",
    "exploding_activation",
    "vanishing_activation",
    "exploding_gradient",
    "vanishing_gradient",
)
RUN_FLAGS = ("mode_collapse", "d_domination")

BOUNDED = {
    "Tanh": (-1.0, 1.0),
    "Sigmoid": (0.0, 1.0),
    "Hardtanh": (-1.0, 1.0),
    "Hardsigmoid": (0.0, 1.0),
    "Softsign": (-1.0, 1.0),
    "ReLU6": (0.0, 6.0),
}
"""Output range of the bounded activations (Hardtanh with its default range)."""

_RISING = np.log10(1.5)
GROWTH = {
    "exploding_activation": (1.5, 1.0),
    "vanishing_activation": (2.0, 1.0),
    "exploding_gradient": (3.0, 2.0),
    "vanishing_gradient": (3.0, 2.0),
}
"""Decades of growth (or decay) that flag a neuron by themselves, and that flag it together
with being 10-fold above (or below) its site's median then. Gradient norms of a healthy GAN
swing 100-fold from one snapshot to the next, hence the larger ones for gradients."""


def detect(
    run: TrainingRun | str | Path,
    window: tuple[int | None, int | None] | None = None,
    *,
    generator: str | None = None,
    discriminator: str | None = None,
    losses: tuple[str, str] = ("loss_d", "loss_g"),
) -> dict:
    """Score every neuron, site and (for a GAN) the run for training failures.

    Args:
        run: a `TrainingRun` or a run folder.
        window: (start, stop) snapshot indices like a Python slice; None for all.
        generator, discriminator: model names of a GAN; by default the models whose names
            contain "gen" and "disc" (as in ``{"generator": G, "discriminator": D}``).
        losses: names of the discriminator's and the generator's loss scalars.

    Returns a JSON-ready dict (scores in 0..1, 0.5 at the flag threshold; see the module
    docstring for each detector)::

        {"window": {"start", "stop", "steps": [first, last]},
         "sites": {site: {"score": float,                     # max over flags and neurons
                          "flags": [flag, ...],                # flags with a flagged neuron
                          "neurons": {flag: [index, ...]},     # flagged, worst first
                          "onsets": {flag: [snapshot, ...]},   # per flagged neuron, same order
                          "scores": {flag: [float per neuron]},
                          "first": {flag: {"snapshot", "step"}},
                          "worst": {"neuron", "flag", "score"} | None}},
         "run": {"mode_collapse": None | {"flag", "score", "at_end", "onset": {"snapshot",
                     "step"} | None, "generator", "against": "real data" | "peak",
                     "reference", "ratio", "lowest", "steps": [...], "diversity": [...]},
                 "d_domination": None | {"flag", "score", "at_end", "onset", "loss_d",
                     "loss_g", "loss_g_min", "lowest_loss_d"}},
         "first": {flag: {"site", "snapshot", "step", "neurons"}},   # where and when it began
         "summary": [flag, ...]}                                     # flags that fired

    Flags: `NEURON_FLAGS` per neuron, `RUN_FLAGS` per run (their ``first`` entries have
    site None). Numbers that are not finite are None.

    >>> report = detect(open_run("runs/train-vae-fail"))
    >>> report["first"]["exploding_activation"]
    {'site': 'encoder.3', 'snapshot': 41, 'step': 205, 'neurons': [44, 55, 17, 19, 26]}
    """
    if isinstance(run, TrainingRun):
        return _detect(run, window, generator, discriminator, losses)
    with open_run(run) as opened:
        return _detect(opened, window, generator, discriminator, losses)


def _detect(run: TrainingRun, window, generator, discriminator, losses) -> dict:
    lo, hi = snapshot_window(run, window)
    steps = run.snapshots()[lo:hi]
    sites = {}
    for site in run.sites():
        sites[site] = _site_report(run, site, lo, hi, steps)
    first = {}
    order = run.sites()
    for flag in NEURON_FLAGS:
        candidates = [
            (report["first"][flag]["snapshot"], order.index(site), site)
            for site, report in sites.items()
            if flag in report["first"]
        ]
        if candidates:
            snapshot, _, site = min(candidates)
            onset = sites[site]["_onset"][flag]
            earliest = [int(n) for n in sites[site]["neurons"][flag] if onset[n] == snapshot]
            first[flag] = {
                "site": site,
                "snapshot": int(snapshot),
                "step": int(steps[snapshot - lo]),
                "neurons": earliest,
            }
    for report in sites.values():
        del report["_onset"]
    gan = _gan_models(run, generator, discriminator)
    run_flags = {"mode_collapse": None, "d_domination": None}
    if gan is not None:
        run_flags["mode_collapse"] = _mode_collapse(run, gan[0], gan[1], lo, hi, steps)
        run_flags["d_domination"] = _d_domination(run, losses, steps)
        for flag, found in run_flags.items():
            if found is not None and found["flag"]:
                first[flag] = {"site": None, "snapshot": found["onset"]["snapshot"],
                               "step": found["onset"]["step"], "neurons": []}  # fmt: skip
    return {
        "window": {"start": lo, "stop": hi, "steps": [int(steps[0]), int(steps[-1])]},
        "sites": sites,
        "run": run_flags,
        "first": first,
        "summary": [f for f in (*NEURON_FLAGS, *RUN_FLAGS) if f in first],
    }


# ---------------------------------------------------------------------- neurons
def _site_report(run: TrainingRun, site: str, lo: int, hi: int, steps) -> dict:
    mean = run.neuron_series(site, "act_mean", lo, hi).astype(np.float64)
    std = run.neuron_series(site, "act_std", lo, hi).astype(np.float64)
    grad = run.neuron_series(site, "grad_norm", lo, hi).astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        magnitude = np.sqrt(mean**2 + std**2)
    evidence: dict[str, np.ndarray] = {}  # flag -> [T, N]
    onset_condition: dict[str, np.ndarray] = {}

    scale = _nanmedian(np.where(np.isfinite(magnitude), magnitude, np.nan))
    tol = 1e-6 + 1e-3 * (0.0 if np.isnan(scale) else scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        dead = np.log10(tol / magnitude)
    dead = np.where(np.isfinite(magnitude), dead, -np.inf)
    evidence["dead"] = dead
    onset_condition["dead"] = dead >= 0
    is_dead = dead >= 0

    evidence["saturated"] = _saturation(run.activation(site), mean, std, is_dead)
    onset_condition["saturated"] = evidence["saturated"] >= 0

    base, span = _reference_period(len(mean), lo)
    overflowed: dict[str, np.ndarray] = {}
    for kind, series in (("activation", magnitude), ("gradient", grad)):
        if np.isnan(series).all():
            continue  # no weight layer (a residual sum): no gradient statistics
        if kind == "gradient":
            # one batch's gradient is noisy, and a sparse unit's is often exactly zero
            series = _rolling_mean(series, 5)
        blown = ~np.isfinite(series) & (np.cumsum(np.isfinite(series), axis=0) > 0)
        peers = _peer_ratio(series)
        since_start = _growth(series, 0.1, base, span, trailing=False)
        recent = _growth(series, 0.1, base, span, trailing=True)
        with np.errstate(invalid="ignore"):
            growth = np.fmax(since_start, recent)
            big, small = GROWTH[f"exploding_{kind}"]
            exploding = np.maximum(growth - big, np.minimum(growth - small, peers - 1))
        exploding = np.where(np.isnan(exploding), -np.inf, exploding)
        # A value that overflowed (inf, or NaN after finite values) counts as exploded, the
        # neuron ranked by how far it had grown before. Its onset is where it crossed the
        # threshold with finite values, or else where it overflowed: NaNs spread through the
        # whole network in one update and say nothing about where the growth began.
        overflowed[kind] = blown
        peak = np.maximum(exploding.max(axis=0), 0.0)
        exploding = np.where(blown, np.broadcast_to(peak, exploding.shape), exploding)
        evidence[f"exploding_{kind}"] = exploding
        # where the growth began: the run of snapshots each at least 1.5 times the median of
        # the span before it (slow drift since the start does not count)
        rising = np.nan_to_num(recent, nan=-np.inf) >= _RISING
        onset_condition[f"exploding_{kind}"] = rising | blown
        decay = _growth(series, 1e-3, base, span, trailing=False)
        with np.errstate(invalid="ignore"):
            big, small = GROWTH[f"vanishing_{kind}"]
            vanishing = np.maximum(-decay - big, np.minimum(-decay - small, -peers - 1))
        vanishing = np.where(is_dead | blown | np.isnan(vanishing), -np.inf, vanishing)
        evidence[f"vanishing_{kind}"] = vanishing
        onset_condition[f"vanishing_{kind}"] = vanishing >= 0

    neurons, scores, first, onsets, onset_of = {}, {}, {}, {}, {}
    worst = None
    for flag in NEURON_FLAGS:
        if flag not in evidence:
            continue
        e = evidence[flag]
        # growth: the peak over the window (a transient explosion is a failure too); the
        # other flags: the state at the end
        end = e.max(axis=0) if flag.startswith("exploding") else _end(e)
        score = np.clip(0.5 + end / 2, 0.0, 1.0)
        flagged = np.flatnonzero(end >= 0)
        flagged = flagged[np.argsort(-score[flagged], kind="stable")]
        scores[flag] = [round(float(s), 4) for s in score]
        if len(flagged) == 0:
            continue
        neurons[flag] = [int(n) for n in flagged]
        if flag.startswith("exploding"):
            blown = overflowed[flag.split("_")[1]]
            onset = _first_onset(onset_condition[flag] & ~blown, np.where(blown, -np.inf, e))
            first_blown = np.where(blown.any(axis=0), np.argmax(blown, axis=0), len(e))
            crossed = ((e >= 0) & ~blown).any(axis=0)
            onset = np.where(crossed, onset, first_blown) + lo
        else:
            onset = _onset(onset_condition[flag], e) + lo
        onsets[flag] = onset
        onset_of[flag] = [int(onset[n]) for n in flagged]
        start = int(onset[flagged].min())
        first[flag] = {"snapshot": start, "step": int(steps[start - lo])}
        best = int(flagged[0])
        if worst is None or score[best] > worst["score"]:
            worst = {"neuron": best, "flag": flag, "score": float(score[best])}
    site_score = max((max(s) for s in scores.values() if s), default=0.0)
    return {
        "score": float(site_score),
        "flags": [f for f in NEURON_FLAGS if f in neurons],
        "neurons": neurons,
        "onsets": onset_of,
        "scores": scores,
        "first": first,
        "worst": worst,
        "_onset": onsets,
    }


def _saturation(activation: str, mean, std, is_dead) -> np.ndarray:
    if activation in BOUNDED:
        low, high = BOUNDED[activation]
        centre, half = (low + high) / 2, (high - low) / 2
        return (np.abs(mean - centre) / half - 0.95) / 0.05
    with np.errstate(divide="ignore", invalid="ignore"):
        stuck = np.log10(0.01 * np.abs(mean) / std)
    stuck = np.where(np.isnan(stuck), -np.inf, stuck)
    return np.where(is_dead | ~np.isfinite(mean), -np.inf, stuck)


def _reference_period(count: int, lo: int) -> tuple[int, int]:
    """(first snapshot, length) of the reference period, relative to the window: its first
    tenth (at least 3 snapshots where the window has more), after the run's first snapshot
    (the state after one update, often orders of magnitude away from where training settles
    a few updates later)."""
    base = 1 if lo == 0 and count >= 4 else 0
    return base, max(1, min(3, count - base - 1), (count - base) // 10)


def _peer_ratio(series: np.ndarray) -> np.ndarray:
    """log10 of each neuron's value [T, N] over the median of its site's neurons then."""
    finite = np.where(np.isfinite(series), series, np.nan)
    median = _nanmedian(finite, axis=1)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10((finite + 1e-12) / (median + 1e-12))


def _growth(
    series: np.ndarray, floor_share: float, base: int, span: int, *, trailing: bool
) -> np.ndarray:
    """log10 growth of each neuron [T, N] against its start (the median over the reference
    period) or, with `trailing`, against its median over the `span` snapshots before. NaN
    before the reference period ends."""
    count = len(series)
    finite = np.where(np.isfinite(series), series, np.nan)
    start = _nanmedian(finite[base : base + span], axis=0)  # [N]
    start = np.where(np.isnan(start), 0.0, start)
    floor = floor_share * (float(np.median(start)) if start.size else 0.0) + 1e-12
    reference = np.broadcast_to(start, series.shape).copy()
    if trailing and count > span:
        windows = np.lib.stride_tricks.sliding_window_view(finite, span, axis=0)  # [T-s+1,N,s]
        before = _nanmedian(windows[:-1], axis=2)  # the span snapshots before t = span..T-1
        reference[span:] = before
        reference[:span] = np.nan
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        growth = np.log10((series + floor) / (reference + floor))
    growth[: base + span] = np.nan
    return np.where(np.isfinite(series), growth, np.nan)


def _rolling_mean(series: np.ndarray, width: int) -> np.ndarray:
    """Mean of each snapshot and the `width - 1` before it (fewer at the start)."""
    padded = np.concatenate([np.full((width - 1, series.shape[1]), np.nan), series])
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=0)
    with np.errstate(invalid="ignore"):
        return _nanmean(windows, axis=2)


def _nanmean(values: np.ndarray, axis):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def _end(evidence: np.ndarray) -> np.ndarray:
    tail = evidence[-3:]
    return np.median(np.where(np.isnan(tail), -np.inf, tail), axis=0)


def _onset(condition: np.ndarray, evidence: np.ndarray) -> np.ndarray:
    """Per neuron, the first snapshot (within the window) from which `condition` held to the
    end; the last snapshot where it does not hold at the end."""
    count = len(condition)
    broken = ~(condition | (evidence >= 0))
    last_broken = np.where(broken.any(axis=0), count - 1 - np.argmax(broken[::-1], axis=0), -1)
    return np.minimum(last_broken + 1, count - 1)


def _first_onset(condition: np.ndarray, evidence: np.ndarray) -> np.ndarray:
    """Per neuron, the start of the run of snapshots satisfying `condition` that contains its
    first flagged snapshot (evidence >= 0): where the growth that crossed the threshold
    began."""
    fired = evidence >= 0
    first = np.argmax(fired, axis=0)
    held = condition | fired
    onset = first.copy()
    for n in np.flatnonzero(fired.any(axis=0)):
        t = first[n]
        while t > 0 and held[t - 1, n]:
            t -= 1
        onset[n] = t
    return onset


def _nanmedian(values: np.ndarray, axis=None):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
        return np.nanmedian(values, axis=axis)


# ---------------------------------------------------------------------- GANs
def _gan_models(run: TrainingRun, generator, discriminator) -> tuple[str, str] | None:
    models = list(run.models())
    for given, what in ((generator, "generator"), (discriminator, "discriminator")):
        if given is not None and given not in models:
            raise PathlensError(
                f"The run has no model named {given!r} ({what}); its models: {models}."
            )
    g = generator or next((m for m in models if "gen" in m.lower()), None)
    d = discriminator or next((m for m in models if "disc" in m.lower()), None)
    if g is None or d is None or g == d:
        return None
    return g, d


def _mode_collapse(run: TrainingRun, g: str, d: str, lo: int, hi: int, steps) -> dict | None:
    diversity = run.output_diversity(g, lo, hi).astype(np.float64)
    if not np.isfinite(diversity).any():
        return None
    reference, against = None, "peak"
    try:
        real = run._store.load_array(f"training/probe/{d}").double()
    except Exception:  # an old run or a probe not stored: compare with the peak
        real = None
    if real is not None and list(real.shape[1:]) == _output_shape(run, g):
        flat = real.reshape(len(real), -1)
        reference, against = float(flat.var(0, correction=0).mean().sqrt()), "real data"
    # A collapse is a fall: to half the generator's own peak so far (an untrained generator's
    # samples are alike too, but that is not a collapse), and below half the real data's.
    peak = np.fmax.accumulate(np.where(np.isfinite(diversity), diversity, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = diversity / reference if reference else np.where(peak > 0, diversity / peak, 1.0)
        evidence = np.log2(0.5 * peak / diversity)
        if reference:
            evidence = np.minimum(evidence, np.log2(0.5 / ratio))
    evidence = np.where(np.isnan(evidence), -np.inf, evidence)
    found = _sustained(evidence, 3, steps, lo)
    found.update(
        generator=g,
        against=against,
        reference=reference,
        ratio=_finite(ratio[-1]),
        lowest=_finite(np.nanmin(ratio)),
        steps=[int(s) for s in steps],
        diversity=[_finite(v) for v in diversity],
    )
    return found


def _sustained(evidence: np.ndarray, length: int, steps, lo: int) -> dict:
    """Flag, score and onset of a condition (evidence >= 0) held `length` samples in a row.

    Score: from the strongest level held that long; onset: the start of its first such run;
    ``at_end``: whether it holds at the end."""
    length = max(1, min(length, len(evidence)))
    windows = np.lib.stride_tricks.sliding_window_view(evidence, length)
    held = windows.min(axis=1)
    peak = float(held.max())
    flagged = peak >= 0
    start = int(np.argmax(held >= 0)) if flagged else None
    return {
        "flag": bool(flagged),
        "score": float(np.clip(0.5 + peak / 2, 0.0, 1.0)),
        "at_end": bool(_end(evidence[:, None])[0] >= 0),
        "onset": None if start is None else {"snapshot": start + lo, "step": int(steps[start])},
    }


def _output_shape(run: TrainingRun, model: str) -> list[int] | None:
    shape = run.models()[model].get("output_shape")
    return None if shape is None else list(shape)


def _d_domination(run: TrainingRun, losses: tuple[str, str], steps) -> dict | None:
    names = run.scalar_names()
    if not all(name in names for name in losses):
        return None
    first, last = int(steps[0]), int(steps[-1])
    (at_d, loss_d), (at_g, loss_g) = (run.scalars(name) for name in losses)
    at, in_d, in_g = np.intersect1d(at_d, at_g, return_indices=True)
    keep = (at >= first) & (at <= last)
    if keep.sum() < 2:
        return None
    at, loss_d, loss_g = at[keep], loss_d[in_d[keep]], loss_g[in_g[keep]]
    width = max(1, len(at) // 20)
    smooth_d, smooth_g = _smooth(loss_d, width), _smooth(loss_g, width)
    minimum_g = np.fmin.accumulate(np.where(np.isfinite(smooth_g), smooth_g, np.inf))
    with np.errstate(divide="ignore", invalid="ignore"):
        low_d = np.log10(0.1 / np.maximum(smooth_d, 1e-12))
        rising_g = np.log2(smooth_g / (1.5 * np.maximum(minimum_g, 1e-12)))
        evidence = np.minimum(low_d, rising_g)
    evidence = np.where(np.isnan(evidence), -np.inf, evidence)
    snapshots = run.snapshots()
    found = _sustained(evidence, width, at, 0)
    if found["onset"] is not None:
        step = found["onset"]["step"]
        index = int(np.searchsorted(snapshots, step, side="right") - 1)
        found["onset"] = {"snapshot": max(index, 0), "step": step}
    found.update(
        loss_d=_finite(smooth_d[-1]),
        loss_g=_finite(smooth_g[-1]),
        loss_g_min=_finite(minimum_g[-1]),
        lowest_loss_d=_finite(np.nanmin(smooth_d)),
    )
    return found


def _finite(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _smooth(values: np.ndarray, width: int) -> np.ndarray:
    """Trailing mean over `width` steps (NaN-aware)."""
    finite = np.isfinite(values)
    filled = np.where(finite, values, 0.0)
    total = np.cumsum(filled)
    count = np.cumsum(finite)
    total = np.concatenate([[0.0], total])
    count = np.concatenate([[0], count])
    index = np.arange(1, len(values) + 1)
    start = np.maximum(index - width, 0)
    n = count[index] - count[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (total[index] - total[start]) / np.maximum(n, 1), np.nan)


__all__ = ["BOUNDED", "NEURON_FLAGS", "RUN_FLAGS", "detect"]
