"""The answers of the training endpoints (runs recorded by `pathlens.Tracker`), as pydantic
models. A value that was NaN or infinite is sent as null."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pathlens.server._models import Answer, NetworkInfo

Number = float | None  # null stands for NaN or an infinity


class TrainingProgress(Answer):
    """GET /api/training/events: `event: update` with this, whenever the run changes."""

    snapshots: int = Field(description="completed snapshots")
    last_snapshot_step: int | None
    last_step: int | None = Field(description="last step with a committed scalar")
    status: str = Field(description='"running", "finished", "failed" or "unknown"')


class TrainingSite(Answer):
    name: str = Field(description='"generator/main.2" when several models are tracked')
    model: str | None
    module: str
    channels: int
    kind: str


class TrackedModel(Answer):
    class_: str | None = Field(alias="class")
    network: NetworkInfo | None


class TrainingInfo(TrainingProgress):
    """GET /api/training"""

    every: int = Field(description="steps between snapshots")
    models: dict[str, TrackedModel]
    sites: list[TrainingSite]
    stats: list[str] = Field(description='"act_mean", "act_std", "grad_norm", ...')
    scalars: list[str] = Field(description="scalar names")
    snapshot_steps: list[int] = Field(description="training step of each snapshot")


class ScalarSeries(Answer):
    """One scalar of GET /api/training/scalars (long series keep each bucket's min and max)."""

    steps: list[int]
    values: list[Number]


class DrawnSeries(Answer):
    neuron: int
    outlier: bool
    score: float
    values: list[Number]


class NeuronSeries(Answer):
    """GET /api/training/series?site=&stat=&n=&start=&stop="""

    site: str
    stat: str
    steps: list[int] = Field(description="the window's snapshot steps")
    neurons: int = Field(description="all neurons of the site")
    drawn: list[DrawnSeries]
    band: dict[str, list[Number]] = Field(description="p05, p25, p50, p75, p95 of all neurons")
    outliers: int = Field(description="outlier neurons of the site (all are drawn)")


class Window(Answer):
    start: int
    stop: int
    steps: list[int] = Field(description="[first step, last step]")


class SnapshotAt(Answer):
    snapshot: int
    step: int


class WorstNeuron(Answer):
    neuron: int
    flag: str
    score: float


class SiteAnomalies(Answer):
    score: float = Field(description="max over flags and neurons")
    flags: list[str] = Field(description="flags with a flagged neuron")
    neurons: dict[str, list[int]] = Field(description="flag -> flagged neurons, worst first")
    onsets: dict[str, list[int]] = Field(description="flag -> snapshot per flagged neuron")
    scores: dict[str, list[Number]] = Field(description="flag -> score per neuron")
    first: dict[str, SnapshotAt]
    worst: WorstNeuron | None


class FirstAnomaly(Answer):
    site: str
    snapshot: int
    step: int
    neurons: list[int]


class TrainingAnomalies(Answer):
    """GET /api/training/anomalies?start=&stop="""

    window: Window
    sites: dict[str, SiteAnomalies]
    run: dict[str, dict[str, Any] | None] = Field(description="mode_collapse, d_domination")
    first: dict[str, FirstAnomaly | None] = Field(description="where and when a flag began")
    summary: list[str] = Field(description="flags that fired")


class CreditNode(Answer):
    site: str
    neuron: int
    credit: float
    depth: int
    activation: Number


class CreditEdge(Answer):
    from_: tuple[str, int] = Field(alias="from")
    to: tuple[str, int]
    weight: float
    contribution: float


class CreditStop(Answer):
    site: str
    reason: str


class CreditGraph(Answer):
    """GET /api/training/credit?site=&neuron=&start=&stop=&depth="""

    site: str
    neuron: int
    depth: int
    top: int
    window: Window
    nodes: list[CreditNode] = Field(description="root first")
    edges: list[CreditEdge]
    covered: dict[str, float] = Field(description="site/neuron -> |shares| kept")
    stops: list[CreditStop]
