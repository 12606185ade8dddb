"""Detectors and credit assignment on runs recorded with the Tracker from small networks whose
failures are planted: a neuron killed, a neuron made to explode, one saturated, a neuron whose
outgoing weight grows until the next layers explode."""

import numpy as np
import pytest
import torch
from torch import nn

from pathlens import PathlensError, Tracker, open_run
from pathlens.training import credit, detect
from pathlens.training._measure import summed_weight


class MLP(nn.Module):
    """x [N, 4] -> fc1 -> relu1 -> fc2 -> act2 -> ... -> out: one site per hidden layer."""

    def __init__(self, widths=(8, 8), act=nn.ReLU, inputs: int = 4):
        super().__init__()
        sizes = (inputs, *widths)
        for i in range(len(widths)):
            setattr(self, f"fc{i + 1}", nn.Linear(sizes[i], sizes[i + 1]))
            setattr(self, f"act{i + 1}", act() if i == len(widths) - 1 else nn.ReLU())
        self.out = nn.Linear(widths[-1], 1)
        self.depth = len(widths)

    def forward(self, x):
        for i in range(1, self.depth + 1):
            x = getattr(self, f"act{i}")(getattr(self, f"fc{i}")(x))
        return self.out(x)


def record(tmp_path, model, steps: int, plant, every: int = 2, lr: float = 0.01, seed=0):
    """Train `model` on a fixed regression task with SGD, calling plant(step) after each
    update (under no_grad), with a Tracker every `every` steps."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, model.fc1.in_features, generator=g)
    y = x[:, :1] - 0.5 * x[:, 1:2]
    probe = x[:64]
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    folder = tmp_path / "run"
    with Tracker(model, folder, every=every, probe=probe) as tracker:
        for step in range(steps):
            batch = torch.randint(0, 256, (32,), generator=g)
            loss = nn.functional.mse_loss(model(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                plant(step)
            tracker.step(loss=loss.item())
    return folder


def flagged(report, site):
    return {flag: sorted(n) for flag, n in report["sites"][site]["neurons"].items()}


# ------------------------------------------------------------------------ detectors
@pytest.mark.slow
def test_detectors_flag_planted_dead_and_exploding_neurons_and_no_healthy_ones(tmp_path):
    torch.manual_seed(0)
    model = MLP((8, 8))
    with torch.no_grad():  # the exploding neuron does not feed the loss: nothing else moves
        model.out.weight[0, 5] = 0.0
        model.fc2.weight[5] = model.fc2.weight[5].abs() + 0.1
        model.fc2.bias[5] = 0.5

    def plant(step):
        model.out.weight[0, 5] = 0.0  # kept out of the loss, or the loss would explode too
        if step == 20:  # relu1 neuron 2 dies: no input, negative bias
            model.fc1.weight[2] = 0.0
            model.fc1.bias[2] = -1.0
        if step >= 30:  # relu2 neuron 5 grows 1.25-fold a step
            model.fc2.weight[5] *= 1.25
            model.fc2.bias[5] *= 1.25

    run = open_run(record(tmp_path, model, 60, plant))
    report = detect(run)
    assert flagged(report, "act1") == {"dead": [2]}
    assert flagged(report, "act2") == {"exploding_activation": [5]}
    steps = run.snapshots()
    dead = report["first"]["dead"]
    assert (dead["site"], dead["neurons"]) == ("act1", [2]) and 20 <= dead["step"] <= 22
    boom = report["first"]["exploding_activation"]
    assert (boom["site"], boom["neurons"]) == ("act2", [5])
    assert 30 <= boom["step"] <= 36  # where the growth began, not where it crossed 30-fold
    assert boom["snapshot"] == int(np.searchsorted(steps, boom["step"]))
    site = report["sites"]["act2"]
    assert site["scores"]["exploding_activation"][5] == 1.0
    others = [s for n, s in enumerate(site["scores"]["exploding_activation"]) if n != 5]
    assert max(others) < 0.5 and site["worst"]["neuron"] == 5
    assert report["summary"] == ["dead", "exploding_activation"]
    assert report["run"] == {"mode_collapse": None, "d_domination": None}
    # the same run before anything was planted: nothing at all
    quiet = detect(run, window=(0, 10))
    assert quiet["first"] == {} and all(not s["flags"] for s in quiet["sites"].values())
    run.close()


@pytest.mark.slow
def test_saturated_tanh_neuron_is_flagged_and_no_other(tmp_path):
    torch.manual_seed(1)
    model = MLP((6, 6), act=nn.Tanh)

    def plant(step):
        if step >= 10:
            model.fc2.bias[3] += 0.5  # tanh neuron 3 pinned at +1

    report = detect(record(tmp_path, model, 40, plant))
    # pinned at the bound, its gradient vanishes too (tanh' = 1 - tanh^2 -> 0)
    assert flagged(report, "act2") == {"saturated": [3], "vanishing_gradient": [3]}
    assert flagged(report, "act1") == {}
    assert report["first"]["saturated"]["site"] == "act2"


@pytest.mark.slow
# ------------------------------------------------------------------------ credit
def test_credit_finds_the_planted_culprit_neuron(tmp_path):
    """relu1 neuron 3's outgoing weights grow each step: relu2 and relu3 explode, and the
    trace from relu3's worst neuron leads back to relu1 neuron 3."""
    torch.manual_seed(2)
    model = MLP((8, 8, 8))
    culprit = 3
    with torch.no_grad():
        model.fc1.bias[culprit] = 1.0  # active on every input
        model.fc2.weight[:, culprit] = model.fc2.weight[:, culprit].abs() + 0.2
        model.fc3.weight.abs_()

    def plant(step):
        if step >= 10:
            model.fc2.weight[:, culprit] *= 1.2

    run = open_run(record(tmp_path, model, 50, plant, lr=0.0))
    report = detect(run)
    boom = report["first"]["exploding_activation"]
    assert boom["site"] == "act2"  # where it starts: the layer the growing weights feed
    # the culprit's activation did not change; its gradient grew with its outgoing weights
    assert flagged(report, "act1") == {"exploding_gradient": [culprit]}
    worst = report["sites"]["act3"]["worst"]["neuron"]
    graph = credit(run, "act3", worst, window=(boom["snapshot"], None), depth=2, top=3)
    by_depth = {}
    for node in graph["nodes"]:
        by_depth.setdefault(node["depth"], []).append(node)
    assert [n["site"] for n in by_depth[1]] == ["act2"] * 3
    top = max(by_depth[2], key=lambda n: abs(n["credit"]))
    assert (top["site"], top["neuron"]) == ("act1", culprit)
    # one site back from an exploding act2 neuron, the culprit carries most of its input
    one = credit(run, "act2", boom["neurons"][0], window=(boom["snapshot"], None), depth=1)
    shares = {e["from"][1]: e["weight"] for e in one["edges"]}
    assert max(shares, key=lambda n: abs(shares[n])) == culprit and shares[culprit] > 0.5
    assert sum(abs(w) for w in shares.values()) <= 1 + 1e-9
    assert one["stops"] == [] and graph["stops"] == []
    deeper = credit(run, "act3", worst, window=(boom["snapshot"], None), depth=3, top=3)
    assert [s["site"] for s in deeper["stops"]] == ["act1"]
    assert "model input" in deeper["stops"][0]["reason"]
    # the shares are W x a normalised per target, at each snapshot averaged over the window
    w = run.edge_weights("act2", boom["snapshot"], None)[:, boom["neurons"][0]]
    a = run.neuron_series("act1", "act_mean", boom["snapshot"], None)
    raw = (w * a).mean(axis=0)
    np.testing.assert_allclose(shares[culprit], raw[culprit] / np.abs(raw).sum(), rtol=1e-5)
    run.close()


def test_credit_errors_are_messages(tmp_path):
    model = MLP((4, 4))
    run = open_run(record(tmp_path, model, 4, lambda step: None))
    with pytest.raises(PathlensError, match="neurons: neuron must be in 0..3"):
        credit(run, "act2", 4)
    with pytest.raises(PathlensError, match="holds no snapshots"):
        credit(run, "act2", 0, window=(5, 9))
    with pytest.raises(PathlensError, match="no site named 'act9'"):
        credit(run, "act9", 0)
    with pytest.raises(PathlensError, match="depth must be"):
        credit(run, "act2", 0, depth=-1)
    only_root = credit(run, "act1", 0)
    assert len(only_root["nodes"]) == 1 and only_root["edges"] == []
    assert "model input" in only_root["stops"][0]["reason"]
    run.close()


# ------------------------------------------------------------------------ edge weights
@pytest.mark.parametrize("transposed", [False, True])
def test_summed_weight_is_what_a_constant_input_channel_adds(transposed):
    """Entry [j, i]: output channel j's response (away from the borders) to input channel i
    held at 1 everywhere, minus the bias; grouped layers included."""
    torch.manual_seed(3)
    cls = nn.ConvTranspose2d if transposed else nn.Conv2d
    layer = cls(4, 6, 3, groups=2)
    matrix = summed_weight(layer, 4)
    assert matrix.shape == (6, 4)
    for i in range(4):
        x = torch.zeros(1, 4, 9, 9)
        x[0, i] = 1.0
        with torch.no_grad():
            y = layer(x)[0, :, 4, 4] - layer.bias
        torch.testing.assert_close(matrix[:, i], y, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_tracker_records_edge_weights_and_input_sites(tmp_path):
    from tracker_worker import SmallCNN

    from pathlens.training import DCGANDiscriminator, DCGANGenerator, train_dcgan

    torch.manual_seed(0)
    G, D = DCGANGenerator(nz=8, width=8), DCGANDiscriminator(width=8)
    images = torch.rand(64, 1, 28, 28) * 2 - 1
    probes = {"generator": torch.randn(16, 8, 1, 1), "discriminator": images[:16]}
    with Tracker({"generator": G, "discriminator": D}, tmp_path / "gan", every=2,
                 probe=probes) as tracker:  # fmt: skip
        train_dcgan(G, D, images, steps=3, batch_size=16, tracker=tracker)
    run = open_run(tmp_path / "gan")
    assert run.input_site("generator/main.2") is None  # reads the latent
    assert run.input_site("generator/main.5") == "generator/main.2"
    assert run.input_site("discriminator/main.4") == "discriminator/main.1"
    edges = run.edge_weights("generator/main.5")
    assert edges.shape == (2, 8, 16)
    w = G.main[3].weight.detach()  # ConvTranspose2d [in 16, out 8, 4, 4]
    np.testing.assert_allclose(edges[-1], w.sum((2, 3)).T.numpy(), rtol=1e-5, atol=1e-6)
    w = D.main[2].weight.detach()  # Conv2d [out 16, in 8, 4, 4]
    np.testing.assert_allclose(run.edge_weights("discriminator/main.4")[-1],
                               w.sum((2, 3)).numpy(), rtol=1e-5, atol=1e-6)  # fmt: skip
    with pytest.raises(PathlensError, match="reads no other site"):
        run.edge_weights("generator/main.2")
    diversity = run.output_diversity("generator")
    with torch.no_grad():
        G.eval()
        want = G(probes["generator"]).flatten(1).var(0, correction=0).mean().sqrt()
    assert diversity.shape == (2,) and diversity[-1] == pytest.approx(want.item(), rel=1e-5)
    assert run.activation("generator/main.2") == "ReLU"
    run.close()

    # a linear layer reading a flattened feature map: summed over the positions
    model = SmallCNN()
    with Tracker(model, tmp_path / "cnn", every=1, probe=torch.randn(4, 1, 12, 12)) as tracker:
        tracker.step()
    run = open_run(tmp_path / "cnn")
    assert run.input_site("relu3") == "relu2" and run.input_site("relu2") == "relu1"
    np.testing.assert_allclose(run.edge_weights("relu3")[0],
                               model.fc1.weight.detach().reshape(10, 6, 25).sum(2).numpy(),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    run.close()
    with Tracker(SmallCNN(), tmp_path / "off", probe=torch.randn(4, 1, 12, 12),
                 edge_weights=False) as tracker:  # fmt: skip
        tracker.step()
    with open_run(tmp_path / "off") as run, pytest.raises(PathlensError, match="edge_weights"):
        run.edge_weights("relu3")
