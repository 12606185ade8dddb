"""A network built so that only known channels carry the class signal."""

import pytest
import torch
from torch import nn

from pathlens import Network, PathlensWarning, extract_datapath


class Planted(nn.Module):
    """3 classes; image class c has a bright input channel c.

    Site `a` (6 channels): channels 0-2 copy input channels 0-2; channels 3-5 are strongly
    activated mixtures (the "salient secondary object") whose outgoing weights are zero.
    Site `b` (6 channels): channel c copies a's channel c for c < 3; channels 3-5 are
    bright constants that feed nothing. Logits = spatial mean of b's channels 0-2.
    """

    def __init__(self):
        super().__init__()
        self.conv_a = nn.Conv2d(3, 6, 1)
        self.act_a = nn.ReLU()
        self.conv_b = nn.Conv2d(6, 6, 1)
        self.act_b = nn.ReLU()
        with torch.no_grad():
            self.conv_a.weight.zero_()
            self.conv_a.bias.zero_()
            for c in range(3):
                self.conv_a.weight[c, c] = 1.0
            self.conv_a.weight[3:, :] = 5.0
            self.conv_b.weight.zero_()
            self.conv_b.bias.zero_()
            for c in range(3):
                self.conv_b.weight[c, c] = 1.0
            self.conv_b.bias[3:] = 10.0

    def forward(self, x):
        b = self.act_b(self.conv_b(self.act_a(self.conv_a(x))))
        return b[:, :3].mean((2, 3))


def images_of(cls, n):
    torch.manual_seed(cls)
    x = torch.rand(n, 3, 4, 4) * 0.2
    x[:, cls] += 0.8
    return x


@pytest.fixture(scope="module")
def net():
    return Network(Planted().eval(), images_of(0, 1))


def test_planted_sites(net):
    assert net.site_names == ["act_a", "act_b"]


@pytest.mark.slow
def test_set_alone_needs_exactly_its_channel(net):
    with pytest.warns(PathlensWarning, match="specificity is unknown"):
        datapath = extract_datapath(net, images_of(0, 8))
    assert datapath.channels == {"act_a": [0], "act_b": [0]}
    assert datapath.fidelity.sufficiency == 1.0
    assert datapath.fidelity.necessity == 0.0  # without channel 0 no image stays class 0


@pytest.mark.slow
def test_specificity_needs_exactly_the_signal_channels(net):
    # class 1: with every channel removed all logits tie at 0 and argmax says class 0, so a
    # class-0 set could never look necessary
    control = torch.cat([images_of(0, 8), images_of(2, 8)])
    datapath = extract_datapath(net, images_of(1, 8), control=control)
    # keeping only channel 1 would turn every control image into class 1
    assert datapath.channels == {"act_a": [0, 1, 2], "act_b": [0, 1, 2]}
    assert datapath.fidelity.specificity == 1.0


@pytest.mark.slow
def test_top_activation_keeps_the_salient_distractors(net):
    control = torch.cat([images_of(0, 8), images_of(2, 8)])
    activation = extract_datapath(net, images_of(1, 8), method="activation", control=control)
    gates = extract_datapath(net, images_of(1, 8), control=control)
    assert {3, 4, 5} <= set(activation.channels["act_a"])  # brightest, yet useless
    assert activation.kept_fraction > gates.kept_fraction
