"""The training endpoints of the web app, over real runs recorded by pathlens.Tracker."""

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from torch import nn

from pathlens import Tracker, open_run
from pathlens.server import create_app, running
from pathlens.server._training import _reduce

pytestmark = pytest.mark.slow  # each test here takes seconds (models, attacks, servers)

WORKER = Path(__file__).parents[1] / "training" / "tracker_worker.py"
GROWING = 7  # the neuron whose incoming weights grow every step


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """A run of a 40-neuron layer in which neuron 7's weights are scaled up every step, so its
    activation explodes while the others drift: a planted outlier."""
    path = tmp_path_factory.mktemp("train") / "run"
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(16, 40), nn.ReLU(), nn.Linear(40, 20), nn.ReLU(), nn.Linear(20, 3)
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    probe = torch.rand(32, 16)
    with Tracker(model, path, every=2, probe=probe) as tracker:
        for _ in range(60):
            x, y = torch.rand(32, 16), torch.randint(0, 3, (32,))
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            with torch.no_grad():
                model[0].weight[GROWING] = model[0].weight[GROWING].abs() * 1.15
                model[0].bias[GROWING] = model[0].bias[GROWING].abs() + 0.1
            tracker.step(loss=loss.item())
    return path


@pytest.fixture(scope="module")
def api(tracked):
    with running(create_app(tracked)) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client


def test_training_info_describes_the_recording(api, tracked):
    run = open_run(tracked)
    assert api.get("/api/run").json()["training"] is True
    info = api.get("/api/training").json()
    assert [s["name"] for s in info["sites"]] == run.sites()
    assert info["snapshot_steps"] == run.snapshots().tolist()
    assert info["snapshots"] == len(run.snapshots()) == 30
    assert info["last_step"] == 59 and info["status"] == "finished"
    assert info["scalars"] == ["loss"] and "act_mean" in info["stats"]
    assert info["models"]["model"]["network"]["sites"][0]["name"] == run.sites()[0]


def test_scalars_are_the_recorded_values(api, tracked):
    steps, values = open_run(tracked).scalars("loss")
    answer = api.get("/api/training/scalars", params={"name": "loss"}).json()["loss"]
    assert answer["steps"] == steps.tolist()
    assert np.allclose(answer["values"], values, atol=1e-6)


def test_long_scalars_keep_their_spikes():
    steps = np.arange(100_000)
    values = np.sin(steps / 500.0)
    values[31_337] = 50.0
    values[77_777] = -50.0
    kept_steps, kept = _reduce(steps, values, 2000)
    assert len(kept) <= 2000
    assert 31_337 in kept_steps and 77_777 in kept_steps
    assert kept.max() == 50.0 and kept.min() == -50.0
    assert np.all(np.diff(kept_steps) > 0)


def test_series_band_and_the_planted_outlier(api, tracked):
    site = open_run(tracked).sites()[0]
    values = open_run(tracked).neuron_series(site, "act_mean")
    answer = api.get(
        "/api/training/series", params={"site": site, "stat": "act_mean", "n": 10}
    ).json()
    assert answer["neurons"] == 40 and len(answer["steps"]) == 30
    assert np.allclose(answer["band"]["p50"], np.percentile(values, 50, axis=1), atol=1e-5)
    assert np.allclose(answer["band"]["p95"], np.percentile(values, 95, axis=1), atol=1e-5)
    drawn = {d["neuron"]: d for d in answer["drawn"]}
    assert GROWING in drawn and drawn[GROWING]["outlier"]
    assert np.allclose(drawn[GROWING]["values"], values[:, GROWING], rtol=1e-5)
    assert len(drawn) <= 10 + answer["outliers"]
    window = api.get(
        "/api/training/series", params={"site": site, "stat": "act_mean", "start": 5, "stop": 9}
    ).json()
    assert window["steps"] == open_run(tracked).snapshots()[5:9].tolist()


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"site": "nope"}, 404, "no site named 'nope'"),
        ({"site": "0", "stat": "bad"}, 404, "no statistic named 'bad'"),
        ({"site": "0", "n": 0}, 400, "1..2000"),
        ({"site": "0", "n": "x"}, 422, "integer"),
    ],
)
def test_bad_series_requests(api, tracked, params, status, words):
    site = open_run(tracked).sites()[0]
    params = {k: (site if v == "0" and k == "site" else v) for k, v in params.items()}
    answer = api.get("/api/training/series", params=params)
    assert answer.status_code == status
    assert words in answer.json()["detail"]


def test_training_endpoints_on_a_run_without_training(demo_server):
    answer = httpx.get(f"{demo_server}/api/training")
    assert answer.status_code == 404 and "Tracker" in answer.json()["detail"]
    assert httpx.get(f"{demo_server}/api/run").json()["training"] is False


def test_events_report_snapshots_while_a_writer_runs(tmp_path):
    path = tmp_path / "live"
    writer = subprocess.Popen(
        [
            sys.executable,
            str(WORKER),
            str(path),
            "--every",
            "2",
            "--sleep",
            "0.02",
            "--steps",
            "400",
        ]
    )
    try:
        deadline = time.time() + 60
        while not (path / "run.sqlite").exists() or open_run_or_none(path) is None:
            assert time.time() < deadline, "the writer did not start"
            time.sleep(0.1)
        counts = []
        with running(create_app(path, jobs=False)) as url, httpx.Client(timeout=30) as client:
            with client.stream("GET", f"{url}/api/training/events") as stream:
                for line in stream.iter_lines():
                    if line.startswith("data: "):
                        counts.append(json.loads(line[6:])["snapshots"])
                        if len(counts) == 4:
                            break
    finally:
        writer.kill()
        writer.wait()
    assert counts == sorted(counts) and counts[-1] > counts[0], counts


def open_run_or_none(path):
    try:
        return open_run(path)
    except Exception:
        return None


def test_anomalies_flag_the_planted_explosion(api, tracked):
    site = open_run(tracked).sites()[0]
    report = api.get("/api/training/anomalies").json()
    exploding = {
        flag: neurons
        for flag, neurons in report["sites"][site]["neurons"].items()
        if "explod" in flag
    }
    assert any(GROWING in neurons for neurons in exploding.values()), report["sites"][site]
    assert api.get("/api/training/anomalies", params={"start": "x"}).status_code == 422


def test_credit_traces_an_output_to_the_exploding_neuron(api, tracked):
    sites = open_run(tracked).sites()
    graph = api.get(
        "/api/training/credit", params={"site": sites[-1], "neuron": 0, "depth": 1}
    ).json()
    assert (graph["nodes"][0]["site"], graph["nodes"][0]["neuron"]) == (sites[-1], 0)
    earlier = [n for n in graph["nodes"][1:] if n["site"] == sites[-2]]
    assert max(earlier, key=lambda n: abs(n["credit"]))["neuron"] == GROWING
    bad = api.get("/api/training/credit", params={"site": sites[-1], "neuron": 0, "depth": 0})
    assert bad.status_code == 400 and "depth" in bad.json()["detail"]
