"""One progress event type for every workflow, and the stage tables that place each stage on
one bar from 0 to 1. Front ends (the CLI's bar, the server's Server-Sent Events, a notebook)
only ever see `ProgressEvent`s."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProgressEvent:
    """Where a workflow stands.

    stage: the library stage ("attack", "datapath", "neurons", ...; "done" at the end);
    fraction: overall progress in [0, 1], never decreasing within one workflow;
    message: what it is doing, for a person;
    detail: facts of the stage, e.g. ``set`` ("A"), ``step``, ``max_steps``,
    ``kept_fraction``, ``sufficiency`` and ``gates`` (site -> tensor) while gates optimise.

    >>> def show(event: ProgressEvent) -> None:
    ...     print(f"{event.fraction:.0%} {event.message}")
    >>> explain(ExplainRequest(source=9, target=7, out="runs/demo"), progress=show)
    """

    stage: str
    fraction: float
    message: str
    detail: dict = field(default_factory=dict)


Progress = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class Stage:
    """A stage of a workflow: its key (library stage, plus the image set where there is
    one), its share of the bar and what it says to a person."""

    key: str
    share: float
    message: str


# Shares measured on the demo ResNet (seconds per stage of a default run).
EXPLAIN_STAGES = (
    Stage("loading", 0.02, "loading the model and data"),
    Stage("attack", 0.15, "attacking the source images"),
    Stage("datapath A", 0.2, "datapath of A"),
    Stage("datapath B", 0.15, "datapath of B"),
    Stage("datapath C", 0.15, "datapath of C"),
    Stage("comparison", 0.02, "comparing the datapaths"),
    Stage("contributions", 0.05, "measuring channel contributions"),
    Stage("neurons", 0.25, "collecting neuron features"),
    Stage("saving", 0.01, "saving"),
)
EXTRACT_STAGES = (
    Stage("loading", 0.05, "loading the model and images"),
    Stage("scoring", 0.75, "scoring channels"),
    Stage("searching", 0.15, "searching the sparsest faithful threshold"),
    Stage("saving", 0.05, "saving"),
)
SUBSET_STAGES = (
    Stage("loading", 0.02, "loading the images"),
    Stage("datapath", 0.9, "datapath of the subset"),
    Stage("searching", 0.07, "searching the sparsest faithful threshold"),
    Stage("saving", 0.01, "saving"),
)
MECHANISM_STAGES = (
    Stage("loading", 0.02, "loading the model and data"),
    Stage("pass", 0.35, "pass over the images"),
    Stage("patches", 0.08, "cropping patches"),
    Stage("clustering", 0.1, "clustering channels"),
    Stage("contributions", 0.25, "measuring contributions"),
    Stage("bundling", 0.05, "bundling edges"),
    Stage("maximization", 0.14, "activation maximisation"),
    Stage("saving", 0.01, "saving"),
)
TRAIN_STAGES = (
    Stage("training", 0.95, "training"),
    Stage("explaining", 0.05, "detecting failures and tracing credit"),
)


class StageBar:
    """Turns (stage key, share done within it) into `ProgressEvent`s on one 0..1 bar.

    Stages left out of a run (`skip`) take no room; the fraction never goes back.
    """

    def __init__(self, stages: Iterable[Stage], progress: Progress | None, skip=()):
        self.stages = {s.key: s for s in stages if s.key not in skip}
        total = sum(s.share for s in self.stages.values())
        self._start, at = {}, 0.0
        for stage in self.stages.values():
            self._start[stage.key] = at / total
            at += stage.share
        self._total = total
        self._progress = progress
        self._last = 0.0

    def __call__(
        self, key: str, within: float = 0.0, *, stage: str | None = None, detail=None
    ) -> None:
        """Report stage `key`, `within` (0..1) of the way through it."""
        if self._progress is None or key not in self.stages:
            return
        share = self.stages[key].share / self._total
        fraction = self._start[key] + share * min(max(within, 0.0), 1.0)
        self._last = max(self._last, fraction)
        self._progress(
            ProgressEvent(
                stage=stage or key,
                fraction=round(self._last, 4),
                message=self.stages[key].message,
                detail=dict(detail or {}),
            )
        )

    def done(self, message: str = "done", detail=None) -> None:
        self._last = 1.0
        if self._progress is not None:
            self._progress(ProgressEvent("done", 1.0, message, dict(detail or {})))
