"""Sites and edges for every architecture style, from fx and from the recorded execution."""

import itertools

import pytest
import torch

import zoo
from pathlens import Network, PathlensError
from pathlens.model._graph import record_graph
from pathlens.model._sites import auto_sites, site_edges


def image(n=2):
    torch.manual_seed(1)
    return torch.rand(n, 1, 8, 8)


def sites_of(net):
    return [(s.name, s.kind, s.channels) for s in net.sites]


def test_plain_cnn_nested_sequentials_and_inplace_relu():
    net = Network(zoo.build(zoo.PlainCNN), image())
    assert net.graph_source == "fx"
    assert sites_of(net) == [
        ("features.0.1", "conv", 4),
        ("features.1.2", "conv", 6),  # the ReLU after conv -> batch norm
        ("act", "linear", 12),  # the hidden linear layer; fc2 (the output) is no site
    ]
    assert net.sites[0].segment == ("features", "features.0")
    assert net.sites[2].segment == ("head",)
    assert net.sites[1].shape == (6, 8, 8)
    assert net.edges == [("features.0.1", "features.1.2"), ("features.1.2", "act")]


def test_functional_relu_uses_the_module_before_it():
    net = Network(zoo.build(zoo.FunctionalCNN), image())
    assert sites_of(net) == [("conv1", "conv", 4), ("bn2", "conv", 5)]
    assert net.edges == [("conv1", "bn2")]


def test_resnet_residual_branches_and_edges():
    net = Network(zoo.build(zoo.TinyResNet), image())
    # The residual branch (conv2, before the addition) is the site, not the post-addition sum:
    # zeroing the sum would cut the residual stream.
    assert sites_of(net) == [
        ("stem.1", "conv", 4),
        ("stage.0.relu1", "conv", 4),
        ("stage.0.conv2", "branch", 4),
        ("stage.1.relu1", "conv", 4),
        ("stage.1.conv2", "branch", 4),
    ]
    assert set(net.edges) == {
        ("stem.1", "stage.0.relu1"),
        ("stage.0.relu1", "stage.0.conv2"),
        ("stage.0.conv2", "stage.1.relu1"),
        ("stem.1", "stage.1.relu1"),  # through stage.0's skip connection
        ("stage.1.relu1", "stage.1.conv2"),
    }
    assert net.site("stage.0.conv2").segment == ("stage", "stage.0")
    assert net.site("stage.0.relu1").segment == ("stage", "stage.0")


def test_demo_resnet_sites(demo_resnet):
    net = Network(demo_resnet, torch.zeros(1, 1, 28, 28))
    kinds = [s.kind for s in net.sites]
    assert kinds == ["conv"] + ["conv", "branch"] * 6
    assert [s.channels for s in net.sites if s.kind == "branch"] == [16, 16, 32, 32, 64, 64]
    assert net.site("layer2.0.bn2").shape == (32, 7, 7)
    # the residual stream carries every earlier branch to later blocks
    assert ("layer1.1.bn2", "layer2.0.relu1") in net.edges
    assert ("stem.2", "layer3.1.relu1") in net.edges


def test_post_addition_block_outputs_by_hand(demo_resnet):
    names = [f"layer{i}.{j}" for i in (1, 2, 3) for j in (0, 1)]
    net = Network(demo_resnet, torch.zeros(1, 1, 28, 28), sites=names)
    assert net.edges == list(itertools.pairwise(names))


def test_producer_is_the_layer_making_the_channels():
    net = Network(zoo.build(zoo.PlainCNN), image())
    assert net.producer("features.0.1") == "features.0.0"  # ReLU <- conv
    assert net.producer("features.1.2") == "features.1.0"  # ReLU <- batch norm <- conv
    assert net.producer("act") == "fc1"
    resnet = Network(zoo.build(zoo.TinyResNet), image())
    assert resnet.producer("stage.0.conv2") == "stage.0.conv2"  # the site is the layer itself
    # a post-addition block output is made by a join, not by a layer
    blocks = Network(zoo.build(zoo.TinyResNet), image(), sites=["stage.0.relu2", "stem.1"])
    assert blocks.producer("stage.0.relu2") is None
    assert blocks.producer("stem.1") == "stem.0"
    with pytest.raises(PathlensError, match="stem.9"):
        net.producer("stem.9")


def test_concatenation_edges():
    net = Network(zoo.build(zoo.ConcatNet), image())
    assert sites_of(net) == [
        ("stem.1", "conv", 4),
        ("inception.b1.1", "conv", 2),
        ("inception.b3.1", "conv", 3),
        ("inception", "concat", 5),
        ("dense.act", "conv", 3),
        ("dense", "concat", 8),
    ]
    assert set(net.edges) == {
        ("stem.1", "inception.b1.1"),
        ("stem.1", "inception.b3.1"),
        ("inception.b1.1", "inception"),  # both branches join at the concatenation
        ("inception.b3.1", "inception"),
        ("inception", "dense.act"),
        ("inception", "dense"),  # DenseNet-style: the input is concatenated to the output
        ("dense.act", "dense"),
    }


def test_depthwise_and_grouped_convolutions():
    net = Network(zoo.build(zoo.GroupedNet), image())
    assert sites_of(net) == [
        ("stem.1", "conv", 4),
        ("grouped.1", "conv", 8),
        ("block.expand.2", "conv", 16),
        ("block.depthwise.2", "conv", 16),
        ("block.project.1", "branch", 8),  # the inverted residual's projection
    ]
    assert ("grouped.1", "block.expand.2") in net.edges


def test_untraceable_model_falls_back_to_recorded_execution():
    model = zoo.build(zoo.Untraceable)
    net = Network(model, image())
    assert net.graph_source == "hooks"
    assert net.fx_error  # says why fx failed
    assert sites_of(net) == [("act1", "conv", 4), ("act2", "conv", 4)]
    assert net.edges == [("act1", "act2")]


@pytest.mark.parametrize(
    "cls",
    [zoo.PlainCNN, zoo.FunctionalCNN, zoo.TinyResNet, zoo.ConcatNet, zoo.GroupedNet, zoo.VAE],
)
def test_fx_and_recorded_execution_agree(cls):
    model = zoo.build(cls)
    net = Network(model, image())
    assert net.graph_source == "fx"
    recording = record_graph(model, image())
    assert auto_sites(recording.graph, recording.call_counts) == {s.name: s.kind for s in net.sites}
    assert site_edges(recording.graph, net.site_names) == net.edges


def test_shared_module_is_refused_by_name_and_avoided_in_auto_mode():
    model = zoo.build(zoo.SharedReLU)
    with pytest.raises(PathlensError, match=r"'relu' runs 2 times"):
        Network(model, image(), sites=["relu"])
    net = Network(model, image())
    assert net.site_names == ["conv1", "conv2"]  # the shared ReLU's inputs stand in


def test_generator_and_vae_sites():
    gen = Network(zoo.build(zoo.Generator), torch.randn(2, 8))
    assert sites_of(gen) == [("project.1", "linear", 64), ("up1.2", "conv", 8)]
    vae = Network(zoo.build(zoo.VAE), image())
    # mu, logvar and the reconstruction are outputs, not sites
    assert sites_of(vae) == [("encoder.1", "conv", 4), ("decoder.1", "linear", 16)]
    assert vae.edges == [("encoder.1", "decoder.1")]


def test_sites_by_hand():
    net = Network(zoo.build(zoo.TinyResNet), image(), sites=["stage.1", "stem.0", "stage.0.conv2"])
    assert net.site_names == ["stem.0", "stage.0.conv2", "stage.1"]  # forward order
    assert all(s.kind == "module" for s in net.sites)
    # stem.0 also reaches stage.1 around stage.0.conv2, through stage.0's skip connection
    assert set(net.edges) == {
        ("stem.0", "stage.0.conv2"),
        ("stage.0.conv2", "stage.1"),
        ("stem.0", "stage.1"),
    }
