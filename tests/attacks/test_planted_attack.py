"""A network built so that an adversarial pattern enters through known channels at a known
site: the analysis must find that site and those channels."""

import pytest
import torch
from torch import nn

from pathlens.attacks import explain_adversarial
from pathlens.model import Network

# GREY is class 0: with every channel removed all logits tie and argmax picks class 0, which
# must not be a class whose datapath we test for necessity.
GREY, BRIGHT, DIM = 0, 1, 2


class Planted(nn.Module):
    """Site `a`: ch0 bright detector relu(x - .5), ch1 dim detector relu(.5 - x), ch2 and ch3 a
    checkerboard detector (2x2 kernel, both signs). Site `b` (1x1): b0 = 0.2 (grey),
    b1 = a0 (bright), b2 = a1 + 1.5 (a2 + a3) (dim). Logits = spatial means of b. A bright
    image with a faint checkerboard added is read as dim: the pattern enters through a2, a3."""

    def __init__(self):
        super().__init__()
        self.conv_a = nn.Conv2d(1, 4, 2)
        self.act_a = nn.ReLU()
        self.conv_b = nn.Conv2d(4, 3, 1)
        self.act_b = nn.ReLU()
        with torch.no_grad():
            self.conv_a.weight.zero_()
            self.conv_a.weight[0, 0, 0, 0], self.conv_a.bias[0] = 1.0, -0.5
            self.conv_a.weight[1, 0, 0, 0], self.conv_a.bias[1] = -1.0, 0.5
            checker = torch.tensor([[2.0, -2.0], [-2.0, 2.0]])
            self.conv_a.weight[2, 0], self.conv_a.weight[3, 0] = checker, -checker
            self.conv_a.bias[2:] = 0.0
            self.conv_b.weight.zero_()
            self.conv_b.bias.zero_()
            self.conv_b.bias[0] = 0.2
            self.conv_b.weight[1, 0] = 1.0
            self.conv_b.weight[2, 1] = 1.0
            self.conv_b.weight[2, 2:] = 1.5

    def forward(self, x):
        return self.act_b(self.conv_b(self.act_a(self.conv_a(x)))).mean((2, 3))


def images_of(level: float, n: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (level + 0.005 * torch.randn(n, 1, 8, 8, generator=generator)).clamp(0, 1)


@pytest.mark.slow
def test_divergence_site_and_error_channels_are_found():
    model = Planted().eval()
    images = torch.cat([images_of(0.9, 24, 0), images_of(0.1, 24, 1), images_of(0.5, 24, 2)])
    labels = torch.tensor([BRIGHT] * 24 + [DIM] * 24 + [GREY] * 24)
    net = Network(model, images[:1])
    assert net.site_names == ["act_a", "act_b"]
    assert torch.equal(net.predict(images)[1], labels)  # the construction classifies right

    checkerboard = (torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2 * 2.0 - 1.0
    adversarial = (images[:24] + 0.1 * checkerboard).clamp(0, 1)
    analysis = explain_adversarial(net, images, labels, BRIGHT, DIM, adversarial=adversarial, n=8)
    assert analysis.attack["success_rate"] == 1.0
    assert analysis.divergence == "act_a"  # where the pattern enters
    assert analysis.merge == "act_b"
    adversarial_only = {
        (e.site, e.channel) for e in analysis.error_channels if e.side == "adversarial only"
    }
    assert ("act_b", 2) in adversarial_only  # the "dim" evidence the pattern feeds
    strongest = analysis.error_channels[0]
    assert (strongest.site, strongest.channel) == ("act_b", 2)
    assert strongest.contribution > 1.0
    # the checkerboard detectors carry the pattern: in A's datapath, and the channels whose
    # contributions feed the error channel most
    assert {2, 3} <= set(analysis.datapaths["A"].channels["act_a"])
    matrix = torch.tensor(analysis.contributions["act_a->act_b"])
    kept_a = analysis.datapaths["A"].channels["act_a"]
    column = analysis.datapaths["A"].channels["act_b"].index(2)
    feeding = {kept_a[i] for i in matrix[:, column].topk(2).indices.tolist()}
    assert feeding == {2, 3}
