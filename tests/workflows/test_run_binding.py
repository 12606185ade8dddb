"""A run folder is bound to its model (issue 12, item 5): results of another model are refused
before anything is computed, naming both models."""

import numpy as np
import pytest
from typer.testing import CliRunner

from pathlens import PathlensError
from pathlens.cli import app
from pathlens.data import CLASS_NAMES
from pathlens.store import RunStore
from pathlens.workflows import ExtractRequest, MechanismRequest, extract, mechanism, remember_model


def _remember(run, net, spec):
    remember_model(run, net, spec=spec, weights=None, classes=CLASS_NAMES, data=None)


def test_a_run_refuses_another_model_and_keeps_its_record(tmp_path, cnn_net, resnet_net):
    with RunStore(tmp_path / "run") as run:
        _remember(run, cnn_net, "demo:cnn")
        _remember(run, cnn_net, "demo:cnn")  # the same model again is fine
        with pytest.raises(PathlensError) as refused:
            _remember(run, resnet_net, "demo:resnet")
        assert "demo:cnn" in str(refused.value) and "demo:resnet" in str(refused.value)
        assert "--out" in str(refused.value)
        assert run.meta("model")["spec"] == "demo:cnn"
        assert run.meta("network") == cnn_net.describe()


def test_other_weights_of_the_same_spec_are_another_model(tmp_path, cnn_net):
    import torch

    weights = tmp_path / "w.pt"
    torch.save(cnn_net.model.state_dict(), weights)
    with RunStore(tmp_path / "run") as run:
        remember_model(run, cnn_net, spec="demo:cnn", weights=weights, classes=None, data=None)
        assert len(run.meta("model")["weights_sha256"]) == 64
        state = {k: v + 1 if v.is_floating_point() else v for k, v in
                 cnn_net.model.state_dict().items()}  # fmt: skip
        torch.save(state, weights)  # the same path, other bytes
        with pytest.raises(PathlensError, match="sha256"):
            remember_model(run, cnn_net, spec="demo:cnn", weights=weights, classes=None,
                           data=None)  # fmt: skip


def test_workflows_refuse_before_computing(tmp_path, cnn_net, test_set):
    out = tmp_path / "run"
    with RunStore(out) as run:
        _remember(run, cnn_net, "demo:cnn")
    npz = tmp_path / "sandals.npz"
    np.savez(npz, images=test_set.images[test_set.labels == 5][:4].numpy())
    events = []
    with pytest.raises(PathlensError, match="bound to one model"):
        extract(ExtractRequest(images=npz, out=out, model="demo:resnet"), progress=events.append)
    assert [e.stage for e in events] == ["loading"]  # nothing was scored
    events.clear()
    with pytest.raises(PathlensError, match="bound to one model"):
        mechanism(MechanismRequest(out=out, model="demo:resnet", n=8), progress=events.append)
    assert [e.stage for e in events] == ["loading"]


@pytest.mark.slow
def test_the_cli_refuses_a_second_model(tmp_path, cnn_net):
    out = tmp_path / "run"
    with RunStore(out) as run:
        _remember(run, cnn_net, "demo:cnn")
    result = CliRunner().invoke(
        app,
        ["adversarial", "--source", "9", "--target", "7", "--n", "4", "--model", "demo:resnet",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code != 0
    text = " ".join(result.output.split())
    assert "demo:cnn" in text and "demo:resnet" in text and "another --out" in text
    with RunStore(out) as run:
        assert run.meta("model")["spec"] == "demo:cnn"
        assert run.analyses() == []
