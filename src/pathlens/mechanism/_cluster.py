"""Grouping the channels of one site by what they respond to, and ordering the groups.

The clustering features of a channel are its activation profile over the data set: its mean
activation per class (the CNNVis profile) plus three spatial statistics. Ward-linkage
agglomerative clustering cuts the tree into k clusters for every k in 2..k_max and keeps the k
with the best mean silhouette. Clusters, channels and classes are then put in optimal leaf order
(Bar-Joseph et al., 2001; `scipy.cluster.hierarchy.optimal_leaf_ordering`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, leaves_list, linkage, optimal_leaf_ordering
from sklearn.metrics import silhouette_samples

# How much of a channel's feature vector (by variance) the spatial statistics make up; the
# class profile has the rest.
SPATIAL_WEIGHT = 0.25
SPATIAL_STATS = ("max_mean", "fill", "spread")


@dataclass
class SiteClusters:
    """Clusters of one site's channels.

    labels[c] is the cluster of channel c. Clusters are numbered in the optimal leaf order of
    the cluster x class matrix (so cluster 0 is drawn first); ``members[i]`` lists cluster i's
    channels in the optimal leaf order of the channel tree, and ``channel_order`` is all
    members in cluster order. ``class_order`` is the column order of the cluster x class
    matrix (optimal leaf order over classes). ``silhouette`` maps each k tried to the mean
    silhouette of its cut; ``chosen_by`` says how k was picked.
    """

    labels: np.ndarray  # [C] int
    members: list[list[int]]
    channel_order: list[int]
    representative: list[int]
    cohesion: list[float]
    class_matrix: np.ndarray  # [m, K]
    class_order: list[int]
    silhouette: dict[int, float]
    chosen_by: str

    @property
    def n_clusters(self) -> int:
        return len(self.members)


def channel_features(
    profile: np.ndarray, spatial: np.ndarray, spatial_weight: float = SPATIAL_WEIGHT
) -> np.ndarray:
    """Standardised clustering features [C, K + S] from a class profile [C, K] (mean
    activation per class) and spatial statistics [C, S].

    Each channel's class profile is standardised across classes (its shape of class
    selectivity, not its scale); each spatial statistic is standardised across the site's
    channels. The class block is scaled to carry 1 - spatial_weight of a channel's squared
    norm on average, the spatial block spatial_weight. Constant rows or columns become zeros.
    """
    k = profile.shape[1]
    s = spatial.shape[1]
    shape = _standardise(profile, axis=1)
    stats = _standardise(spatial, axis=0)
    return np.concatenate(
        [
            shape * np.sqrt((1 - spatial_weight) / max(k, 1)),
            stats * np.sqrt(spatial_weight / max(s, 1)),
        ],
        axis=1,
    )


def _standardise(x: np.ndarray, axis: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=axis, keepdims=True)
    std = x.std(axis=axis, keepdims=True)
    scale = np.abs(x).max(axis=axis, keepdims=True) + 1e-12
    constant = std <= 1e-6 * scale  # no variation beyond rounding
    return np.where(constant, 0.0, (x - mean) / np.where(constant, 1.0, std))


def cluster_channels(
    features: np.ndarray, profile: np.ndarray, k_max: int, n_clusters: int | None = None
) -> SiteClusters:
    """Cluster channels by `features` [C, F]; `profile` [C, K] gives the class matrix.

    Ward linkage on the features; the tree is cut into k clusters for each k in
    2..min(k_max, C - 1) and the cut with the highest mean silhouette (Euclidean, on the
    features) wins, the smaller k on ties. `n_clusters` fixes k instead. A site with fewer
    than 3 channels, or whose channels all have the same features, is one cluster.
    """
    features = np.asarray(features, dtype=np.float64)
    profile = np.asarray(profile, dtype=np.float64)
    count = len(features)
    distinct = count >= 2 and np.ptp(features, axis=0).max() > 1e-9
    silhouette: dict[int, float] = {}
    if not distinct:
        tree = None
        labels = np.zeros(count, dtype=int)
        order = list(range(count))
        chosen_by = "one cluster (identical channels)" if count >= 2 else "one channel"
    else:
        tree = optimal_leaf_ordering(linkage(features, "ward"), features)
        order = leaves_list(tree).tolist()
        if n_clusters is not None:
            k = max(1, min(n_clusters, count))
            labels = fcluster(tree, k, "maxclust") - 1
            chosen_by = "given"
        elif count < 3:
            labels = np.zeros(count, dtype=int)
            chosen_by = "one cluster (fewer than 3 channels)"
        else:
            best = (-np.inf, None)
            for k in range(2, min(k_max, count - 1) + 1):
                cut = fcluster(tree, k, "maxclust") - 1
                if len(np.unique(cut)) < 2:
                    continue
                score = float(silhouette_samples(features, cut).mean())
                silhouette[k] = score
                if score > best[0] + 1e-12:
                    best = (score, cut)
            if best[1] is None:
                labels = np.zeros(count, dtype=int)
                chosen_by = "one cluster (no cut with 2 or more clusters)"
            else:
                labels = best[1]
                chosen_by = "silhouette"
    return _arrange(features, profile, labels, order, silhouette, chosen_by)


def _arrange(features, profile, labels, order, silhouette, chosen_by) -> SiteClusters:
    """Number clusters in the optimal leaf order of the cluster x class matrix; order the
    members of each by the channel tree; find each cluster's representative and cohesion."""
    ids = sorted(set(labels.tolist()))
    matrix = np.stack([profile[labels == i].mean(0) for i in ids])
    row_order = _leaf_order(matrix)
    col_order = _leaf_order(matrix.T)
    renumber = {ids[old]: new for new, old in enumerate(row_order)}
    labels = np.array([renumber[int(v)] for v in labels], dtype=int)
    matrix = matrix[row_order]
    if len(ids) >= 2 and len(features) > len(ids):
        scores = silhouette_samples(features, labels)
    else:
        scores = np.zeros(len(features))
    position = {c: i for i, c in enumerate(order)}
    members, representative, cohesion = [], [], []
    for i in range(len(ids)):
        channels = sorted(np.flatnonzero(labels == i).tolist(), key=position.__getitem__)
        members.append(channels)
        centre = features[channels].mean(0)
        distance = np.linalg.norm(features[channels] - centre, axis=1)
        representative.append(int(channels[int(np.argmin(distance))]))
        cohesion.append(float(scores[channels].mean()))
    return SiteClusters(
        labels=labels,
        members=members,
        channel_order=[c for m in members for c in m],
        representative=representative,
        cohesion=cohesion,
        class_matrix=matrix,
        class_order=col_order,
        silhouette=silhouette,
        chosen_by=chosen_by,
    )


def _leaf_order(rows: np.ndarray) -> list[int]:
    """Optimal leaf order of an average-linkage (Euclidean) tree over the rows."""
    if len(rows) < 3:
        return list(range(len(rows)))
    if np.ptp(rows, axis=0).max() <= 1e-12:
        return list(range(len(rows)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on tied distances; the order is valid
        tree = optimal_leaf_ordering(linkage(rows, "average"), rows)
    return leaves_list(tree).tolist()
