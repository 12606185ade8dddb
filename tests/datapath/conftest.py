import pytest
import torch

from pathlens import Network
from pathlens.data import sample_images


@pytest.fixture(scope="session")
def resnet_net(demo_resnet):
    return Network(demo_resnet, torch.zeros(1, 1, 28, 28))


@pytest.fixture(scope="session")
def cnn_net(demo_cnn):
    return Network(demo_cnn, torch.zeros(1, 1, 28, 28))


def class_set(net, test_set, cls, n):
    """n test images of class `cls` that the model classifies correctly."""
    _, top1 = net.predict(test_set.images[:2000])
    index = torch.nonzero((test_set.labels[:2000] == cls) & (top1 == cls)).flatten()[:n]
    return test_set.images[index]


def control_for(test_set, cls, n=64):
    return sample_images(test_set, n, exclude=[cls], seed=3)
