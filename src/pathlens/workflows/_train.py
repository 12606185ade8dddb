"""The training case-study workflow: train a DCGAN or VAE with the tracker, then detect
failures and trace the worst neuron."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

from pathlens.errors import PathlensError
from pathlens.store import RunStore
from pathlens.workflows._progress import TRAIN_STAGES, Progress, StageBar
from pathlens.workflows._requests import TrainCaseRequest


@dataclass(frozen=True)
class TrainCaseResult:
    """The case study's report: ``config``, ``seconds``, ``detect`` (the detector report),
    ``worst``, ``credit`` and, where the worst neuron cannot be traced, ``next``."""

    report: dict
    run: Path
    steps: int
    every: int
    seed: int


def case_defaults(case: str) -> dict:
    """The default steps, snapshot interval and seed of a case study."""
    from pathlens.training import gan_case, vae_case

    parameters = inspect.signature(gan_case if case == "gan" else vae_case).parameters
    return {k: parameters[k].default for k in ("steps", "every", "seed")}


def train_case(request: TrainCaseRequest, *, progress: Progress | None = None) -> TrainCaseResult:
    """Train the case study into `request.out` and explain it.

    Progress events carry ``step``, ``steps`` and the latest ``scalars`` (losses).

    >>> result = train_case(TrainCaseRequest(case="vae", fail=True, steps=100))
    >>> result.report["detect"]["first"]
    """
    from pathlens.training import explain as explain_run
    from pathlens.training import gan_case, vae_case

    out = request.out
    if (out / "run.sqlite").exists():
        with RunStore(out, create=False) as store:
            if store.meta("training") is not None:
                raise PathlensError(
                    f"'out': {out} already holds a training run: give another folder, or "
                    "delete this one."
                )
    settings = case_defaults(request.case)
    settings.update({k: v for k in settings if (v := getattr(request, k)) is not None})
    bar = StageBar(TRAIN_STAGES, progress)
    bar("training")

    def moved(step: int, total: int, scalars: dict) -> None:
        bar("training", step / total, detail={"step": step, "steps": total, "scalars": scalars})

    case = gan_case if request.case == "gan" else vae_case
    report = case(out, fail=request.fail, progress=moved, **settings)
    bar("explaining")
    if request.depth != 2 or request.top != 4:  # the case study traced with 2 and 4
        report.update(explain_run(out, depth=request.depth, top=request.top))
    bar.done(f"trained in {report['seconds']:.0f} s")
    return TrainCaseResult(report, out, **settings)
