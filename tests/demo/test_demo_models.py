import hashlib
import json
import shutil

import pytest
import torch

from pathlens import PathlensError, demo
from pathlens.demo import _weights
from pathlens.demo.__main__ import main as train_main
from pathlens.demo._train import _deterministic, evaluate


@pytest.mark.slow
def test_cnn_reaches_stated_accuracy(demo_cnn, test_set):
    assert not demo_cnn.training
    assert evaluate(demo_cnn, test_set.images, test_set.labels) >= 0.90


@pytest.mark.slow
def test_resnet_reaches_stated_accuracy(demo_resnet, test_set):
    assert not demo_resnet.training
    accuracy = evaluate(demo_resnet, test_set.images, test_set.labels)
    assert accuracy >= 0.90
    # The recorded accuracy was measured on the machine that trained the weights; another CPU
    # rounds the logits differently and may flip an image whose top two logits are nearly
    # tied: allow 10 of the 10 000 test images.
    assert abs(accuracy - demo.info("resnet")["test_accuracy"]) <= 1e-3


@pytest.mark.parametrize("name", demo.MODELS)
def test_shipped_weights_are_small_plain_state_dicts_with_their_hash(name):
    path = demo.weights_path(name)
    facts = demo.info(name)
    data = path.read_bytes()
    assert path.parent.name == "weights" and path.parent.parent.name == "demo"
    assert len(data) == facts["bytes"] < 2**20  # a few MB at most, both together
    assert hashlib.sha256(data).hexdigest() == facts["sha256"]
    assert {"test_accuracy", "torch", "recipe", "reproducibility"} <= set(facts)
    # weights_only=True refuses anything but tensors and plain containers
    state = torch.load(path, weights_only=True)
    assert set(state) == set(demo.ARCHITECTURES[name]().state_dict())
    assert all(v.dtype in (torch.float32, torch.int64) for v in state.values())


def test_load_trains_nothing_and_writes_no_cache(tmp_path, monkeypatch, demo_cnn):
    monkeypatch.setenv("PATHLENS_CACHE", str(tmp_path))
    loaded = demo.load("cnn")
    assert list(tmp_path.iterdir()) == []
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        # the same shipped bytes through the same kernels on one batch: identical results
        assert torch.equal(loaded(x), demo_cnn(x))


def test_damaged_or_missing_weights_say_to_reinstall(tmp_path, monkeypatch):
    shutil.copytree(_weights.WEIGHTS_DIR, tmp_path, dirs_exist_ok=True)
    monkeypatch.setattr(_weights, "WEIGHTS_DIR", tmp_path)
    assert isinstance(demo.load("cnn"), demo.DemoCNN)  # the copy is intact
    data = bytearray((tmp_path / "cnn.pt").read_bytes())
    data[len(data) // 2] ^= 1  # one flipped bit inside a tensor
    (tmp_path / "cnn.pt").write_bytes(bytes(data))
    with pytest.raises(PathlensError, match="sha256 differs.*Reinstall pathlens"):
        demo.load("cnn")
    (tmp_path / "resnet.pt").unlink()
    with pytest.raises(PathlensError, match="missing.*Reinstall pathlens"):
        demo.load("resnet")
    (tmp_path / "resnet.json").write_text("{not json")
    with pytest.raises(PathlensError, match="facts file.*Reinstall pathlens"):
        demo.info("resnet")
    with pytest.raises(PathlensError, match="demo models are: cnn, resnet"):
        demo.load("vgg")


def test_deterministic_training_block_restores_the_global_state():
    threads = torch.get_num_threads()
    before = torch.get_rng_state()
    with _deterministic(0):
        assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
        first = torch.rand(3)
    with _deterministic(0):
        assert torch.equal(torch.rand(3), first)  # seeded: the same stream each time
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.equal(torch.get_rng_state(), before)


def test_training_script_refuses_unknown_models(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_main(["vgg"])
    assert exit_info.value.code == 2
    assert "unknown demo model(s) vgg; choose from cnn, resnet" in capsys.readouterr().err


def test_facts_file_is_json_next_to_the_weights():
    for name in demo.MODELS:
        facts = json.loads(demo.weights_path(name).with_suffix(".json").read_text())
        assert facts["model"] == name and facts["recipe"]["seed"] == 0
