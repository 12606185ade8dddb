"""Outlier-biased blue-noise sampling of neuron time series, so a polyline plot stays readable.

Drawing every neuron's time series gives a solid blob; drawing a uniform random subset loses the
few abnormal neurons, which are what a user looks for. Following DGMTracker, series are picked
so that no two picked ones are closer than a radius (blue noise: the picks cover the data
evenly), visiting candidates in an order biased toward low k-NN density (outliers first).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from pathlens._checks import check_count, check_number
from pathlens.errors import PathlensError

# Rows used to fit the centring, scale and PCA: enough for stable components, and it keeps the
# fit O(T^2) per row on a fixed number of rows however many series there are.
_FIT_ROWS = 5000
# Rows projected at once, to bound the memory of the float64 copy of float32 input.
_CHUNK = 16384
# Passes are stopped once this close to n (relative); the promise made to users is 10 %.
_TOLERANCE = 0.05
_MAX_PASSES = 40
# Reference points for the density estimate (see _knn_distance).
_DENSITY_ROWS = 20000


def _as_matrix(series) -> np.ndarray:
    if hasattr(series, "detach"):  # a torch tensor, without importing torch
        series = series.detach().cpu().numpy()
    try:
        x = np.asarray(series)
    except (TypeError, ValueError) as e:
        raise PathlensError(
            f"series could not be read as a numeric array ({e}); pass a float array of shape "
            "[series, snapshots]."
        ) from e
    if x.dtype.kind not in "biuf":
        raise PathlensError(
            f"series must hold numbers, got dtype {x.dtype}; pass a float array of shape "
            "[series, snapshots]."
        )
    if x.ndim != 2:
        raise PathlensError(
            f"series must be 2-D [series, snapshots], got shape {x.shape}; stack each neuron's "
            "time series as one row."
        )
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise PathlensError(
            f"series is empty (shape {x.shape}); pass at least one series with at least one "
            "snapshot."
        )
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise PathlensError(
            f"{rows.size} of {x.shape[0]} series contain NaN or inf (first at row {rows[0]}); "
            "drop those rows or fill them (for example with numpy.nan_to_num) before sampling."
        )
    return x


def _reduce(x: np.ndarray, dims: int, seed: int) -> np.ndarray:
    n_rows, t = x.shape
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(n_rows, min(n_rows, _FIT_ROWS), replace=False))
    fit = x[fit_rows].astype(np.float64)
    # Median and MAD rather than mean and std: a few exploding series must not set the scale,
    # or the bulk would collapse to a point and the outliers would be the only thing resolved.
    centre = np.median(fit, axis=0)
    mad = 1.4826 * np.median(np.abs(fit - centre), axis=0)
    scale = math.sqrt(float(np.mean(mad**2)))
    if scale == 0.0:  # most series constant: fall back to the plain spread
        scale = math.sqrt(float(np.mean((fit - centre) ** 2)))
    if scale == 0.0:  # all fitted series identical; any unit will do
        scale = 1.0
    z = (fit - centre) / scale
    _, _, vt = np.linalg.svd(z - z.mean(axis=0), full_matrices=False)
    basis = vt[: min(dims, vt.shape[0])].T  # [T, d]
    # Dividing by sqrt(T) makes distances an RMS over snapshots, in units of the typical
    # per-snapshot spread, so a radius means the same for short and long series.
    basis = basis / (scale * math.sqrt(t))
    offset = centre @ basis
    out = np.empty((n_rows, basis.shape[1]))
    for start in range(0, n_rows, _CHUNK):
        out[start : start + _CHUNK] = x[start : start + _CHUNK] @ basis - offset
    return out


def _knn_distance(points: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each point's distance to its k-th nearest neighbour, and the positive distances seen.

    Beyond _DENSITY_ROWS points, neighbours are looked up in a random subsample of that many,
    at the rank that corresponds to k in the full data: exact kNN over 100 000 points in 8
    dimensions takes seconds, and the order it feeds is random anyway.
    """
    n_rows = points.shape[0]
    m = min(n_rows, _DENSITY_ROWS)
    rng = np.random.default_rng([seed, 2])
    ref = np.sort(rng.choice(n_rows, m, replace=False)) if m < n_rows else np.arange(n_rows)
    rank = max(1, min(m - 1, round(k * m / n_rows)))
    dist, _ = cKDTree(points[ref]).query(points, k=rank + 1, workers=-1)
    dist = dist.reshape(n_rows, rank + 1)
    # A point in the subsample finds itself first, at distance 0: skip that one.
    in_ref = np.zeros(n_rows, dtype=bool)
    in_ref[ref] = True
    kth = np.where(in_ref, dist[:, rank], dist[:, rank - 1])
    return kth, dist[dist > 0]


def reduce_series(series, dims: int = 8, *, seed: int = 0) -> np.ndarray:
    """The normalised, reduced representation in which `sample_polylines` measures distance.

    Each snapshot is centred on the median series, everything is divided by one robust global
    scale (RMS over snapshots of the per-snapshot MAD, so outliers do not set it) and by
    sqrt(T), and the result is projected on its first `dims` principal components (fitted on
    a random subsample of at most 5000 series). Euclidean distance here is thus about the RMS
    difference of two series in units of the typical spread between neurons.

    Args:
        series: array-like (numpy or torch) [N series, T snapshots], finite numbers.
        dims: at most this many components are kept.
        seed: picks the subsample the components are fitted on.

    Returns:
        float64 array [N, min(dims, T, N)].

    >>> import numpy as np
    >>> walks = np.cumsum(np.random.default_rng(0).standard_normal((1000, 50)), axis=1)
    >>> reduce_series(walks, dims=4).shape
    (1000, 4)
    """
    dims = check_count("dims", dims)
    check_count("seed", seed, least=0)
    return _reduce(_as_matrix(series), dims, seed)


def _blue_noise(
    points: np.ndarray, order: np.ndarray, radius: float, limit: int
) -> np.ndarray | None:
    """Greedy picks in `order`, each farther than `radius` from every earlier pick.

    Candidates go in blocks: one vectorised query against a KD-tree of the picks so far drops
    the covered ones, and only the few survivors are checked one by one against each other.
    Block sizes adapt so that a block has a few dozen survivors. Returns None as soon as more
    than `limit` are picked (the radius is too small).
    """
    picks: list[int] = []
    tree = None
    block, pos = 64, 0
    # The query bound is padded so points at exactly `radius` are found, then cut exactly.
    bound = radius * (1 + 1e-9) + 1e-12
    while pos < len(order):
        candidates = order[pos : pos + block]
        pos += block
        if tree is not None:
            dist, _ = tree.query(points[candidates], distance_upper_bound=bound)
            candidates = candidates[dist > radius]
        new: list[int] = []
        for c in candidates.tolist():
            if new and np.min(np.sum((points[new] - points[c]) ** 2, axis=1)) <= radius**2:
                continue
            new.append(c)
        if new:
            picks += new
            if len(picks) > limit:
                return None
            tree = cKDTree(points[picks])
        block = int(np.clip(block * 32 // max(len(candidates), 1), 64, 1 << 16))
    return np.array(picks, dtype=np.int64)


def sample_polylines(
    series,
    n: int,
    *,
    seed: int = 0,
    dims: int = 8,
    outlier_bias: float = 1.0,
    k: int = 10,
    return_radius: bool = False,
):
    """Pick about `n` series to draw: spread out evenly, keeping the rare abnormal ones.

    Distances are measured in `reduce_series(series, dims, seed=seed)`. Candidates are visited
    in a random order weighted by (distance to the k-th nearest neighbour) ** `outlier_bias`,
    so isolated (low-density) series come first, and a candidate is kept only if every series
    kept before it is farther than a radius r. r is searched (bisection on log r) so that
    about `n` series are kept: within 10 % when the data have that many distinct series.
    Every series not kept lies within r of a kept one, and any two kept ones are more than r
    apart. Time and memory grow as N log N (KD-trees), never N^2.

    Args:
        series: array-like (numpy or torch) [N series, T snapshots], finite numbers.
        n: how many series to keep; n >= N keeps all of them (with radius 0).
        seed: makes the result reproducible; the same seed gives the same picks.
        dims: dimensions of the reduced representation.
        outlier_bias: 0 visits candidates uniformly at random; larger values put low-density
            series earlier, so fewer of them are covered by a bulk series.
        k: neighbour whose distance measures density.
        return_radius: also return r.

    Returns:
        int64 array [about n] of row indices, unique and ascending; with `return_radius`, the
        tuple (indices, r).

    >>> import numpy as np
    >>> walks = np.cumsum(np.random.default_rng(0).standard_normal((5000, 100)), axis=1)
    >>> rows, r = sample_polylines(walks, 200, return_radius=True)
    >>> 180 <= len(rows) <= 220
    True
    """
    n = check_count("n", n)
    dims = check_count("dims", dims)
    k = check_count("k", k)
    check_count("seed", seed, least=0)
    check_number("outlier_bias", outlier_bias, 0.0)
    x = _as_matrix(series)
    n_rows = x.shape[0]
    if n >= n_rows:
        rows = np.arange(n_rows, dtype=np.int64)
        return (rows, 0.0) if return_radius else rows

    points = _reduce(x, dims, seed)
    density_dist, positive = _knn_distance(points, k, seed)
    extent = float(np.max(np.linalg.norm(points - points.mean(axis=0), axis=1)))

    # Weighted random order without replacement (Efraimidis-Spirakis, in log form so that a
    # large bias cannot overflow): sort by log(E) - log(weight), E ~ Exp(1).
    rng = np.random.default_rng([seed, 1])
    floor = positive.min() if positive.size else 1.0
    key = np.log(rng.standard_exponential(n_rows)) - outlier_bias * np.log(
        np.maximum(density_dist, floor * 1e-3)
    )
    order = np.argsort(key, kind="stable")

    limit = max(n + 1, math.ceil(n * (1 + 2 * _TOLERANCE)))
    tolerance = max(1, int(_TOLERANCE * n))
    # Near the smallest positive neighbour distance (nearly) every distinct series is kept;
    # above the diameter only one is. Search between, on log r.
    lo = positive.min() / 2 if positive.size else extent * 1e-9
    hi = 2 * extent * (1 + 1e-9) + 1e-12
    best, best_r = None, hi
    if lo > 0:
        low_picks = _blue_noise(points, order, lo, limit)
        if low_picks is not None and len(low_picks) <= n + tolerance:
            best, best_r = low_picks, lo  # no radius keeps more distinct series
            hi = lo
    for _ in range(_MAX_PASSES):
        if lo <= 0 or hi / lo < 1 + 1e-9:
            break
        mid = math.sqrt(lo * hi)
        picks = _blue_noise(points, order, mid, limit)
        if picks is None or len(picks) > n:
            lo = mid
        else:
            hi = mid
        if picks is not None and (best is None or abs(len(picks) - n) < abs(len(best) - n)):
            best, best_r = picks, mid
        if best is not None and abs(len(best) - n) <= tolerance:
            break
    if best is None:  # all series identical: one of them stands for all
        best, best_r = _blue_noise(points, order, hi, limit), hi
    rows = np.sort(best)
    return (rows, float(best_r)) if return_radius else rows
