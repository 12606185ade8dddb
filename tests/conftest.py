import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/zoo.py


def pytest_configure(config):
    # A PathlensWarning says a result is weaker than asked for: a test that meets one by
    # accident tests a degraded result. Tests that expect one assert it with pytest.warns.
    config.addinivalue_line("filterwarnings", "error::pathlens.errors.PathlensWarning")


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


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory, resnet_net, test_set):
    """A run folder with one small adversarial analysis (ankle boot -> sneaker) of the demo
    ResNet, recording its model so that the server can run jobs in it."""
    from pathlens.attacks import explain_adversarial, save_analysis
    from pathlens.data import CLASS_NAMES
    from pathlens.store import RunStore
    from pathlens.workflows import remember_model

    path = tmp_path_factory.mktemp("runs") / "demo"
    analysis = explain_adversarial(
        resnet_net, test_set.images, test_set.labels, 9, 7, n=8, patch_images=300, n_maximize=2
    )
    with RunStore(path) as run:
        remember_model(run, resnet_net, spec="demo:resnet", weights=None, classes=CLASS_NAMES,
                       data=None)  # fmt: skip
        save_analysis(run, analysis, name="ankle-boot->sneaker")
    return path


@pytest.fixture(scope="session")
def demo_server(demo_run):
    """The web app over `demo_run`, served on a free 127.0.0.1 port: its base URL."""
    from pathlens.server import create_app, running

    with running(create_app(demo_run)) as url:
        yield url
