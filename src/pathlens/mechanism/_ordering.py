"""Arranging a site's channels for display: alike channels adjacent in a row, near in a plane."""

from __future__ import annotations

import numpy as np


def arrange_channels(
    profiles: np.ndarray, channels: list[int]
) -> tuple[list[int], dict[str, list[float]]]:
    """Order `channels` so that alike ones are adjacent and place them in [0, 1]^2.

    `profiles` is [len(channels), n_images]: each channel's activation over a set of images.
    Alike means correlated profiles: average-linkage clustering under correlation distance,
    leaves in optimal order; the plane is the first two principal components of the
    standardised profiles, scaled to the unit square. Returns (channels in order,
    {str(channel): [x, y]}).

    >>> order, position = arrange_channels(np.array([[1, 2, 3], [3, 2, 1], [2, 4, 6.5]]), [4, 7, 9])
    >>> abs(order.index(4) - order.index(9))  # the two correlated channels are neighbours
    1
    """
    from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
    from scipy.spatial.distance import pdist

    n = len(channels)
    if n == 0:
        return [], {}
    profiles = np.asarray(profiles, dtype=np.float64)
    centred = profiles - profiles.mean(1, keepdims=True)
    norm = np.linalg.norm(centred, axis=1, keepdims=True)
    unit = np.divide(centred, norm, out=np.zeros_like(centred), where=norm > 1e-8)
    if n >= 3:
        distances = np.clip(pdist(unit, "sqeuclidean") / 2, 0, None)  # = 1 - correlation
        tree = optimal_leaf_ordering(linkage(distances, "average"), distances)
        leaves = leaves_list(tree)
    else:
        leaves = np.arange(n)
    order = [int(channels[i]) for i in leaves]
    if n >= 2:
        u, s, _ = np.linalg.svd(unit - unit.mean(0), full_matrices=False)
        coords = u[:, :2] * s[:2]
        if coords.shape[1] < 2:
            coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
        low, high = coords.min(0), coords.max(0)
        coords = (coords - low) / np.where(high > low, high - low, 1)
    else:
        coords = np.full((n, 2), 0.5)
    position = {str(c): [round(float(x), 4), round(float(y), 4)]
                for c, (x, y) in zip(channels, coords, strict=True)}  # fmt: skip
    return order, position
