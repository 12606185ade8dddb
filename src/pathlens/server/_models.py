"""The contract between the server and the browser: one pydantic model per API answer.

The routes declare these as response models, so every answer is checked against its model and
the OpenAPI schema (`/api/openapi.json`, `python -m pathlens.server.schema`) describes it; the
front end's TypeScript types are generated from that schema. Field names are the JSON's.
Optional fields (default None) are left out of an answer that lacks them (the routes answer
with ``response_model_exclude_unset``), so the JSON is exactly what the views produce.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

T = TypeVar("T")
SetKey = Literal["A", "B", "C"]
Seconds = dict[str, float]


class Answer(BaseModel):
    """Base of every answer: unknown fields are dropped (a test compares the JSON with the
    view's dict, so a field missing here fails there rather than in a user's browser)."""

    model_config = ConfigDict(extra="ignore")


class PerSet(Answer, Generic[T]):
    """One value per image set: A adversarial, B normal of the source class, C normal of the
    target class."""

    A: T
    B: T
    C: T


class ByteArray(Answer):
    """A dense array as bytes: values quantised to 0..255 over [min, max], row-major, base64."""

    shape: list[int]
    min: float = Field(description="the value that byte 0 stands for")
    max: float = Field(description="the value that byte 255 stands for")
    data: str = Field(description="base64 of the uint8 bytes")


# ---------------------------------------------------------------------- run and network
class Site(Answer):
    name: str = Field(description="the module's qualified name, e.g. layer2.0.bn2")
    channels: int
    kind: str
    segment: list[str] = Field(description="enclosing modules, outermost first")
    shape: list[int] = Field(description="one example's output at this site: [C, H, W] or [C]")
    index: int = Field(description="forward order")


class NetworkInfo(Answer):
    sites: list[Site]
    edges: list[tuple[str, str]] = Field(description="site -> site, data flows between them")
    graph_source: str = Field(description='"fx" or "hooks"')


class ModelFacts(Answer):
    spec: str
    classes: list[str] | None
    input_shape: list[int]


class AnalysisSummary(Answer):
    id: int
    name: str
    created: float
    kind: str
    source: int
    target: int


class DatapathSummary(Answer):
    id: int
    name: str
    created: float
    method: str
    n_images: int
    kept_fraction: float
    image_set: int | None


class ImageSetSummary(Answer):
    id: int
    name: str
    created: float
    n: int
    shape: list[int]


class DataFacts(Answer):
    model_config = ConfigDict(extra="allow")
    source: str | None = None
    split: str | None = None
    n: int | None = None


class MechanismSummary(Answer):
    id: int
    name: str
    created: float
    n_images: int
    data: DataFacts


class RunInfo(Answer):
    """GET /api/run"""

    name: str = Field(description="the run folder's name")
    model: ModelFacts | None
    network: NetworkInfo | None
    analyses: list[AnalysisSummary]
    mechanisms: list[MechanismSummary]
    datapaths: list[DatapathSummary]
    image_sets: list[ImageSetSummary]
    can_run_jobs: bool = Field(description="false in a report, or when the model is unusable")
    attacks: list[str] = Field(description="attack names a new analysis may use")
    training: bool = Field(description="the run holds training records (GET /api/training)")


class Health(Answer):
    ok: bool


# ---------------------------------------------------------------------- datapaths, analyses
class Fidelity(Answer):
    sufficiency: float
    specificity: float | None
    necessity: float


class DatapathBody(Answer):
    """A datapath as the views send it (without its per-channel reference values)."""

    channels: dict[str, list[int]] = Field(description="site -> kept channel indices")
    scores: dict[str, list[float]] = Field(description="site -> one score per channel")
    site_channels: dict[str, int]
    fidelity: Fidelity
    method: str
    targets: list[int]
    ablation: str
    timing: Seconds
    n_control: int
    schema_version: int
    kept_fraction: float


class AnalysisDatapath(DatapathBody):
    id: int


class Datapath(DatapathBody):
    """GET /api/datapaths/{id}"""

    id: int
    name: str
    image_set: int | None
    n_images: int
    settings: dict[str, Any]


class SiteComparison(Answer):
    site: str
    jaccard: float = Field(description="overlap of kept channels")
    similarity: float = Field(description="cosine similarity of per-channel mean activations")
    shared: list[int]
    only_a: list[int]
    only_b: list[int]


class Comparisons(Answer):
    AB: list[SiteComparison]
    AC: list[SiteComparison]


class ErrorChannel(Answer):
    site: str
    channel: int
    side: str = Field(description='"adversarial only" or "normal only"')
    contribution: float = Field(description="gradient x activation toward the target class")


class SetInfo(Answer):
    size: int
    description: str
    image_set: int = Field(description="id of the stored images")
    datapath: int = Field(description="id of the stored datapath")
    indices: list[int] = Field(description="positions in the data set the analysis drew from")
    predictions: list[int] = Field(description="predicted class per image")
    confidence: list[float] = Field(description="softmax probability of that prediction")


class Analysis(Answer):
    """GET /api/analyses/{id}"""

    id: int
    name: str
    source: int
    target: int
    source_name: str
    target_name: str
    sites: list[str] = Field(description="forward order")
    sets: PerSet[SetInfo]
    datapaths: PerSet[AnalysisDatapath]
    comparisons: Comparisons
    progress: list[float] = Field(description="per site: where A stands between B (0) and C (1)")
    divergence: str | None
    merge: str | None
    error_channels: list[ErrorChannel] = Field(description="strongest first")
    attack: dict[str, Any]
    timing: Seconds


class Link(Answer):
    from_: int = Field(alias="from", description="channel at this site")
    to: int = Field(description="channel at the next site")
    weight: float = Field(description="signed contribution through the edge, set A")


class NextSite(Answer):
    site: str
    kept: list[int]
    links: list[Link]


class LayerView(Answer):
    """GET /api/analyses/{id}/sites/{site}"""

    site: str
    channels: int
    shape: list[int]
    kept: PerSet[list[int]]
    mean: PerSet[list[float]] = Field(description="mean activation per channel (all channels)")
    order: list[int] = Field(description="the union of kept channels, alike ones adjacent")
    position: dict[str, tuple[float, float]] = Field(description="channel -> [x, y] in [0,1]^2")
    next: list[NextSite]
    error_channels: list[ErrorChannel]


class NeuronView(Answer):
    """GET /api/analyses/{id}/neurons/{site}/{channel}"""

    site: str
    channel: int
    maps: PerSet[ByteArray] = Field(description="[n, h, w] activation at the site")
    mean: PerSet[list[float]] = Field(description="mean activation per image")
    in_datapath: PerSet[bool]
    score: PerSet[float]
    patches: ByteArray = Field(description="[k, channels, ph, pw] top-activating input patches")
    patch_values: list[float]
    patch_images: list[int]
    maximization: ByteArray | None = Field(description="[channels, h, w] or null")


class ImageSet(Answer):
    """GET /api/image_sets/{id}"""

    id: int
    name: str
    n: int
    labels: list[int] | None
    meta: dict[str, Any]
    images: ByteArray = Field(description="[n, channels, h, w], pixels 0..1")


# ---------------------------------------------------------------------- jobs
JobStatus = Literal["queued", "running", "done", "failed", "interrupted"]
Index = Annotated[int, Field(ge=0, strict=True)]


class AdversarialRequest(BaseModel):
    """A new adversarial analysis: attack `n` images of class `source` toward `target`."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["adversarial"]
    source: Index = Field(description="class index of the attacked images")
    target: Index = Field(description="class index the attack aims at")
    attack: str = "pgd"
    eps: Annotated[float, Field(gt=0, le=1)] = 0.1
    n: Annotated[int, Field(ge=4, le=256, strict=True)] = Field(32, description="images per set")

    @model_validator(mode="after")
    def _two_classes(self):
        if self.source == self.target:
            raise ValueError("The source and target classes are the same: pick two classes.")
        return self


class DatapathRequest(BaseModel):
    """The datapath of a subset of one set of an analysis (image positions in the set)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["datapath"]
    analysis: Index = Field(description="the analysis id")
    set: SetKey
    images: list[Index] = Field(min_length=1, description="distinct positions in the set")


AnyJobRequest = AdversarialRequest | DatapathRequest

# What each request field must be, for the message of a request that breaks a bound.
_MUST_BE = {
    "source": "a class index (an integer >= 0)",
    "target": "a class index (an integer >= 0)",
    "attack": "an attack name",
    "eps": "a number in (0, 1]",
    "n": "an integer in 4..256 (images per set)",
    "analysis": "an analysis id (an integer)",
    "set": "one of A, B, C",
    "images": "a non-empty list of image positions in the set (integers >= 0)",
}


def request_problem(errors: list[dict]) -> str:
    """A person's message for the validation errors of a job request body: what was wrong
    and what to give instead."""
    parts = []
    for e in errors:
        loc = [p for p in e.get("loc", ()) if p not in ("body", "adversarial", "datapath")]
        kind = e.get("type", "")
        given = e.get("input")
        if kind == "json_invalid":
            return "The request body is not JSON: send a JSON object."
        if kind in ("model_attributes_type", "dict_type") or (
            kind == "union_tag_not_found" and not isinstance(given, dict)
        ):
            return "The request body must be a JSON object with a 'kind'."
        if kind == "union_tag_not_found":
            return "The request must name its 'kind': 'adversarial' or 'datapath'."
        if kind == "union_tag_invalid":
            found = given.get("kind") if isinstance(given, dict) else None
            return f"Unknown job kind {found!r}: give 'adversarial' or 'datapath'."
        if kind == "value_error":
            parts.append(str(e.get("ctx", {}).get("error", e.get("msg"))))
            continue
        field = str(loc[0]) if loc else ""
        if kind == "extra_forbidden":
            parts.append(f"'{field}' is not a setting of this job: leave it out.")
        elif kind == "missing":
            parts.append(f"'{field}' is missing: give {_MUST_BE.get(field, 'a value')}.")
        else:
            where = f" (position {loc[1]})" if len(loc) > 1 else ""
            parts.append(f"'{field}' must be {_MUST_BE.get(field, 'valid')}, not {given!r}{where}.")
    return " ".join(parts) or "The request body is not a valid job request."


class ProgressEvent(Answer):
    """SSE GET /api/jobs/{id}/events: `event: progress` with this as data, then one
    `event: done` or `event: failed` with the Job."""

    model_config = ConfigDict(extra="allow")
    fraction: float = Field(description="overall progress of the job, 0..1")
    message: str
    stage: str
    set: SetKey | None = None
    step: int | None = None
    max_steps: int | None = None
    kept_fraction: float | None = None
    sufficiency: float | None = None
    gates: dict[str, list[float]] | None = None


class JobResult(Answer):
    analysis: int | None = None
    datapath: int | None = None


class Job(Answer):
    """GET /api/jobs/{id}; POST /api/jobs answers the same (status "queued")"""

    id: int
    kind: Literal["adversarial", "datapath"]
    status: JobStatus
    created: float
    params: dict[str, Any]
    progress: ProgressEvent | None = Field(description="the latest event")
    result: JobResult | None
    error: str | None


class ApiError(BaseModel):
    """Every 4xx/5xx answer: what was wrong and what to do."""

    detail: str
