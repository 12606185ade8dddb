"""The mechanism endpoints of the web app, over mechanism analyses stored in a real run."""

import base64
import json

import httpx
import numpy as np
import pytest

from pathlens.mechanism import (
    analyze,
    list_mechanisms,
    mechanism_array,
    mechanism_summary,
    save_mechanism,
)
from pathlens.server import create_app, running, write_report
from pathlens.store import RunStore

pytestmark = pytest.mark.slow  # each test here takes seconds (models, attacks, servers)


@pytest.fixture(scope="module")
def mech_run(tmp_path_factory, cnn_net, test_set):
    path = tmp_path_factory.mktemp("mech") / "run"
    images, labels = test_set.images[:400], test_set.labels[:400]
    with RunStore(path) as run:
        for name in ("test", "checkpoint 2"):
            mechanism = analyze(cnn_net, images, labels, k_max=4, contribution_images=32)
            save_mechanism(run, mechanism, name=name)
    return path


@pytest.fixture(scope="module")
def api(mech_run):
    with running(create_app(mech_run, jobs=False)) as url, httpx.Client(base_url=url) as client:
        yield client


def decode(array):
    raw = np.frombuffer(base64.b64decode(array["data"]), dtype=np.uint8).astype(np.float32)
    return (array["min"] + raw / 255 * (array["max"] - array["min"])).reshape(array["shape"])


def test_run_lists_mechanisms_apart_from_analyses(api):
    run = api.get("/api/run").json()
    assert [m["name"] for m in run["mechanisms"]] == ["test", "checkpoint 2"]
    assert run["analyses"] == []
    first = run["mechanisms"][0]["id"]
    answer = api.get(f"/api/analyses/{first}")
    assert answer.status_code == 404 and "mechanism analysis" in answer.json()["detail"]


def test_summary_and_patches_are_the_stored_ones(api, mech_run):
    mid = api.get("/api/run").json()["mechanisms"][0]["id"]
    summary = api.get(f"/api/mechanisms/{mid}").json()
    with RunStore(mech_run) as run:
        stored = mechanism_summary(run, mid)
        site = stored["sites"][1]["name"]
        patches = mechanism_array(run, mid, f"sites/{site}/patches").float().numpy()
        values = mechanism_array(run, mid, f"sites/{site}/patch_value").float().numpy()
    assert summary["sites"] == json.loads(json.dumps(stored["sites"]))
    assert summary["edges"] == json.loads(json.dumps(stored["edges"]))
    answer = api.get(f"/api/mechanisms/{mid}/patches", params={"site": site}).json()
    step = (answer["patches"]["max"] - answer["patches"]["min"]) / 255
    assert np.abs(decode(answer["patches"]) - patches).max() <= step / 2 + 1e-5
    assert np.allclose(answer["values"], values, atol=1e-4)


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/api/mechanisms/999", 404, "999"),
        ("/api/mechanisms/1/patches?site=nope", 404, "no site 'nope'"),
        ("/api/mechanisms/1/patches", 422, "site"),
    ],
)
def test_bad_mechanism_requests(api, path, status, words):
    answer = api.get(path)
    assert answer.status_code == status
    assert words in answer.json()["detail"]


def test_report_embeds_the_mechanisms(mech_run, tmp_path):
    out = tmp_path / "report.html"
    write_report(mech_run, out)
    page = out.read_text()
    embedded = json.loads(page.split("window.__PATHLENS_EMBED__=")[1].split(";</script>")[0])
    with RunStore(mech_run) as run:
        mid = list_mechanisms(run)[0]["id"]
        site = mechanism_summary(run, mid)["sites"][0]["name"]
    assert f"/api/mechanisms/{mid}" in embedded
    assert f"/api/mechanisms/{mid}/patches?site={site}" in embedded
