"""Connections between the clusters of two sites, bundled by biclustering.

A site-graph edge (s, t) has a channel contribution matrix M [C_s, C_t]. Summed over the
channels of each source cluster a and target cluster b it gives the cluster-level weight
W[a, b] = sum M[i, j] (signed) and strength S[a, b] = sum |M[i, j]|. Spectral co-clustering
(Dhillon, 2001; `sklearn.cluster.SpectralCoclustering`) of S groups the source clusters and the
target clusters into n groups each; every (source group, target group) block that carries any
strength is one bundle. The bundles partition the channel pairs, so over an edge's bundles the
signed weights add up to sum M exactly and the strengths to sum |M| exactly.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np

BUNDLE_GROUPS = 3


@dataclass
class Bundle:
    """Connections from a set of source clusters to a set of target clusters.

    weight: signed sum of the channel contributions in the block; strength: sum of their
    absolute values; share: strength / the edge's total strength; pairs: how many
    (source cluster, target cluster) pairs it merges.
    """

    sources: list[int]
    targets: list[int]
    weight: float
    strength: float
    share: float
    pairs: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class EdgeBundles:
    """One site-graph edge at cluster level: cluster weights and strengths, and bundles."""

    source: str
    target: str
    weight: np.ndarray  # [m_s, m_t] signed
    strength: np.ndarray  # [m_s, m_t] >= 0
    bundles: list[Bundle]
    groups: int

    @property
    def total_weight(self) -> float:
        return float(self.weight.sum())

    @property
    def total_strength(self) -> float:
        return float(self.strength.sum())


def cluster_matrices(
    contributions: np.ndarray,
    source_labels: np.ndarray,
    target_labels: np.ndarray,
    n_source: int,
    n_target: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Signed weights and absolute strengths [n_source, n_target] summed over cluster pairs."""
    m = np.asarray(contributions, dtype=np.float64)
    rows = np.eye(n_source)[np.asarray(source_labels)]  # [C_s, m_s] one-hot
    cols = np.eye(n_target)[np.asarray(target_labels)]  # [C_t, m_t]
    return rows.T @ m @ cols, rows.T @ np.abs(m) @ cols


def bundle_edge(
    source: str,
    target: str,
    contributions: np.ndarray,
    source_labels: np.ndarray,
    target_labels: np.ndarray,
    n_source: int,
    n_target: int,
    groups: int = BUNDLE_GROUPS,
    seed: int = 0,
) -> EdgeBundles:
    """Bundle the connections of one edge (see the module docstring).

    groups: how many groups of source and of target clusters the co-clustering forms (at
    most min(groups, n_source, n_target)); an edge then has at most groups**2 bundles.
    """
    weight, strength = cluster_matrices(
        contributions, source_labels, target_labels, n_source, n_target
    )
    n = max(1, min(groups, n_source, n_target))
    row_group, col_group = _cocluster(strength, n, seed)
    total = float(strength.sum())
    bundles = []
    for g in range(n):
        rows = np.flatnonzero(row_group == g)
        for h in range(n):
            cols = np.flatnonzero(col_group == h)
            if len(rows) == 0 or len(cols) == 0:
                continue
            block = np.ix_(rows, cols)
            s = float(strength[block].sum())
            if s <= 0:
                continue  # no channel pair connects these clusters: nothing to draw or lose
            bundles.append(
                Bundle(
                    sources=rows.tolist(),
                    targets=cols.tolist(),
                    weight=float(weight[block].sum()),
                    strength=s,
                    share=s / total,
                    pairs=len(rows) * len(cols),
                )
            )
    bundles.sort(key=lambda b: -b.strength)
    return EdgeBundles(source, target, weight, strength, bundles, n)


def _cocluster(strength: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column group labels of a non-negative matrix (spectral co-clustering)."""
    rows, cols = strength.shape
    if n <= 1 or not strength.any():
        return np.zeros(rows, dtype=int), np.zeros(cols, dtype=int)
    from sklearn.cluster import SpectralCoclustering

    # The method normalises by row and column sums: give empty rows and columns a trace of
    # strength so that they are grouped (with anything) instead of dividing by zero.
    floor = strength.max() * 1e-9
    matrix = strength + floor
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # k-means warns when groups coincide; still valid
        model = SpectralCoclustering(n_clusters=n, random_state=seed, n_init=10).fit(matrix)
    return _compact(model.row_labels_), _compact(model.column_labels_)


def _compact(labels: np.ndarray) -> np.ndarray:
    """Group labels renumbered 0.. in order of first appearance (stable, gap-free)."""
    mapping: dict[int, int] = {}
    return np.array([mapping.setdefault(int(v), len(mapping)) for v in labels], dtype=int)
