"""The adversarial analysis on the demo ResNet: sets, datapaths, comparison, contributions."""

import json

import pytest
import torch

from pathlens import PathlensError
from pathlens.attacks import (
    AdversarialAnalysis,
    divergence_and_merge,
    explain_adversarial,
    load_analysis,
    progress_to_target,
    save_analysis,
)
from pathlens.datapath import SiteComparison, load_datapath
from pathlens.model import Network
from pathlens.store import RunStore

BOOT, SNEAKER = 9, 7

pytestmark = pytest.mark.slow  # each test here takes seconds (models, attacks, servers)


@pytest.fixture(scope="module")
def net(demo_resnet):
    return Network(demo_resnet, torch.zeros(1, 1, 28, 28))


@pytest.fixture(scope="module")
def data(test_set):
    return test_set.images[:3000], test_set.labels[:3000]


@pytest.fixture(scope="module")
def analysis(net, data):
    images, labels = data
    return explain_adversarial(net, images, labels, BOOT, SNEAKER, eps=0.1, n=8)


def test_sets_are_built_correctly(net, data, analysis):
    images, labels = data
    a_images = analysis.set_images["A"]
    _, pred_a = net.predict(a_images)
    assert (pred_a == SNEAKER).all()  # every adversarial image is predicted as the target
    b_index = torch.tensor(analysis.sets["B"]["indices"])
    assert (labels[b_index] == BOOT).all()
    assert torch.equal(net.predict(images[b_index])[1], labels[b_index])
    c_index = torch.tensor(analysis.sets["C"]["indices"])
    assert (labels[c_index] == SNEAKER).all()
    assert (net.predict(images[c_index])[1] == SNEAKER).all()
    # A is B perturbed within eps
    assert float((a_images - images[b_index]).abs().max()) <= 0.1 + 1e-5
    assert analysis.sets["A"]["size"] == len(a_images) == 8


def test_datapaths_comparison_and_rules(analysis):
    for key, cls in (("A", SNEAKER), ("B", BOOT), ("C", SNEAKER)):
        datapath = analysis.datapaths[key]
        assert datapath.fidelity.sufficiency == 1.0
        assert set(datapath.targets) == {cls}
    for i, site in enumerate(analysis.sites):
        a = set(analysis.datapaths["A"].channels[site])
        b = set(analysis.datapaths["B"].channels[site])
        ab = analysis.comparisons["AB"][i]
        assert ab.site == site
        assert ab.jaccard == pytest.approx(len(a & b) / len(a | b))
        assert set(ab.only_a) == a - b and set(ab.only_b) == b - a
    # the rules, recomputed from the stored similarities
    progress = progress_to_target(analysis.comparisons["AB"], analysis.comparisons["AC"])
    assert progress == pytest.approx(analysis.progress, abs=1e-4)
    assert (analysis.divergence, analysis.merge) == divergence_and_merge(progress, analysis.sites)
    # adversarial images end up closer to the target class than to their own
    assert analysis.progress[-1] > 0.5
    assert analysis.merge is not None and analysis.divergence is not None
    assert analysis.sites.index(analysis.divergence) <= analysis.sites.index(analysis.merge)


def test_error_channels(analysis):
    start = analysis.sites.index(analysis.divergence)
    assert analysis.error_channels
    for e in analysis.error_channels:
        assert analysis.sites.index(e.site) >= start
        in_a = e.channel in analysis.datapaths["A"].channels[e.site]
        in_b = e.channel in analysis.datapaths["B"].channels[e.site]
        assert in_a != in_b and (e.side == "adversarial only") == in_a
    magnitudes = [abs(e.contribution) for e in analysis.error_channels]
    assert magnitudes == sorted(magnitudes, reverse=True)


def test_contributions_match_a_manual_gradient(net, analysis):
    """The contribution of channel i at s to channel j at t, recomputed by hand."""
    key = "layer2.0.relu1->layer2.0.bn2"
    s, t = key.split("->")
    matrix = torch.tensor(analysis.contributions[key])
    kept_s = analysis.datapaths["A"].channels[s]
    kept_t = analysis.datapaths["A"].channels[t]
    assert matrix.shape == (len(kept_s), len(kept_t))
    modules = dict(net.model.named_modules())
    x = analysis.set_images["A"]
    saved = {}

    def keep(name):
        def hook(module, args, out):
            saved[name] = out
            return out.clone()

        return hook

    handles = [modules[n].register_forward_hook(keep(n)) for n in (s, t)]
    with torch.enable_grad():
        net.model(x.clone().requires_grad_(True))
    for h in handles:
        h.remove()
    j = kept_t[0]
    (grad,) = torch.autograd.grad(saved[t][:, j].sum(), saved[s])
    by_hand = (grad * saved[s]).sum((2, 3)).mean(0)[kept_s]
    assert torch.allclose(matrix[:, 0], by_hand, atol=1e-5)


def test_stored_and_read_back(tmp_path, analysis):
    with RunStore(tmp_path / "run") as run:
        analysis_id = save_analysis(run, analysis, name="boot->sneaker")
    with RunStore(tmp_path / "run", create=False) as run:
        again = load_analysis(run, analysis_id)
        assert again.divergence == analysis.divergence and again.merge == analysis.merge
        assert again.datapaths["A"] == analysis.datapaths["A"]
        images, _, meta = run.load_image_set(again.links["A"]["image_set"])
        assert torch.equal(images, analysis.set_images["A"]) and meta["set"] == "A"
        assert load_datapath(run, again.links["C"]["datapath"]) == analysis.datapaths["C"]
    json.dumps(analysis.to_dict())  # plain JSON, nothing pickled
    assert isinstance(AdversarialAnalysis.from_dict(analysis.to_dict()), AdversarialAnalysis)


def test_rules_on_constructed_curves():
    def comparisons(similarities):
        return [SiteComparison(f"s{i}", 1.0, v, [], [], []) for i, v in enumerate(similarities)]

    ab = comparisons([1.0, 0.6, 0.5, 0.2, 0.1])
    ac = comparisons([0.2, 0.3, 0.5, 0.8, 0.95])
    progress = progress_to_target(ab, ac)
    assert progress[0] == 0.0 and progress[2] == pytest.approx(0.5)
    assert divergence_and_merge(progress, [c.site for c in ab]) == ("s1", "s2")
    never = progress_to_target(comparisons([1.0, 0.99]), comparisons([0.1, 0.2]))
    assert divergence_and_merge(never, ["s0", "s1"]) == (None, None)


def test_bad_input(net, data):
    images, labels = data
    with pytest.raises(PathlensError, match="are the same"):
        explain_adversarial(net, images, labels, 3, 3)
    with pytest.raises(PathlensError, match="not in 0..9"):
        explain_adversarial(net, images, labels, 3, 12)
    with pytest.raises(PathlensError, match="larger eps"):
        explain_adversarial(net, images, labels, BOOT, SNEAKER, eps=1e-4, n=8)
    with pytest.raises(PathlensError, match="outside"):
        explain_adversarial(net, images * 2, labels, BOOT, SNEAKER)


def test_neuron_view_for_any_channel(net, analysis, data):
    from pathlens.attacks import neuron_view
    from pathlens.mechanism import activation_maps, top_patches

    strongest = analysis.error_channels[0]
    view = neuron_view(net, analysis, strongest.site, strongest.channel)
    direct = activation_maps(net, strongest.site, strongest.channel, analysis.set_images["A"])
    assert view["maps"]["A"].shape == (8, 28, 28)
    assert torch.allclose(view["maps"]["A"], direct, atol=2e-2)  # stored as float16
    top = top_patches(net, strongest.site, data[0][:2000], channels=[strongest.channel])
    assert torch.equal(view["patch_images"], top.image_index[0])
    assert torch.allclose(view["patches"], top.patches[0], atol=1e-3)
    stored = analysis.neurons[f"maximize/{strongest.site}/{strongest.channel}"]
    assert torch.equal(view["maximization"], stored)
    # any other channel works too; its maximisation image is made on demand
    other = neuron_view(net, analysis, "stem.2", 0)
    assert other["maximization"].shape == (1, 28, 28)
    assert set(other["mean"]) == {"A", "B", "C"}
    with pytest.raises(PathlensError, match="channels 0..15"):
        neuron_view(net, analysis, "stem.2", 16)


def test_neuron_arrays_survive_the_store(tmp_path, analysis):
    with RunStore(tmp_path / "run") as run:
        analysis_id = save_analysis(run, analysis)
    with RunStore(tmp_path / "run", create=False) as run:
        again = load_analysis(run, analysis_id)
    assert set(again.neurons) == set(analysis.neurons)
    for name, value in analysis.neurons.items():
        assert torch.equal(again.neurons[name], value), name


def test_imported_adversarial_images_give_the_same_analysis(net, data, analysis):
    from pathlens.attacks import attack

    images, labels = data
    _, top1 = net.predict(images)
    candidates = torch.nonzero((labels == BOOT) & (top1 == BOOT)).flatten()[:16]
    made = attack(net, images[candidates], labels[candidates], "pgd", 0.1, SNEAKER)
    imported = explain_adversarial(net, images, labels, BOOT, SNEAKER, adversarial=made.images, n=8)
    assert imported.attack["method"] == "imported"
    assert imported.sets == analysis.sets
    assert torch.equal(imported.set_images["A"], analysis.set_images["A"])
    for key in ("A", "B", "C"):
        assert imported.datapaths[key].channels == analysis.datapaths[key].channels
    assert (imported.divergence, imported.merge) == (analysis.divergence, analysis.merge)


def test_contributions_sum_to_the_channel_input():
    """Between a ReLU site and the convolution after it, the contributions of all input
    channels add up to the convolution's output minus its bias (the map is linear)."""
    from torch import nn

    from pathlens.datapath import channel_contributions

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 2, 3, padding=1), nn.Flatten()
    ).eval()
    x = torch.rand(5, 1, 6, 6)
    small = Network(model, x, sites=["1", "2"])
    matrices = channel_contributions(small, x, {"1": [0, 1, 2], "2": [0, 1]})
    matrix = matrices[("1", "2")]
    with torch.no_grad():
        out = model[2](model[1](model[0](x)))
    expected = (out - model[2].bias.view(1, -1, 1, 1)).sum((2, 3)).mean(0)
    assert torch.allclose(matrix.sum(0), expected, atol=1e-5)
    # and each entry is the channel's own share: conv of channel i alone, summed
    with torch.no_grad():
        hidden = model[1](model[0](x))
        only_1 = torch.nn.functional.conv2d(hidden[:, 1:2], model[2].weight[:, 1:2], padding=1)
    assert torch.allclose(matrix[1], only_1.sum((2, 3)).mean(0), atol=1e-5)
