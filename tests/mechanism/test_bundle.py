"""Connections between sites: direct contributions checked against exact values, and bundling
that reduces the edge count while keeping the total weight."""

import numpy as np
import pytest
import torch
from torch import nn

from pathlens import Network
from pathlens.datapath import channel_contributions
from pathlens.mechanism import bundle_edge, cluster_matrices, direct_contributions


# ---------------------------------------------------------------------------- contributions
@pytest.mark.slow
def test_direct_equals_full_gradient_x_activation_on_a_chain(cnn_net, test_set):
    images = test_set.images[:12]
    direct = direct_contributions(cnn_net, images, batch_size=5)
    channels = {s.name: list(range(s.channels)) for s in cnn_net.sites}
    full = channel_contributions(cnn_net, images, channels)
    assert set(direct) == set(full) == set(cnn_net.edges)
    for edge, value in direct.items():
        assert value.shape == full[edge].shape
        assert torch.allclose(value, full[edge], rtol=1e-4, atol=1e-5), edge


class Dense(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 5)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(5, 3)
        self.relu2 = nn.ReLU()
        self.out = nn.Linear(3, 2)

    def forward(self, x):
        return self.out(self.relu2(self.fc2(self.relu1(self.fc1(x)))))


def test_direct_contributions_of_a_linear_layer_are_exact():
    torch.manual_seed(0)
    model = Dense().eval()
    net = Network(model, torch.zeros(1, 6), sites=["relu1", "relu2"])
    x = torch.randn(50, 6)
    (matrix,) = direct_contributions(net, x, batch_size=16).values()
    with torch.no_grad():
        a = model.relu1(model.fc1(x))  # [N, 5]
        on = (model.fc2(a) > 0).double()  # [N, 3]
    w = model.fc2.weight.double()  # [3, 5]
    want = torch.einsum("nj,ji,ni->ij", on, w, a.double()) / len(x)
    assert torch.allclose(matrix.double(), want, atol=1e-6)


class Skip(nn.Module):
    """A -> B, and C = relu(A + B): the edge A -> C is the identity shortcut."""

    def __init__(self):
        super().__init__()
        self.conv_a = nn.Conv2d(1, 4, 3, padding=1)
        self.relu_a = nn.ReLU()
        self.conv_b = nn.Conv2d(4, 4, 3, padding=1)
        self.relu_b = nn.ReLU()
        self.relu_c = nn.ReLU()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        a = self.relu_a(self.conv_a(x))
        c = self.relu_c(a + self.relu_b(self.conv_b(a)))
        return self.fc(c.mean((2, 3)))


def test_direct_contributions_cut_paths_through_other_sites():
    torch.manual_seed(1)
    model = Skip().eval()
    net = Network(model, torch.zeros(1, 1, 8, 8), sites=["relu_a", "relu_b", "relu_c"])
    assert set(net.edges) == {("relu_a", "relu_b"), ("relu_a", "relu_c"), ("relu_b", "relu_c")}
    x = torch.rand(20, 1, 8, 8)
    direct = direct_contributions(net, x)
    with torch.no_grad():
        a = model.relu_a(model.conv_a(x))
        b = model.relu_b(model.conv_b(a))
        on = (a + b > 0).double()
    # Through the shortcut only: channel i feeds channel i, by its activation where C is on.
    want = torch.diag((on * a.double()).sum((2, 3)).mean(0))
    assert torch.allclose(direct[("relu_a", "relu_c")].double(), want, atol=1e-6)
    want_b = torch.diag((on * b.double()).sum((2, 3)).mean(0))
    assert torch.allclose(direct[("relu_b", "relu_c")].double(), want_b, atol=1e-6)
    # The full gradient also counts A -> B -> C, so it is not diagonal.
    full = channel_contributions(net, x, {s: list(range(4)) for s in net.site_names})
    off = ~torch.eye(4, dtype=torch.bool)
    assert full[("relu_a", "relu_c")][off].abs().sum() > 1e-3


# ---------------------------------------------------------------------------- bundling
def planted_blocks(seed=0, channels=500, clusters=8):
    """A 500 x 500 contribution matrix between two sites of 8 clusters each, with three planted
    blocks of cluster pairs (two positive, one negative) over faint noise."""
    rng = np.random.default_rng(seed)
    source = rng.integers(0, clusters, channels)
    target = rng.integers(0, clusters, channels)
    blocks = [({0, 1, 2}, {0, 1, 2, 3}, 1.0), ({3, 4, 5}, {4, 5}, -1.0), ({6, 7}, {6, 7}, 1.0)]
    matrix = 0.002 * rng.standard_normal((channels, channels))
    for rows, cols, sign in blocks:
        mask = np.isin(source, list(rows))[:, None] & np.isin(target, list(cols))[None, :]
        matrix += mask * sign * rng.uniform(0.5, 1.5, (channels, channels))
    return matrix, source, target, blocks


def test_cluster_matrices_sum_channel_pairs():
    matrix, source, target, _ = planted_blocks(channels=40, clusters=3)
    weight, strength = cluster_matrices(matrix, source, target, 3, 3)
    for a in range(3):
        for b in range(3):
            block = matrix[np.ix_(source == a, target == b)]
            assert weight[a, b] == pytest.approx(block.sum())
            assert strength[a, b] == pytest.approx(np.abs(block).sum())


def test_bundling_a_500_channel_pair_into_a_handful_keeps_the_total_weight():
    matrix, source, target, blocks = planted_blocks()
    edge = bundle_edge("s", "t", matrix, source, target, 8, 8, groups=3)
    pairs = edge.weight.size
    assert pairs == 64
    assert 3 <= len(edge.bundles) <= 9 < pairs
    # The bundles partition the cluster pairs ...
    covered = [(a, b) for bundle in edge.bundles for a in bundle.sources for b in bundle.targets]
    assert len(covered) == len(set(covered)) == sum(b.pairs for b in edge.bundles)
    # ... so the signed total and the absolute total are kept exactly.
    assert sum(b.weight for b in edge.bundles) == pytest.approx(matrix.sum(), rel=1e-9)
    assert sum(b.strength for b in edge.bundles) == pytest.approx(np.abs(matrix).sum(), rel=1e-9)
    assert edge.total_weight == pytest.approx(matrix.sum(), rel=1e-9)
    assert sum(b.share for b in edge.bundles) == pytest.approx(1.0)
    # The three strongest bundles are the planted blocks, with their signs.
    found = {(frozenset(b.sources), frozenset(b.targets), np.sign(b.weight))
             for b in edge.bundles[:3]}  # fmt: skip
    assert found == {(frozenset(r), frozenset(c), s) for r, c, s in blocks}
    assert sum(b.share for b in edge.bundles[:3]) > 0.95
    strengths = [b.strength for b in edge.bundles]
    assert strengths == sorted(strengths, reverse=True)


def test_bundling_small_and_empty_edges():
    zero = bundle_edge("s", "t", np.zeros((4, 3)), np.array([0, 0, 1, 1]), np.array([0, 1, 1]),
                       2, 2)  # fmt: skip
    assert zero.bundles == [] and zero.total_strength == 0
    one = bundle_edge("s", "t", np.ones((4, 3)), np.zeros(4, int), np.array([0, 1, 1]), 1, 2)
    assert len(one.bundles) == 1 and one.bundles[0].weight == pytest.approx(12)
    assert one.bundles[0].sources == [0] and one.bundles[0].targets == [0, 1]
    # An empty cluster pair carries nothing, so it is not a bundle, and totals still hold.
    matrix = np.array([[1.0, 0.0], [0.0, -2.0]])
    edge = bundle_edge("s", "t", matrix, np.array([0, 1]), np.array([0, 1]), 2, 2)
    assert sorted((b.sources, b.targets, b.weight) for b in edge.bundles) == [
        ([0], [0], 1.0), ([1], [1], -2.0)
    ]  # fmt: skip


# ---------------------------------------------------------------------------- leaf order
def test_clusters_and_classes_follow_a_hidden_one_dimensional_order():
    """Channels tuned to neighbouring positions of a hidden class order (a band matrix, with
    the classes shuffled): the optimal leaf orders put neighbouring classes and clusters next
    to each other, which recovers the hidden order up to reversal."""
    from pathlens.mechanism import channel_features, cluster_channels

    rng = np.random.default_rng(0)
    hidden = rng.permutation(8)  # hidden[p] = the class at position p
    centres = np.repeat(np.arange(0, 8, 2), 6) + 0.5  # 4 groups of 6 channels
    position = np.empty(8)
    position[hidden] = np.arange(8)
    profile = np.exp(-((position[None, :] - centres[:, None]) ** 2) / 2)
    profile *= rng.uniform(0.5, 2.0, (len(centres), 1))  # channels differ in scale only
    features = channel_features(profile, np.zeros((len(centres), 3)))
    clusters = cluster_channels(features, profile, k_max=8)
    assert clusters.n_clusters == 4
    order = clusters.class_order
    assert order in (hidden.tolist(), hidden[::-1].tolist())
    peaks = [position[int(np.argmax(row))] for row in clusters.class_matrix]
    assert peaks in (sorted(peaks), sorted(peaks, reverse=True))
