"""The answers of the mechanism endpoints (CNNVis-style analyses), as pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pathlens.server._models import Answer, ByteArray, DataFacts, NetworkInfo


class ReceptiveFieldInfo(Answer):
    size: list[int]
    stride: list[int]
    offset: list[int]
    grid: list[int]
    input_size: list[int]
    exact: bool


class MechanismCluster(Answer):
    id: int = Field(description="draw order (rows of the class matrix in optimal leaf order)")
    channels: list[int]
    size: int
    representative: int = Field(description="the channel nearest the cluster's mean profile")
    cohesion: float = Field(description="mean silhouette of its channels")
    class_means: list[float] = Field(description="[K] mean activation per class")


class ChannelStats(Answer):
    mean: list[float]
    max_mean: list[float]
    fill: list[float]
    spread: list[float]


class MechanismSite(Answer):
    name: str
    channels: int
    shape: list[int]
    receptive_field: ReceptiveFieldInfo
    patch_size: tuple[int, int]
    n_clusters: int
    chosen_by: str
    silhouette: dict[str, float] = Field(description="k -> mean silhouette")
    labels: list[int] = Field(description="cluster id per channel")
    channel_order: list[int] = Field(description="all channels, cluster by cluster")
    clusters: list[MechanismCluster]
    class_matrix: list[list[float]] = Field(description="[cluster][class]")
    class_order: list[int] = Field(description="class indices in column order")
    stats: ChannelStats


class MechanismBundle(Answer):
    sources: list[int] = Field(description="cluster ids at the edge's source site")
    targets: list[int] = Field(description="cluster ids at the target site")
    weight: float = Field(description="signed sum of channel contributions")
    strength: float = Field(description="sum of |contributions|")
    share: float = Field(description="of the edge's total strength")
    pairs: int


class MechanismEdge(Answer):
    index: int
    source: str
    target: str
    total_weight: float
    total_strength: float
    cluster_weight: list[list[float]]
    cluster_strength: list[list[float]]
    groups: int
    bundles: list[MechanismBundle] = Field(description="strongest first")


class Mechanism(Answer):
    """GET /api/mechanisms/{id}"""

    id: int
    schema_: int = Field(alias="schema")
    kind: str
    name: str
    n_images: int
    classes: list[str]
    class_counts: list[int]
    data: DataFacts
    network: NetworkInfo
    sites: list[MechanismSite]
    edges: list[MechanismEdge]
    settings: dict[str, Any]
    timing: dict[str, float]


class MechanismPatches(Answer):
    """GET /api/mechanisms/{id}/patches?site=..."""

    site: str
    patches: ByteArray = Field(description="[C, k, C_in, ph, pw] pixels 0..1")
    values: list[list[float]] = Field(description="[C][k] activation of each patch")
