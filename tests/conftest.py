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
