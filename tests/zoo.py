"""Small models of every architecture style Network must handle, with known structure."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PlainCNN(nn.Module):
    """Nested Sequentials, in-place ReLU modules, a hidden linear layer."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(inplace=True)),
            nn.Sequential(nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(inplace=True)),
            nn.MaxPool2d(2),
        )
        self.fc1 = nn.Linear(6 * 4 * 4, 12)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(12, 3)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(self.features(x).flatten(1))))


class FunctionalCNN(nn.Module):
    """Activations via F.relu (one in place) instead of modules."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 5, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(5)
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.bn2(self.conv2(x)), inplace=True)
        return self.fc(x.mean((2, 3)))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.relu2 = nn.ReLU()

    def forward(self, x):
        return self.relu2(self.conv2(self.relu1(self.conv1(x))) + x)


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.stage = nn.Sequential(Block(4), Block(4))
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.stage(self.stem(x)).mean((2, 3)))


class Inception(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(c, 2, 1), nn.ReLU())
        self.b3 = nn.Sequential(nn.Conv2d(c, 3, 3, padding=1), nn.ReLU())

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x)], dim=1)


class DenseLayer(nn.Module):
    def __init__(self, c, growth):
        super().__init__()
        self.conv = nn.Conv2d(c, growth, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x):
        return torch.cat([x, self.act(self.conv(x))], 1)


class ConcatNet(nn.Module):
    """Inception-style branches and a DenseNet-style layer, both joined by torch.cat."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.inception = Inception(4)  # -> 5 channels
        self.dense = DenseLayer(5, 3)  # -> 8 channels
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(self.dense(self.inception(self.stem(x))).mean((2, 3)))


class InvertedResidual(nn.Module):
    def __init__(self, c, expand):
        super().__init__()
        hidden = c * expand
        self.expand = nn.Sequential(nn.Conv2d(c, hidden, 1), nn.BatchNorm2d(hidden), nn.ReLU6())
        self.depthwise = nn.Sequential(
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
        )
        self.project = nn.Sequential(nn.Conv2d(hidden, c, 1), nn.BatchNorm2d(c))

    def forward(self, x):
        return x + self.project(self.depthwise(self.expand(x)))


class GroupedNet(nn.Module):
    """Depthwise (groups = channels) and grouped convolutions, MobileNetV2-style."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.grouped = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1, groups=2), nn.ReLU())
        self.block = InvertedResidual(8, 2)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(self.block(self.grouped(self.stem(x))).mean((2, 3)))


class Untraceable(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.act2 = nn.ReLU()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.act1(self.conv1(x))
        if x.sum() > 0:  # data-dependent branch
            x = x + self.act2(self.conv2(x))
        return self.fc(x.mean((2, 3)))


class SharedReLU(nn.Module):
    """One ReLU module used twice, as torchvision's BasicBlock does."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.relu(self.conv2(self.relu(self.conv1(x))))
        return self.fc(x.mean((2, 3)))


class Generator(nn.Module):
    """A DCGAN-style generator: noise [N, 8] -> image [N, 1, 8, 8]."""

    def __init__(self):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(8, 16 * 2 * 2), nn.ReLU())
        self.up1 = nn.Sequential(nn.ConvTranspose2d(16, 8, 4, 2, 1), nn.BatchNorm2d(8), nn.ReLU())
        self.up2 = nn.Sequential(nn.ConvTranspose2d(8, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.up2(self.up1(self.project(z).view(-1, 16, 2, 2)))


class VAE(nn.Module):
    """Encoder and decoder; forward returns (reconstruction, mu, logvar)."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.ReLU(), nn.Flatten())
        self.mu = nn.Linear(4 * 4 * 4, 2)
        self.logvar = nn.Linear(4 * 4 * 4, 2)
        self.decoder = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 64), nn.Sigmoid())

    def forward(self, x):
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.exp(0.5 * logvar)
        return self.decoder(z).view(-1, 1, 8, 8), mu, logvar


def build(cls: type[nn.Module]) -> nn.Module:
    torch.manual_seed(0)
    model = cls().eval()
    for m in model.modules():  # non-trivial batch-norm statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return model


IMAGE = (1, 1, 8, 8)
