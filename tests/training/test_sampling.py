import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree
from scipy.spatial.distance import pdist

from pathlens import PathlensError
from pathlens.training import reduce_series, sample_polylines


def random_walks(n: int, t: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.standard_normal((n, t)), axis=1)


def with_planted_outliers(n: int, t: int, count: int, seed: int = 0):
    """Random walks with `count` abnormal series: exploding ones and ones stuck far away."""
    x = random_walks(n, t, seed)
    rng = np.random.default_rng(seed + 1)
    rows = rng.choice(n, count, replace=False)
    steps = np.arange(t)
    for j, row in enumerate(rows):
        sign = 1 if j % 2 else -1
        size = 60 + 25 * j  # the bulk spreads about 6 at the middle snapshot
        if j % 4 < 2:  # exploding: flat, then growing exponentially
            x[row] = x[row] + sign * size * np.exp((steps - t) / (t / 8))
        else:  # dead at a far level
            x[row] = sign * size * 0.5
    return x, np.sort(rows)


@pytest.fixture(scope="module")
def walks():
    return random_walks(20000, 100)


@pytest.fixture(scope="module")
def sample(walks):
    return sample_polylines(walks, 300, return_radius=True)


@pytest.mark.slow
def test_count_is_within_ten_percent(walks, sample):
    rows, _ = sample
    assert 270 <= len(rows) <= 330
    for n in (50, 1000):
        assert 0.9 * n <= len(sample_polylines(walks, n, seed=3)) <= 1.1 * n


@pytest.mark.slow
def test_picks_are_at_least_the_radius_apart(walks, sample):
    rows, radius = sample
    assert radius > 0
    reduced = reduce_series(walks, 8, seed=0)
    assert pdist(reduced[rows]).min() >= radius


def test_picks_cover_every_series(walks, sample):
    rows, radius = sample
    reduced = reduce_series(walks, 8, seed=0)
    dist, _ = cKDTree(reduced[rows]).query(reduced)
    assert dist.max() <= 2 * radius
    # Blue noise, not clumps: a much smaller radius would not cover everything.
    assert dist.max() > 0.5 * radius


def test_indices_are_sorted_unique_ints(sample):
    rows, _ = sample
    assert rows.dtype.kind == "i"
    assert np.all(np.diff(rows) > 0)


def test_planted_outliers_survive_and_uniform_sampling_loses_them():
    x, planted = with_planted_outliers(20000, 100, 10)
    rows = sample_polylines(x, 200)
    kept = np.isin(planted, rows).sum()
    uniform = np.random.default_rng(0).choice(len(x), 200, replace=False)
    kept_uniform = np.isin(planted, uniform).sum()
    assert kept >= 9
    assert kept_uniform <= 2  # expected 0.1


def test_same_seed_same_picks(walks):
    a = sample_polylines(walks[:5000], 100, seed=7)
    b = sample_polylines(walks[:5000], 100, seed=7)
    c = sample_polylines(walks[:5000], 100, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_torch_input_matches_numpy(walks):
    x = walks[:3000]
    np.testing.assert_array_equal(
        sample_polylines(torch.from_numpy(x), 100), sample_polylines(x, 100)
    )


def test_n_at_least_rows_keeps_all():
    x = random_walks(50, 10)
    np.testing.assert_array_equal(sample_polylines(x, 50), np.arange(50))
    rows, radius = sample_polylines(x, 1000, return_radius=True)
    np.testing.assert_array_equal(rows, np.arange(50))
    assert radius == 0.0


def test_constant_and_duplicate_series():
    same = np.ones((1000, 20))
    assert len(sample_polylines(same, 10)) == 1
    few = np.repeat(random_walks(5, 20), 200, axis=0)  # 5 distinct series
    rows = sample_polylines(few, 100)
    assert len(rows) == 5
    assert len({tuple(r) for r in few[rows]}) == 5


def test_n_one():
    assert len(sample_polylines(random_walks(500, 20), 1)) == 1


@pytest.mark.parametrize(
    ("series", "n", "kwargs", "message"),
    [
        (np.zeros(10), 5, {}, "2-D"),
        (np.zeros((2, 3, 4)), 5, {}, "2-D"),
        (np.zeros((0, 10)), 5, {}, "empty"),
        (np.zeros((10, 0)), 5, {}, "empty"),
        (np.array([["a", "b"]]), 1, {}, "numbers"),
        (np.ones((10, 5)), 0, {}, "at least 1"),
        (np.ones((10, 5)), 2.5, {}, "whole number"),
        (np.ones((10, 5)), 2, {"dims": 0}, "dims"),
        (np.ones((10, 5)), 2, {"k": 0}, "k must"),
        (np.ones((10, 5)), 2, {"outlier_bias": -1}, "outlier_bias"),
    ],
)
def test_bad_input_is_explained(series, n, kwargs, message):
    with pytest.raises(PathlensError, match=message):
        sample_polylines(series, n, **kwargs)


def test_non_finite_rows_are_counted():
    x = random_walks(100, 10)
    x[3, 2] = np.nan
    x[40, 0] = np.inf
    with pytest.raises(PathlensError, match=r"2 of 100 series contain NaN or inf \(first at row 3"):
        sample_polylines(x, 10)


def test_hundred_thousand_series():
    x = random_walks(100_000, 50).astype(np.float32)
    rows = sample_polylines(x, 500)
    assert 450 <= len(rows) <= 550
