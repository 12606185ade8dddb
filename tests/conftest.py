import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/zoo.py


@pytest.fixture(scope="session")
def test_set():
    from pathlens.data import fashion_mnist

    return fashion_mnist("test")


@pytest.fixture(scope="session")
def demo_cnn():
    from pathlens import demo

    return demo.load("cnn")


@pytest.fixture(scope="session")
def demo_resnet():
    from pathlens import demo

    return demo.load("resnet")


@pytest.fixture(scope="session")
def resnet_net(demo_resnet):
    from pathlens import Network

    return Network(demo_resnet, demo_input())


@pytest.fixture(scope="session")
def cnn_net(demo_cnn):
    from pathlens import Network

    return Network(demo_cnn, demo_input())


def demo_input():
    import torch

    return torch.zeros(1, 1, 28, 28)
