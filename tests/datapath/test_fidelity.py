"""Reported fidelity equals fidelity recomputed here with hooks written independently."""

import warnings

import pytest
import torch

from conftest import class_set, control_for
from pathlens import PathlensWarning, extract_datapath
from pathlens.datapath import METHODS

pytestmark = pytest.mark.slow  # each test here takes seconds (models, attacks, servers)


def hard_masked_top1(model, modules, keep, images, invert=False):
    """Top-1 with only `keep[site]` channels (or all but them, if invert) kept at every site."""
    handles = []
    for name, channels in keep.items():
        module = modules[name]

        def hook(mod, args, out, channels=channels):
            mask = torch.zeros(out.shape[1])
            mask[channels] = 1.0
            if invert:
                mask = 1.0 - mask
            return out * mask.view(1, -1, *([1] * (out.dim() - 2)))

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            return model(images).argmax(1)
    finally:
        for h in handles:
            h.remove()


def recompute(net, datapath, images, control):
    model = net.model
    modules = dict(model.named_modules())
    targets = torch.tensor(datapath.targets)
    sufficiency = (hard_masked_top1(model, modules, datapath.channels, images) == targets).float()
    necessity = hard_masked_top1(model, modules, datapath.channels, images, invert=True)
    with torch.no_grad():
        control_plain = model(control).argmax(1)
    classes = torch.unique(targets)
    other = ~torch.isin(control_plain, classes)
    masked_control = hard_masked_top1(model, modules, datapath.channels, control[other])
    specificity = 1.0 - torch.isin(masked_control, classes).float().mean().item()
    return sufficiency.mean().item(), specificity, (necessity == targets).float().mean().item()


@pytest.mark.parametrize("method", ["gates", "activation", "gradxact", "random"])
def test_reported_fidelity_is_the_hard_mask_fidelity(resnet_net, test_set, method):
    images = class_set(resnet_net, test_set, 9, 8)
    control = control_for(test_set, 9)
    datapath = extract_datapath(resnet_net, images, method=method, control=control)
    sufficiency, specificity, necessity = recompute(resnet_net, datapath, images, control)
    assert datapath.fidelity.sufficiency == pytest.approx(sufficiency)
    assert datapath.fidelity.specificity == pytest.approx(specificity)
    assert datapath.fidelity.necessity == pytest.approx(necessity)
    # the targets the method had to meet
    assert sufficiency == 1.0 and specificity >= 0.9
    assert all(len(c) >= 1 for c in datapath.channels.values())
    assert set(datapath.channels) == set(resnet_net.site_names)


@pytest.mark.parametrize("model_name", ["cnn", "resnet"])
@pytest.mark.parametrize("method", METHODS)
def test_every_method_keeps_every_prediction(request, test_set, model_name, method):
    net = request.getfixturevalue(f"{model_name}_net")
    images = class_set(net, test_set, 7, 4)
    control = control_for(test_set, 7, 32)
    # Sufficiency and specificity are what every method must meet here. The necessity target
    # is not: a per-site ranker on the 4-site CNN may keep a set whose removal leaves redundant
    # routes intact (necessity 1.0 with the shipped weights), which is a finding about the
    # baseline, not a failure to keep predictions; gates' necessity is tested below.
    datapath = extract_datapath(net, images, method=method, control=control, max_necessity=None)
    sufficiency, specificity, _ = recompute(net, datapath, images, control)
    assert sufficiency == 1.0
    assert specificity >= 0.9
    assert datapath.method == method
    assert 0 < datapath.kept_fraction <= 1


def test_gates_are_sparser_than_top_activation(resnet_net, test_set):
    images = class_set(resnet_net, test_set, 7, 16)
    control = control_for(test_set, 7)
    gates = extract_datapath(resnet_net, images, control=control)
    activation = extract_datapath(resnet_net, images, method="activation", control=control)
    assert gates.kept_fraction < activation.kept_fraction
    assert gates.fidelity.necessity <= 0.2


def test_mean_ablation_stores_its_reference(resnet_net, test_set):
    images = class_set(resnet_net, test_set, 1, 4)
    control = control_for(test_set, 1, 32)
    datapath = extract_datapath(resnet_net, images, control=control, ablation="mean")
    assert datapath.ablation == "mean"
    means = resnet_net.channel_means(torch.cat([images, control]))
    for name, values in datapath.reference.items():
        assert torch.allclose(torch.tensor(values), means[name], atol=1e-5)
    # reproduce the hard mask from the stored reference: sufficiency holds
    reference = {n: torch.tensor(v) for n, v in datapath.reference.items()}
    with resnet_net.mask(datapath.channels, ablation="mean", reference=reference):
        _, top1 = resnet_net.predict(images)
    assert torch.equal(top1, torch.tensor(datapath.targets))


def test_unreachable_target_returns_best_with_warning(resnet_net, test_set):
    images = class_set(resnet_net, test_set, 7, 4)  # sneakers, asked to stay "trouser"
    with pytest.warns(PathlensWarning, match="No datapath reached"):
        datapath = extract_datapath(
            resnet_net, images, method="activation", target=1, control=control_for(test_set, 1)
        )
    assert datapath.fidelity.sufficiency < 1.0
    assert datapath.targets == [1] * 4


def test_without_control_specificity_is_unknown(cnn_net, test_set):
    images = class_set(cnn_net, test_set, 8, 2)
    with pytest.warns(PathlensWarning, match="specificity is unknown"):
        datapath = extract_datapath(cnn_net, images, method="gradxact")
    assert datapath.fidelity.specificity is None
    assert datapath.n_control == 0


def test_gate_progress_events(cnn_net, test_set):
    images = class_set(cnn_net, test_set, 8, 2)
    events = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PathlensWarning)
        datapath = extract_datapath(cnn_net, images, callback=events.append)
    steps = [e for e in events if e["stage"] == "optimising"]
    assert steps and all(0 <= e["kept_fraction"] <= 1 for e in steps)
    assert set(steps[0]["gates"]) == set(cnn_net.site_names)  # gates stream out as they move
    assert events[-1]["stage"] == "done" and events[-1]["datapath"] is datapath
