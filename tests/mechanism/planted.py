"""A small CNN with planted channel groups, and images of three classes that each excite one.

Class c shows a short bar of orientation c (horizontal, vertical, diagonal) at a random place on
faint noise. ``conv1`` has 12 channels in three groups of four; group g is a detector of
orientation g (its kernel plus noise, at a different scale per channel, with a threshold bias).
``conv2`` (1x1) has 6 channels in three pairs; pair g sums group g with positive weights — so
the contributions from site ``relu1`` to site ``relu2`` are block-diagonal by group.
"""

from __future__ import annotations

import torch
from torch import nn

SIZE = 12
GROUP1 = [0] * 4 + [1] * 4 + [2] * 4  # planted group of each relu1 channel
GROUP2 = [0, 0, 1, 1, 2, 2]  # of each relu2 channel


def _kernels() -> torch.Tensor:
    k = torch.full((3, 3, 3), -0.5)
    k[0, 1, :] = 1.0  # horizontal
    k[1, :, 1] = 1.0  # vertical
    k[2] = k[2].fill_diagonal_(1.0)  # diagonal
    return k


class Planted(nn.Module):
    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.conv1 = nn.Conv2d(1, 12, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(12, 6, 1)
        self.relu2 = nn.ReLU()
        self.fc = nn.Linear(6, 3)
        kernels = _kernels()
        with torch.no_grad():
            scale = 0.5 + 1.5 * torch.rand(12, generator=g)
            noise = 0.05 * torch.randn(12, 1, 3, 3, generator=g)
            self.conv1.weight.copy_(kernels[GROUP1][:, None] * scale[:, None, None, None] + noise)
            self.conv1.bias.copy_(-1.5 * scale)  # fires on its full bar, not on crossings
            weight = torch.zeros(6, 12, 1, 1)
            for j, group in enumerate(GROUP2):
                members = [i for i, h in enumerate(GROUP1) if h == group]
                weight[j, members, 0, 0] = 0.5 + torch.rand(len(members), generator=g)
            self.conv2.weight.copy_(weight)
            self.conv2.bias.zero_()
            self.fc.weight.copy_(torch.eye(3)[torch.tensor(GROUP2)].T)
            self.fc.bias.zero_()

    def forward(self, x):
        x = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        return self.fc(x.amax((2, 3)))


def images(n_per_class: int = 40, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """[3 * n, 1, SIZE, SIZE] images in [0, 1] and their classes, classes interleaved."""
    g = torch.Generator().manual_seed(seed)
    n = 3 * n_per_class
    x = 0.05 * torch.rand(n, 1, SIZE, SIZE, generator=g)
    labels = torch.arange(n) % 3
    for i in range(n):
        r, c = torch.randint(1, SIZE - 1, (2,), generator=g).tolist()
        if labels[i] == 0:
            x[i, 0, r, c - 1 : c + 2] = 1.0
        elif labels[i] == 1:
            x[i, 0, r - 1 : r + 2, c] = 1.0
        else:
            for d in (-1, 0, 1):
                x[i, 0, r + d, c + d] = 1.0
    return x, labels
