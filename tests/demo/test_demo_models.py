import json

import torch

from pathlens import demo
from pathlens.demo._train import evaluate


def test_cnn_reaches_stated_accuracy(demo_cnn, test_set):
    assert not demo_cnn.training
    assert evaluate(demo_cnn, test_set.images, test_set.labels) >= 0.90


def test_resnet_reaches_stated_accuracy(demo_resnet, test_set):
    assert not demo_resnet.training
    accuracy = evaluate(demo_resnet, test_set.images, test_set.labels)
    assert accuracy >= 0.90
    assert abs(accuracy - demo.info("resnet")["test_accuracy"]) < 1e-3  # the cached facts


def test_cache_is_a_plain_state_dict_loaded_safely(demo_cnn):
    # weights_only=True refuses anything but tensors and plain containers
    path = demo.weights_path("cnn")
    state = torch.load(path, weights_only=True)
    assert set(state) == set(demo_cnn.state_dict())
    assert json.loads(path.with_suffix(".json").read_text())["model"] == "cnn"


def test_cache_folder_override(tmp_path, monkeypatch, demo_cnn):
    monkeypatch.setenv("PATHLENS_CACHE", str(tmp_path))
    target = demo.weights_path("cnn")
    assert target.parent == tmp_path
    torch.save(demo_cnn.state_dict(), target)
    target.with_suffix(".json").write_text(json.dumps({"model": "cnn", "test_accuracy": 0.9}))
    loaded = demo.load("cnn", progress=False)
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded(x), demo_cnn(x))
