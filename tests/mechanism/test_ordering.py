"""Arranging a site's channels for display: alike channels adjacent and near each other."""

import numpy as np

from pathlens.mechanism import arrange_channels


def test_planted_groups_stay_together_and_near():
    rng = np.random.default_rng(0)
    images = 40
    a, b = rng.normal(size=images), rng.normal(size=images)
    # channels 10..14 follow pattern a, 20..24 pattern b (with a little noise), interleaved
    channels = [10, 20, 11, 21, 12, 22, 13, 23, 14, 24]
    profiles = np.stack(
        [(a if c < 20 else b) * (1 + c % 10) + 0.05 * rng.normal(size=images) for c in channels]
    )
    order, position = arrange_channels(profiles, channels)
    assert sorted(order) == sorted(channels)
    groups = ["a" if c < 20 else "b" for c in order]
    assert groups in (["a"] * 5 + ["b"] * 5, ["b"] * 5 + ["a"] * 5)  # one switch: contiguous
    assert set(position) == {str(c) for c in channels}
    xy = {int(c): np.array(p) for c, p in position.items()}
    assert all(0 <= v <= 1 for p in xy.values() for v in p)
    within = max(np.linalg.norm(xy[10] - xy[c]) for c in (11, 12, 13, 14))
    across = min(np.linalg.norm(xy[10] - xy[c]) for c in (20, 21, 22, 23, 24))
    assert within < across


def test_small_sets_need_no_clustering():
    assert arrange_channels(np.zeros((0, 5)), []) == ([], {})
    order, position = arrange_channels(np.ones((1, 5)), [3])
    assert order == [3] and position == {"3": [0.5, 0.5]}
    order, position = arrange_channels(np.array([[1.0, 2, 3], [3, 2, 1]]), [4, 9])
    assert order == [4, 9] and sorted(map(tuple, position.values())) == [(0.0, 0.0), (1.0, 1.0)]
