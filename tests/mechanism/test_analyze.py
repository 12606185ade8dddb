"""The mechanism analysis on real networks: planted channel groups are recovered, learned-feature
patches are the true top-activating crops, results survive a run folder, and the CLI works."""

import json

import numpy as np
import planted
import pytest
import torch
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from pathlens import Network, PathlensError
from pathlens.cli import app
from pathlens.errors import NotFoundError
from pathlens.mechanism import (
    Mechanism,
    analyze,
    list_mechanisms,
    load_mechanism,
    mechanism_array,
    mechanism_summary,
    receptive_field,
    save_mechanism,
    top_patches,
)
from pathlens.store import RunStore


# ---------------------------------------------------------------------------- planted groups
@pytest.fixture(scope="module")
def planted_result():
    model = planted.Planted().eval()
    net = Network(model, torch.zeros(1, 1, planted.SIZE, planted.SIZE))
    x, y = planted.images()
    assert (model(x).argmax(1) == y).all()  # the planted detectors really work
    return net, x, y, analyze(net, x, y, classes=["horizontal", "vertical", "diagonal"])


def test_clusters_recover_the_planted_channel_groups(planted_result):
    *_, result = planted_result
    for site, truth in (("relu1", planted.GROUP1), ("relu2", planted.GROUP2)):
        s = result.site(site)
        assert s.clusters.chosen_by == "silhouette"
        assert s.n_clusters == 3, (site, s.clusters.silhouette)
        assert adjusted_rand_score(truth, s.clusters.labels) == 1.0
        # The chosen k has the best silhouette of those tried.
        assert max(s.clusters.silhouette, key=s.clusters.silhouette.get) == 3
        # Each cluster prefers a different class: its group's orientation.
        matrix = s.clusters.class_matrix
        best = matrix.argmax(1)
        assert sorted(best.tolist()) == [0, 1, 2]
        for i, members in enumerate(s.clusters.members):
            assert {truth[c] for c in members} == {int(best[i])}
        # Orders: the members in channel_order, the classes a permutation.
        assert sorted(s.clusters.channel_order) == list(range(s.channels))
        assert s.clusters.channel_order == [c for m in s.clusters.members for c in m]
        assert sorted(s.clusters.class_order) == [0, 1, 2]
        for i, rep in enumerate(s.clusters.representative):
            assert rep in s.clusters.members[i]


def test_planted_connections_bundle_group_to_group(planted_result):
    _, _, _, result = planted_result
    (edge,) = result.edges
    one, two = result.site("relu1").clusters, result.site("relu2").clusters
    contributions = result.contributions("relu1", "relu2")
    assert contributions.shape == (12, 6)
    # Planted: group g of relu1 feeds pair g of relu2 only, with positive weights.
    for i in range(12):
        for j in range(6):
            if planted.GROUP1[i] != planted.GROUP2[j]:
                assert contributions[i, j] == 0
    assert (contributions.sum(0) > 0).all()
    assert len(edge.bundles) == 3 < edge.weight.size == 9
    for bundle in edge.bundles:
        (a,), (b,) = bundle.sources, bundle.targets
        group = {planted.GROUP1[c] for c in one.members[a]}
        assert group == {planted.GROUP2[c] for c in two.members[b]}
        assert bundle.weight > 0 and bundle.weight == pytest.approx(bundle.strength)
    assert sum(b.strength for b in edge.bundles) == pytest.approx(contributions.abs().sum())
    assert sum(b.weight for b in edge.bundles) == pytest.approx(contributions.sum())


@pytest.mark.slow
def test_maximization_images_per_cluster(planted_result):
    net, x, y, _ = planted_result
    result = analyze(net, x[:30], y[:30], maximize=True, maximize_steps=8, contribution_images=0)
    assert [len(s.clusters.representative) for s in result.sites] == [3, 3]
    for site in result.sites:
        pictures = result.arrays[f"sites/{site.name}/maximization"]
        assert pictures.shape == (site.n_clusters, 1, planted.SIZE, planted.SIZE)
        assert pictures.min() >= 0 and pictures.max() <= 1
        assert pictures.std() > 0
    assert "maximization" in result.timing


# ---------------------------------------------------------------------------- learned features
@pytest.fixture(scope="module")
def cnn_small(cnn_net, test_set):
    images, labels = test_set.images[:60], test_set.labels[:60]
    result = analyze(
        cnn_net, images, labels, classes=test_set.classes, patches=5, batch_size=16,
        contribution_images=16,
    )  # fmt: skip
    return images, labels, result


def brute_force_top(net, site, images, k, batch_size):
    """Every position of every image: per channel the k images with the highest maximum
    (first position of the maximum; ties to the lower image index)."""
    out = net.activations(images, sites=[site], batch_size=batch_size)[site]
    flat = out.flatten(2) if out.dim() > 2 else out[:, :, None]
    value, position = flat.max(2)  # [N, C]
    best = []
    for c in range(out.shape[1]):
        ranked = sorted(range(len(images)), key=lambda n, c=c: (-value[n, c].item(), n))
        best.append(ranked[:k])
    return torch.tensor(best), value, position


def check_patches(net, result, images, site, k, batch_size):
    top = result.top_patches(site)
    best, value, position = brute_force_top(net, site, images, k, batch_size)
    channels = net.site(site).channels
    rf = receptive_field(net, site)
    index = torch.arange(channels)[:, None]
    # Exact on purpose: the brute force runs the same batches through the same kernels, so the
    # values (and the order of ties) agree bit for bit on any machine.
    assert torch.equal(top.image_index, best), site
    assert torch.equal(top.value, value[best, index]), site
    grid_width = rf.grid[1]
    flat = top.position[..., 0] * grid_width + top.position[..., 1]
    assert torch.equal(flat, position[best, index]), site
    ph, pw = result.site(site).patch_size
    assert top.patches.shape == (channels, k, images.shape[1], ph, pw)
    height, width = images.shape[2:]
    for c in range(channels):
        for j in range(k):
            row, col = top.position[c, j].tolist()
            t, left, b, r = rf.box(row, col)
            assert tuple(top.box[c, j].tolist()) == (t, left, b, r)
            # The crop shows the field's pixels at their place, and zeros off the image.
            oy, ox = top.origin[c, j].tolist()
            image = images[top.image_index[c, j]]
            want = torch.zeros(images.shape[1], ph, pw)
            y0, y1 = max(oy, 0), min(oy + ph, height)  # the part of the patch on the image
            x0, x1 = max(ox, 0), min(ox + pw, width)
            want[:, y0 - oy : y1 - oy, x0 - ox : x1 - ox] = image[:, y0:y1, x0:x1]
            assert torch.equal(top.patches[c, j], want)
            assert torch.equal(
                top.patches[c, j][:, t - oy : b - oy, left - ox : r - ox], image[:, t:b, left:r]
            )


@pytest.mark.slow
def test_patches_are_the_true_top_activating_crops(cnn_net, cnn_small):
    images, _, result = cnn_small
    for site in cnn_net.site_names:  # 28x28, 14x14 conv sites and a linear site
        check_patches(cnn_net, result, images, site, 5, batch_size=16)


@pytest.mark.slow
def test_patches_on_the_resnet_equal_brute_force_and_top_patches(resnet_net, test_set):
    images, labels = test_set.images[:40], test_set.labels[:40]
    result = analyze(resnet_net, images, labels, patches=4, batch_size=40, contribution_images=0)
    assert result.edges == [] and result.settings["contribution_images"] == 0
    for site in ("stem.2", "layer1.1.bn2", "layer3.1.relu1"):
        check_patches(resnet_net, result, images, site, 4, batch_size=40)
        alone = top_patches(resnet_net, site, images, k=4, batch_size=40)
        ours = result.top_patches(site)
        for name in ("image_index", "position", "value", "box", "origin", "patches"):
            assert torch.equal(getattr(ours, name), getattr(alone, name)), (site, name)


@pytest.mark.slow
def test_statistics_match_a_direct_computation(cnn_net, cnn_small):
    images, labels, result = cnn_small
    acts = cnn_net.activations(images, batch_size=16)
    for site in ("stage2.2", "head.2"):
        out = acts[site].double()
        flat = out.flatten(2) if out.dim() > 2 else out[:, :, None]
        profile = result.arrays[f"sites/{site}/profile"].double()
        # The same activations (same batches of 16), averaged in float32 by analyze and in
        # float64 here: float32 sums of N values err by about log2(N) * eps * max|x| (pairwise
        # sums), under 1e-5 of the largest value for the N <= 60 x 196 of these sites.
        tol = 1e-5 * max(1.0, flat.abs().max().item())
        for c in range(10):
            mask = labels == c
            if mask.any():
                want = flat[mask].mean(2).mean(0)
                assert torch.allclose(profile[:, c], want, rtol=0, atol=tol)
        stats = result.site(site).stats
        assert np.allclose(stats["max_mean"], flat.amax(2).mean(0).numpy(), rtol=0, atol=tol)
        assert np.allclose(stats["mean"], flat.mean((0, 2)).numpy(), rtol=0, atol=tol)
        assert ((stats["fill"] >= 0) & (stats["fill"] <= 1 + 1e-9)).all()
    assert result.class_counts == torch.bincount(labels, minlength=10).tolist()
    assert (result.site("head.2").stats["spread"] == 0).all()  # no spatial extent


@pytest.mark.slow
def test_summary_is_json_with_the_documented_shape(cnn_net, cnn_small):
    _, _, result = cnn_small
    body = json.loads(json.dumps(result.to_dict()))
    assert body["kind"] == "mechanism" and body["n_images"] == 60
    assert [s["name"] for s in body["sites"]] == cnn_net.site_names
    assert [(e["source"], e["target"]) for e in body["edges"]] == [
        tuple(e) for e in body["network"]["edges"]
    ]
    for s in body["sites"]:
        assert len(s["labels"]) == s["channels"] and len(s["class_matrix"]) == s["n_clusters"]
        assert sum(c["size"] for c in s["clusters"]) == s["channels"]
    for e in body["edges"]:
        assert sum(b["strength"] for b in e["bundles"]) == pytest.approx(e["total_strength"])
        assert sum(b["share"] for b in e["bundles"]) == pytest.approx(1.0)
    assert set(body["timing"]) >= {"pass", "clustering", "contributions", "bundling", "total"}


def test_bad_arguments_are_messages(cnn_net, test_set):
    images, labels = test_set.images[:10], test_set.labels[:10]
    cases = [
        (dict(labels=labels[:5]), "one class index per image"),
        (dict(k_max=1), "k_max must be"),
        (dict(patches=0), "patches must be"),
        (dict(labels=labels.float() + 0.5), "whole class indices"),
        (dict(labels=-labels - 1), ">= 0"),
        (dict(classes=["a", "b"]), "class names"),
        (dict(batch_size=0), "batch_size"),
    ]
    for kwargs, expected in cases:
        args = {"labels": labels, **kwargs}
        with pytest.raises(PathlensError, match=expected):
            analyze(cnn_net, images, **args)


def test_one_cluster_when_nothing_separates_channels():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 6 * 6, 2)).eval()  # fmt: skip
    with torch.no_grad():
        model[0].weight.copy_(model[0].weight[:1].expand(4, -1, -1, -1))
        model[0].bias.fill_(1.0)  # four copies of one channel
    net = Network(model, torch.zeros(1, 1, 8, 8))
    x = torch.rand(12, 1, 8, 8)
    result = analyze(net, x, torch.arange(12) % 2, contribution_images=0)
    s = result.site("1")
    assert s.n_clusters == 1 and s.clusters.chosen_by.startswith("one cluster")


# ---------------------------------------------------------------------------- storage
@pytest.mark.slow
def test_store_round_trip(tmp_path, cnn_small):
    _, _, result = cnn_small
    with RunStore(tmp_path / "run") as run:
        assert run.meta("network") is None
        first = save_mechanism(run, result, name="test")
        second = save_mechanism(run, result, name="checkpoint 3")
        assert run.meta("network") == result.network
    with RunStore(tmp_path / "run", create=False) as run:
        listed = list_mechanisms(run)
        assert [(m["id"], m["name"], m["n_images"]) for m in listed] == [
            (first, "test", 60), (second, "checkpoint 3", 60)
        ]  # fmt: skip
        assert {a["kind"] for a in run.analyses()} == {"mechanism"}
        loaded = load_mechanism(run, second)
        summary = mechanism_summary(run, second)
        assert torch.equal(
            mechanism_array(run, first, "sites/stage1.2/patches"),
            result.arrays["sites/stage1.2/patches"],
        )
        light = load_mechanism(run, first, arrays=False)
        with pytest.raises(NotFoundError):
            load_mechanism(run, 99)
    assert isinstance(loaded, Mechanism)
    assert summary == {**json.loads(json.dumps(result.to_dict())), "name": "checkpoint 3"}
    assert loaded.to_dict() == result.to_dict()
    assert light.to_dict() == result.to_dict() and light.arrays == {}
    assert set(loaded.arrays) == set(result.arrays)
    for key, value in result.arrays.items():
        assert loaded.arrays[key].dtype == value.dtype
        assert torch.equal(loaded.arrays[key], value), key
    site = loaded.site("stage2.5")
    assert np.array_equal(site.clusters.labels, result.site("stage2.5").clusters.labels)
    assert loaded.edges[0].bundles == result.edges[0].bundles


# ---------------------------------------------------------------------------- CLI
runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow
def test_cli_mechanism_on_the_demo_cnn(tmp_path, demo_cnn):
    out = tmp_path / "run"
    result = cli("mechanism", "--model", "demo:cnn", "--out", out, "--n", 48, "--name",
                 "checkpoint 3", "--contribution-images", 16)  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "mechanism of demo:cnn over 48 images" in text
    for site in ("stage1.2", "stage2.2", "stage2.5", "head.2"):
        assert site in text
    assert "saved mechanism 1" in text
    result = cli("mechanism", "--model", "demo:cnn", "--out", out, "--n", 24, "--split", "train",
                 "--contribution-images", 0)  # fmt: skip
    assert result.exit_code == 0, result.output
    with RunStore(out, create=False) as run:
        listed = list_mechanisms(run)
        assert [(m["name"], m["n_images"], m["data"]["split"]) for m in listed] == [
            ("checkpoint 3", 48, "test"), ("train", 24, "train")
        ]  # fmt: skip
        assert run.meta("model")["spec"] == "demo:cnn"
        assert run.meta("network")["sites"][0]["name"] == "stage1.2"
        loaded = load_mechanism(run, listed[0]["id"])
    assert loaded.site("head.2").clusters.labels.shape == (64,)
    assert loaded.arrays["sites/stage1.2/patches"].shape[:2] == (16, 8)


@pytest.mark.slow
def test_cli_mechanism_errors_are_messages(tmp_path, demo_cnn):
    afile = tmp_path / "file"
    afile.write_text("x")
    cases = [
        (["--split", "val"], "--split must be 'test' or 'train'"),
        (["--n", "0"], "--n must be at least 1"),
        (["--k-max", "1"], "--k-max must be at least 2"),
        (["--contribution-images", "-1"], "--contribution-images must be 0 or more"),
        (["--out", afile], "is a file, not a run folder"),
        (["--images", tmp_path / "missing.npz"], "missing.npz"),
    ]
    for extra, expected in cases:
        args = ["mechanism", "--model", "demo:cnn", "--n", "20", "--out", tmp_path / "r", *extra]
        result = cli(*args)
        assert result.exit_code == 2, (extra, result.output)
        assert expected in " ".join(result.output.split()), (extra, result.output)
        assert "Traceback" not in result.output
