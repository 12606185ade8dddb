"""The two demo architectures, for 28x28 grayscale images and 10 classes."""

from __future__ import annotations

from torch import nn


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


class DemoCNN(nn.Module):
    """A plain CNN: a conv stage at 28x28, one at 14x14, a hidden linear layer, a classifier."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.stage1 = nn.Sequential(*_conv_bn_relu(1, 16), nn.MaxPool2d(2))
        self.stage2 = nn.Sequential(*_conv_bn_relu(16, 32), *_conv_bn_relu(32, 32), nn.MaxPool2d(2))
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 64),
            nn.ReLU(inplace=True),
            nn.Dropout(0.2),
            nn.Linear(64, num_classes),
        )

    def forward(self, x):
        return self.head(self.stage2(self.stage1(x)))


class BasicBlock(nn.Module):
    """conv-bn-relu-conv-bn plus the (projected) input, then relu."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )
        self.relu2 = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.shortcut(x))


class DemoResNet(nn.Module):
    """A small ResNet: a stem and three stages of two residual blocks.

    Each stage halves the resolution (28 -> 14 -> 7 -> 4) so that training fits in about a
    minute on two CPU cores.
    """

    def __init__(self, num_classes: int = 10, widths: tuple[int, int, int] = (16, 32, 64)):
        super().__init__()
        w1, w2, w3 = widths
        self.stem = nn.Sequential(*_conv_bn_relu(1, w1))
        self.layer1 = nn.Sequential(BasicBlock(w1, w1, stride=2), BasicBlock(w1, w1))
        self.layer2 = nn.Sequential(BasicBlock(w1, w2, stride=2), BasicBlock(w2, w2))
        self.layer3 = nn.Sequential(BasicBlock(w2, w3, stride=2), BasicBlock(w3, w3))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(w3, num_classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(self.pool(x).flatten(1))


ARCHITECTURES = {"cnn": DemoCNN, "resnet": DemoResNet}
