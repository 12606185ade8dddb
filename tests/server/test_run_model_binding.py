"""A run folder never makes pathlens import code (issue 12, item 3): a model spec recorded in
a run is built only when it is a built-in prefix or the user names it again."""

import sqlite3
import sys
import uuid

import httpx
import pytest
import torch

from pathlens.errors import PathlensError
from pathlens.server import RunView, create_app, running
from pathlens.store import RunStore
from pathlens.workflows import load_run_model, run_model_problem

pytestmark = pytest.mark.slow  # a server over a copy of the demo run


@pytest.fixture
def hostile_run(tmp_path, demo_run, monkeypatch):
    """A copy of the demo run whose recorded spec names a module, on sys.path, that leaves a
    marker file when imported and another when its factory is called."""
    module = f"plmarker_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "imported"
    called = tmp_path / "called"
    (tmp_path / f"{module}.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "def build():\n"
        f"    open({str(called)!r}, 'w').close()\n"
        "    from pathlens.demo import load_demo_model\n"
        "    raise RuntimeError('never get here')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    run = tmp_path / "run"
    run.mkdir()
    source = sqlite3.connect(demo_run / "run.sqlite")
    target = sqlite3.connect(run / "run.sqlite")
    source.backup(target)
    source.close()
    target.close()
    with RunStore(run) as store:
        facts = store.meta("model")
        store.set_meta("model", {**facts, "spec": f"{module}:build"})
    yield run, module, marker, called
    sys.modules.pop(module, None)


def _get_every_route(client: httpx.Client) -> dict:
    info = client.get("/api/run").json()
    analysis_id = info["analyses"][0]["id"]
    analysis = client.get(f"/api/analyses/{analysis_id}").json()
    site = analysis["sites"][-1]
    answers = [
        client.get("/api/health"),
        client.get(f"/api/analyses/{analysis_id}/sites/{site}"),
        # a channel whose activation-maximisation image is not stored: the view would
        # compute it with the model if it could load it
        client.get(f"/api/analyses/{analysis_id}/neurons/{site}/63"),
        client.get(f"/api/image_sets/{info['image_sets'][0]['id']}"),
        client.get(f"/api/datapaths/{info['datapaths'][0]['id']}"),
        client.get("/api/jobs"),
        client.get("/api/training"),
        client.get("/"),
    ]
    assert [a.status_code for a in answers] == [200] * 6 + [404, 200]
    return info


def test_serving_a_run_never_imports_the_model_it_names(hostile_run):
    run, module, marker, called = hostile_run
    with running(create_app(run)) as url, httpx.Client(base_url=url, timeout=60) as client:
        info = _get_every_route(client)
        assert info["can_run_jobs"] is False
        job = client.post(
            "/api/jobs",
            json={"kind": "adversarial", "source": 9, "target": 7, "n": 4},
        )
    assert job.status_code == 400
    detail = job.json()["detail"]
    assert f"--model {module}:build" in detail and "never imports" in detail
    assert not marker.exists() and not called.exists()
    assert module not in sys.modules


def test_the_library_refuses_too_and_says_what_to_pass(hostile_run):
    run, module, marker, _ = hostile_run
    with RunStore(run, create=False) as store:
        with pytest.raises(PathlensError, match=f"--model {module}:build"):
            load_run_model(store)
        with pytest.raises(PathlensError, match="not 'other.mod:f'"):
            load_run_model(store, model="other.mod:f")
    with pytest.raises(PathlensError, match="not 'demo:resnet'"):
        RunView(run, model="demo:resnet")
    assert not marker.exists() and module not in sys.modules


def test_a_named_spec_is_built_and_checked_against_the_recorded_weights(
    tmp_path, demo_run, resnet_net
):
    """The user's spec runs; weights other than the recorded ones (by sha256) are refused."""
    run = tmp_path / "run"
    run.mkdir()
    source = sqlite3.connect(demo_run / "run.sqlite")
    target = sqlite3.connect(run / "run.sqlite")
    source.backup(target)
    source.close()
    target.close()
    weights = tmp_path / "resnet.pt"
    torch.save(resnet_net.model.state_dict(), weights)
    other = tmp_path / "other.pt"
    state = {k: v.clone() for k, v in resnet_net.model.state_dict().items()}
    first = next(k for k, v in state.items() if v.is_floating_point())
    state[first] += 1
    torch.save(state, other)
    from pathlens.workflows import remember_model

    with RunStore(run) as store:
        store.query("DELETE FROM meta WHERE key = 'model'")
        remember_model(store, resnet_net, spec="demo:resnet", weights=weights,
                       classes=None, data=None)  # fmt: skip
        assert run_model_problem(store) is None
        assert "sha256" in run_model_problem(store, model="demo:resnet", weights=other)
    with pytest.raises(PathlensError, match="sha256"):
        RunView(run, model="demo:resnet", weights=other)
    view = RunView(run, model="demo:resnet", weights=weights)
    assert view.model_problem() is None
    loaded = view.model()
    x = torch.rand(4, 1, 28, 28)
    torch.testing.assert_close(loaded.net.model(x), resnet_net.model(x))


def test_serve_refuses_a_model_that_is_not_the_recorded_one(hostile_run):
    from typer.testing import CliRunner

    from pathlens.cli import app

    run, module, marker, _ = hostile_run
    result = CliRunner().invoke(app, ["serve", str(run), "--port", "8899", "--model", "x.y:z"])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert f"{module}:build" in text and "'x.y:z'" in text
    assert not marker.exists()
