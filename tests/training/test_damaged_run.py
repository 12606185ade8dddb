"""Damaged Zarr data of a recorded training run gives a clear error naming the array, a 4xx
from the API, and a failing `pathlens report` (issue 12, item 8)."""

import os
import shutil

import httpx
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from pathlens import PathlensError, Tracker, open_run
from pathlens.cli import app
from pathlens.server import create_app, running

pytestmark = pytest.mark.slow  # a recorded run and a server per damage


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    path = tmp_path_factory.mktemp("dmg") / "run"
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 12), nn.ReLU(), nn.Linear(12, 6), nn.ReLU(),
                          nn.Linear(6, 3))  # fmt: skip
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with Tracker(model, path, every=1, chunk=2, probe=torch.rand(16, 8)) as tracker:
        for _ in range(6):
            opt.zero_grad()
            loss = model(torch.rand(16, 8)).square().mean()
            loss.backward()
            opt.step()
            tracker.step(loss=loss.item())
    return path


def _act_means(run) -> list:
    return sorted((run / "arrays.zarr" / "training").glob("*/act_mean"))


def truncate_chunk(run):
    for array in _act_means(run):
        chunk = array / "c" / "0" / "0"
        chunk.write_bytes(chunk.read_bytes()[:7])


def bad_metadata(run):
    for array in _act_means(run):
        (array / "zarr.json").write_text('{"zarr_format": 3, "shape": [')


def missing_array(run):
    for array in _act_means(run):
        shutil.rmtree(array)


def chunk_linked_outside(run):
    """A chunk replaced by a link to an intact chunk outside the run: readable, but a run
    folder must never make pathlens read files elsewhere."""
    outside = run.parent / f"outside-{run.name}"
    outside.mkdir()
    for i, array in enumerate(_act_means(run)):
        chunk = array / "c" / "0" / "0"
        kept = outside / f"chunk{i}"
        shutil.copy(chunk, kept)
        chunk.unlink()
        os.symlink(kept, chunk)


DAMAGES = [truncate_chunk, bad_metadata, missing_array, chunk_linked_outside]


@pytest.fixture(params=DAMAGES, ids=lambda f: f.__name__)
def damaged(request, recorded, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(recorded, run)
    request.param(run)
    return run


def test_the_reader_names_the_damaged_array(damaged):
    with open_run(damaged) as run:
        site = run.sites()[0]
        with pytest.raises(PathlensError, match=f"training/{site}/act_mean"):
            run.neuron_series(site, "act_mean")
        run.neuron_series(site, "act_std")  # the intact arrays still read
        with pytest.raises(PathlensError, match="act_mean"):
            run.verify()


def test_the_api_answers_400_naming_the_array(damaged):
    with open_run(damaged) as run:
        sites = run.sites()
    with running(create_app(damaged)) as url, httpx.Client(base_url=url, timeout=60) as client:
        answers = [
            client.get("/api/training/series", params={"site": sites[0], "stat": "act_mean"}),
            client.get("/api/training/anomalies"),
            client.get("/api/training/credit", params={"site": sites[-1], "neuron": 0, "depth": 2}),
        ]
        assert client.get("/api/training").status_code == 200  # what is intact still shows
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert "act_mean" in answer.json()["detail"]


def test_report_fails_naming_the_array(damaged, tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", str(damaged), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "act_mean" in result.output and "error:" in result.output
    assert not out.exists()


def test_report_of_an_intact_run_passes_the_check(recorded):
    with open_run(recorded) as run:
        run.verify()
