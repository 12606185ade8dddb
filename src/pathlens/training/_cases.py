"""The training case studies: a DCGAN and a VAE on Fashion-MNIST, each healthy or failing,
recorded with `pathlens.Tracker` and explained with `detect` and `credit`.

- GAN (`gan_case`): the DCGAN of `pathlens.training` (width 32, nz 64, batch 64), Adam with
  betas (0.5, 0.999) and lr 2e-4 for both networks when healthy. Failing: the generator's
  learning rate is 500 times too high (0.1).
- VAE (`vae_case`): `ConvVAE` (width 32, nz 16, batch 64), Adam lr 1e-3 when healthy.
  Failing: halfway through, training goes on with lr 1e-2 (as when a run is resumed from a
  checkpoint with a learning rate ten times too high).

Both write a run folder (the tracker's records, plus meta ``case_study``: the configuration,
the detector report and the credit trace of the worst neuron), so ``pathlens serve RUN``
shows them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from pathlens.errors import PathlensError
from pathlens.training._credit import credit
from pathlens.training._detect import NEURON_FLAGS, detect
from pathlens.training._examples import (
    ConvVAE,
    DCGANDiscriminator,
    DCGANGenerator,
    train_dcgan,
    train_vae,
)
from pathlens.training._recording import open_run
from pathlens.training._tracker import Tracker

GAN_CONFIGS = {
    False: {"lr_g": 2e-4, "lr_d": 2e-4, "width": 32, "nz": 64},
    True: {"lr_g": 1e-1, "lr_d": 2e-4, "width": 32, "nz": 64},
}
VAE_CONFIGS = {
    False: {"lr": 1e-3, "lr_after": 1e-3, "width": 32, "nz": 16},
    True: {"lr": 1e-3, "lr_after": 1e-2, "width": 32, "nz": 16},
}
GAN_STEPS, GAN_EVERY, GAN_SEED = 600, 20, 1
VAE_STEPS, VAE_EVERY, VAE_SEED = 400, 5, 0
PROBE = 64
GRADIENT_FLAGS = ("exploding_gradient", "vanishing_gradient")

Progress = Callable[[int, int, dict], None]


def gan_case(
    run_dir: str | Path,
    *,
    fail: bool = False,
    steps: int = GAN_STEPS,
    every: int = GAN_EVERY,
    seed: int = GAN_SEED,
    images: torch.Tensor | None = None,
    progress: Progress | None = None,
) -> dict:
    """Train the DCGAN case study (healthy, or failing with `fail`) into `run_dir`, then
    detect failures and trace the worst neuron.

    `images`: training images [N, 1, 28, 28] in [-1, 1] (default: Fashion-MNIST train).
    `progress(step, steps, scalars)` is called after every iteration. Returns the dict of
    `explain` plus ``"config"``, ``"seconds"`` and ``"run_dir"``.
    """
    config = dict(GAN_CONFIGS[bool(fail)])
    _check_counts(steps, every)
    if images is None:
        from pathlens.data import fashion_mnist

        images = fashion_mnist("train").images * 2 - 1
    torch.manual_seed(seed)
    G = DCGANGenerator(nz=config["nz"], width=config["width"])
    D = DCGANDiscriminator(width=config["width"])
    latents = torch.randn(PROBE, config["nz"], 1, 1, generator=torch.Generator().manual_seed(1))
    probe = {"generator": latents, "discriminator": images[:PROBE]}
    start = time.perf_counter()
    with Tracker({"generator": G, "discriminator": D}, run_dir, every, probe=probe) as tracker:
        train_dcgan(G, D, images, steps=steps, lr_g=config["lr_g"], lr_d=config["lr_d"],
                    seed=seed, tracker=_Reporting(tracker, steps, progress))  # fmt: skip
    seconds = time.perf_counter() - start
    config.update(model="gan", fail=bool(fail), steps=steps, every=every, seed=seed)
    return _finish(run_dir, config, seconds)


def vae_case(
    run_dir: str | Path,
    *,
    fail: bool = False,
    steps: int = VAE_STEPS,
    every: int = VAE_EVERY,
    seed: int = VAE_SEED,
    images: torch.Tensor | None = None,
    progress: Progress | None = None,
) -> dict:
    """Train the VAE case study (healthy, or failing with `fail`) into `run_dir`, then
    detect failures and trace the worst neuron. `images` in [0, 1]; otherwise as
    `gan_case`."""
    config = dict(VAE_CONFIGS[bool(fail)])
    _check_counts(steps, every)
    if images is None:
        from pathlens.data import fashion_mnist

        images = fashion_mnist("train").images
    torch.manual_seed(seed)
    model = ConvVAE(nz=config["nz"], width=config["width"])
    start = time.perf_counter()
    switch = steps // 2

    def schedule(step: int) -> float:
        return config["lr"] if step < switch else config["lr_after"]

    with Tracker(model, run_dir, every, probe=images[:PROBE], sites=list(ConvVAE.SITES)) as tracker:
        train_vae(model, images, steps=steps, lr=schedule, seed=seed,
                  tracker=_Reporting(tracker, steps, progress))  # fmt: skip
    seconds = time.perf_counter() - start
    config.update(model="vae", fail=bool(fail), steps=steps, every=every, seed=seed,
                  switch_step=switch)  # fmt: skip
    return _finish(run_dir, config, seconds)


def explain(
    run_dir: str | Path,
    window: tuple[int | None, int | None] | None = None,
    *,
    depth: int = 2,
    top: int = 4,
) -> dict:
    """Detector report of a run (over a snapshot `window`, as for `detect`) and the credit
    trace of its worst neuron.

    The worst neuron: of the neuron flags that fired, the one that began first (earliest
    onset snapshot; on a tie, the order of `NEURON_FLAGS`; flags on activations before flags
    on gradients, since credit explains activations); of the neurons of any site whose onset
    for it is that snapshot, the highest-scoring one (the upstream one on a tie). Its trace
    covers the snapshots from the onset to the end. When that neuron's site reads no other
    site (the model input), the trace cannot go back, and ``"next"`` holds the same for the
    worst neuron among the sites that can be traced.

    Returns ``{"detect": detect(...), "worst": {"site", "neuron", "flag", "snapshot",
    "step", "score"} | None, "credit": credit(...) | None, "next": {"worst", "credit"} |
    None}``.
    """
    with open_run(run_dir) as run:
        report = detect(run, window)
        worst = worst_neuron(report)
        trace = _trace(run, worst, depth, top)
        following = None
        if worst is not None and run.input_site(worst["site"]) is None:
            traceable = [s for s in run.sites() if run.input_site(s) is not None]
            other = worst_neuron(report, traceable)
            if other is not None:
                following = {"worst": other, "credit": _trace(run, other, depth, top)}
    return {"detect": report, "worst": worst, "credit": trace, "next": following}


def _trace(run, worst: dict | None, depth: int, top: int) -> dict | None:
    if worst is None:
        return None
    return credit(run, worst["site"], worst["neuron"], window=(worst["snapshot"], None),
                  depth=depth, top=top)  # fmt: skip


def worst_neuron(report: dict, sites: list[str] | None = None) -> dict | None:
    """The neuron `explain` traces (see there), from a `detect` report; only among `sites`
    when given."""
    found = {s: r for s, r in report["sites"].items() if sites is None or s in sites}
    onsets = {}
    for flag in NEURON_FLAGS:
        starts = [r["first"][flag]["snapshot"] for r in found.values() if flag in r["first"]]
        if starts:
            onsets[flag] = min(starts)
    if not onsets:
        return None
    _, snapshot, _, flag = min((f in GRADIENT_FLAGS, onsets[f], i, f)
                               for i, f in enumerate(NEURON_FLAGS) if f in onsets)  # fmt: skip
    best = None
    for site, r in found.items():  # in forward order: upstream wins ties
        for neuron, onset in zip(r["neurons"].get(flag, []), r["onsets"].get(flag, []),
                                 strict=True):  # fmt: skip
            score = r["scores"][flag][neuron]
            if onset == snapshot and (best is None or score > best["score"]):
                step = r["first"][flag]["step"]
                best = {"site": site, "neuron": int(neuron), "flag": flag,
                        "snapshot": int(snapshot), "step": step, "score": float(score)}  # fmt: skip
    return best


# ---------------------------------------------------------------------- helpers
class _Reporting:
    """Passes `step()` to the tracker and reports progress."""

    def __init__(self, tracker: Tracker, total: int, progress: Progress | None):
        self.tracker, self.total, self.progress = tracker, total, progress

    def step(self, **scalars) -> None:
        self.tracker.step(**scalars)
        if self.progress is not None:
            self.progress(self.tracker.steps, self.total, scalars)


def _check_counts(steps: int, every: int) -> None:
    for value, name in ((steps, "steps"), (every, "every")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PathlensError(f"{name} must be a whole number >= 1, got {value!r}.")


def _finish(run_dir, config: dict, seconds: float) -> dict:
    from pathlens.store import RunStore

    result = explain(run_dir)
    with RunStore(Path(run_dir)) as store:
        store.set_meta("case_study", {"config": config, "seconds": seconds, **result})
    return {"run_dir": str(run_dir), "config": config, "seconds": seconds, **result}


__all__ = ["GAN_CONFIGS", "VAE_CONFIGS", "explain", "gan_case", "vae_case", "worst_neuron"]
