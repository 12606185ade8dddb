"""The JSON API of `pathlens serve`, over a real run folder and a real server on 127.0.0.1."""

import base64
import json
import subprocess
import sys

import httpx
import numpy as np
import pytest
import torch

from pathlens.attacks import load_analysis
from pathlens.server import create_app, running
from pathlens.store import RunStore

pytestmark = pytest.mark.slow  # each test here takes seconds (models, attacks, servers)


@pytest.fixture(scope="module")
def api(demo_server):
    with httpx.Client(base_url=demo_server, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def analysis(api):
    run = api.get("/api/run").json()
    first = run["analyses"][0]["id"]
    return api.get(f"/api/analyses/{first}").json()


@pytest.fixture(scope="module")
def stored(demo_run, analysis):
    with RunStore(demo_run) as run:
        return load_analysis(run, analysis["id"])


def decode(array: dict) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(array["data"]), dtype=np.uint8).astype(np.float32)
    values = array["min"] + raw / 255 * (array["max"] - array["min"])
    return values.reshape(array["shape"])


def test_run_describes_the_network_and_its_contents(api, resnet_net):
    run = api.get("/api/run").json()
    assert run["network"] == resnet_net.describe()
    assert run["model"]["spec"] == "demo:resnet"
    assert run["model"]["classes"][9] == "ankle-boot"
    assert [a["name"] for a in run["analyses"]][:1] == ["ankle-boot->sneaker"]
    assert (run["analyses"][0]["source"], run["analyses"][0]["target"]) == (9, 7)
    assert run["can_run_jobs"] is True
    assert len(run["image_sets"]) >= 3 and len(run["datapaths"]) >= 3


def test_analysis_matches_the_stored_one_and_the_model(api, analysis, stored, resnet_net):
    assert analysis["divergence"] == stored.divergence
    assert analysis["merge"] == stored.merge
    assert analysis["source_name"] == "ankle-boot" and analysis["target_name"] == "sneaker"
    for key in "ABC":
        assert analysis["datapaths"][key]["channels"] == stored.datapaths[key].channels
        images = stored.set_images[key]
        probs = torch.softmax(resnet_net.predict(images)[0], 1)
        info = analysis["sets"][key]
        assert info["predictions"] == probs.argmax(1).tolist()
        assert np.allclose(info["confidence"], probs.max(1).values.numpy(), atol=1e-3)
        assert info["image_set"] == stored.links[key]["image_set"]
    assert set(analysis["sets"]["A"]["predictions"]) == {7}  # adversarial: all sneakers
    assert set(analysis["sets"]["B"]["predictions"]) == {9}


def test_layer_view_is_computed_from_the_activations(api, analysis, stored, resnet_net):
    site = analysis["sites"][5]
    layer = api.get(f"/api/analyses/{analysis['id']}/sites/{site}").json()
    for key in "ABC":
        assert layer["kept"][key] == stored.datapaths[key].channels[site]
        acts = resnet_net.activations(stored.set_images[key])[site]
        expected = acts.float().mean((0, 2, 3))
        assert np.allclose(layer["mean"][key], expected.numpy(), atol=2e-2)
    union = sorted(set().union(*map(set, layer["kept"].values())))
    assert sorted(layer["order"]) == union
    assert sorted(int(c) for c in layer["position"]) == union
    assert all(0 <= v <= 1 for xy in layer["position"].values() for v in xy)
    assert layer["next"], "a site with later sites has links"
    first = layer["next"][0]
    assert first["site"] == analysis["sites"][6]  # the nearest following site comes first
    a_here, a_next = set(layer["kept"]["A"]), set(stored.datapaths["A"].channels[first["site"]])
    assert all(link["from"] in a_here and link["to"] in a_next for link in first["links"])
    weights = [abs(link["weight"]) for link in first["links"]]
    assert weights == sorted(weights, reverse=True)


def test_neuron_view_carries_the_real_maps_and_features(api, analysis, stored, demo_run):
    error = stored.error_channels[0]
    answer = api.get(f"/api/analyses/{analysis['id']}/neurons/{error.site}/{error.channel}")
    view = answer.json()
    for key in "ABC":
        acts = stored.neurons[f"acts/{key}/{error.site}"][:, error.channel].float().numpy()
        maps = decode(view["maps"][key])
        step = (view["maps"][key]["max"] - view["maps"][key]["min"]) / 255
        assert maps.shape == acts.shape
        assert np.abs(maps - acts).max() <= step / 2 + 1e-4
        assert np.allclose(view["mean"][key], acts.mean((1, 2)), atol=1e-3)
        assert view["in_datapath"][key] == (
            error.channel in stored.datapaths[key].channels[error.site]
        )
    patches = decode(view["patches"])
    assert patches.shape[0] == len(view["patch_values"]) == len(view["patch_images"])
    assert view["patch_values"] == sorted(view["patch_values"], reverse=True)
    assert view["maximization"] is not None  # stored for the strongest error channels


def _run_bytes(run_dir) -> dict[str, str]:
    """A digest of every file of the run's database (the WAL included), read in another
    process: closing a file this process opened on the live database would drop the POSIX
    locks that the server's connections in this process hold (they are per process)."""
    script = (
        "import hashlib, json, pathlib, sys; d = pathlib.Path(sys.argv[1]); "
        "print(json.dumps({p.name: hashlib.sha256(p.read_bytes()).hexdigest() "
        "for p in sorted(d.glob('run.sqlite*')) if not p.name.endswith('-shm')}))"
    )  # the -shm file is the readers' shared-memory index, not data
    out = subprocess.run([sys.executable, "-c", script, str(run_dir)], capture_output=True,
                         text=True, check=True)  # fmt: skip
    return json.loads(out.stdout)


def test_a_get_never_writes_to_the_run(api, analysis, stored, demo_run):
    """The views that need what the run lacks (a channel order, an activation-maximisation
    image) compute it in memory: the database's bytes stay the same."""
    site = analysis["sites"][-1]
    channel = next(c for c in range(64) if f"maximize/{site}/{c}" not in stored.neurons)
    before = _run_bytes(demo_run)
    view = api.get(f"/api/analyses/{analysis['id']}/neurons/{site}/{channel}").json()
    assert view["maximization"]["shape"] == [1, 28, 28]
    again = api.get(f"/api/analyses/{analysis['id']}/neurons/{site}/{channel}").json()
    assert again["maximization"] == view["maximization"]
    for s in analysis["sites"][:3]:
        assert api.get(f"/api/analyses/{analysis['id']}/sites/{s}").status_code == 200
    assert api.get("/api/run").status_code == 200
    assert _run_bytes(demo_run) == before
    with RunStore(demo_run) as run:
        assert f"analysis/{analysis['id']}/maximize/{site}/{channel}" not in run.array_names()


def test_image_sets_and_datapaths(api, analysis, stored):
    a = analysis["sets"]["A"]
    images = api.get(f"/api/image_sets/{a['image_set']}").json()
    pixels = decode(images["images"])
    assert pixels.shape == (a["size"], 1, 28, 28)
    assert np.abs(pixels - stored.set_images["A"].numpy()).max() <= 0.5 / 255 + 1e-6
    datapath = api.get(f"/api/datapaths/{a['datapath']}").json()
    assert datapath["channels"] == stored.datapaths["A"].channels
    assert datapath["fidelity"]["sufficiency"] == 1.0


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/api/analyses/999", 404, "no analysis 999"),
        ("/api/analyses/abc", 422, "integer"),
        ("/api/analyses/1/sites/no.such.site", 404, "no site"),
        ("/api/analyses/1/neurons/stem.2/99999", 404, "channels 0..15"),
        ("/api/analyses/1/neurons/stem.2/-1", 404, "channels 0..15"),
        ("/api/image_sets/999", 404, "no image set"),
        ("/api/datapaths/999", 404, "no datapath"),
        ("/api/jobs/999", 404, "no job"),
        ("/api/jobs/999/events", 404, "no job"),
        ("/api/not-an-endpoint", 404, "no API endpoint"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_message(api, path, status, words):
    answer = api.get(path)
    assert answer.status_code == status
    assert words in answer.json()["detail"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"kind": "train"}', "Unknown job kind"),
        ('{"kind": "adversarial", "source": 9, "target": 9}', "the same"),
        ('{"kind": "adversarial", "source": 9, "target": 12}', "not a class"),
        ('{"kind": "adversarial", "source": "boot", "target": 7}', "class index"),
        ('{"kind": "adversarial", "source": 9, "target": 7, "eps": 3}', "eps"),
        ('{"kind": "adversarial", "source": 9, "target": 7, "attack": "x"}', "Unknown attack"),
        ('{"kind": "adversarial", "source": 9, "target": 7, "n": 1}', "4..256"),
        ('{"kind": "datapath", "analysis": 999, "set": "A", "images": [0]}', "no analysis"),
        ('{"kind": "datapath", "analysis": 1, "set": "D", "images": [0]}', "one of A, B, C"),
        ('{"kind": "datapath", "analysis": 1, "set": "A", "images": []}', "non-empty"),
        ('{"kind": "datapath", "analysis": 1, "set": "A", "images": [0, 500]}', "positions"),
        ('{"kind": "datapath", "analysis": 1, "set": "A", "images": [1, 1]}', "distinct"),
    ],
)
def test_bad_job_requests_are_refused_clearly(api, body, words):
    answer = api.post("/api/jobs", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500, answer.text
    assert words in answer.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/assets/../run.sqlite",
        "/assets/..%2f..%2f_app.py",
        "/assets/%2e%2e/%2e%2e/_views.py",
        "/assets/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/assets//etc/passwd",
        "/api/analyses/1/sites/..%2F..%2Frun.sqlite",
        "/run.sqlite",
        "/static/index.html",
    ],
)
def test_no_path_escapes_to_the_filesystem(api, path):
    answer = api.get(path)
    assert answer.status_code in (404, 405), (path, answer.status_code)
    assert b"SQLite format" not in answer.content
    assert b"root:" not in answer.content
    assert b"import" not in answer.content


def test_front_end_is_served(api):
    page = api.get("/")
    assert page.status_code == 200
    assert '<div id="app">' in page.text
    script = page.text.split('src="./')[1].split('"')[0]
    assert api.get("/" + script).status_code == 200


def test_loopback_server_refuses_other_host_names(api):
    answer = api.get("/api/run", headers={"Host": "attacker.example:80"})
    assert answer.status_code == 403
    assert "--host" in answer.json()["detail"]


def test_token_rule(demo_run):
    app = create_app(demo_run, token="s3cret-token", jobs=False)
    with running(app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/api/run").status_code == 401
        assert "token" in client.get("/api/run").json()["detail"]
        assert client.get("/api/run?token=wrong").status_code == 401
        assert client.get("/", params={"token": "wrong"}).status_code == 401
        first = client.get("/?token=s3cret-token")
        assert first.status_code == 200
        # the page's own requests carry the cookie set by the first answer
        assert client.get("/api/run").status_code == 200
        bearer = httpx.get(f"{url}/api/run", headers={"Authorization": "Bearer s3cret-token"})
        assert bearer.status_code == 200
        assert bearer.json()["can_run_jobs"] is False


def test_datapath_job_streams_gates_and_its_result_keeps_the_predictions(
    api, analysis, stored, resnet_net
):
    chosen = [0, 2, 3]
    job = api.post(
        "/api/jobs",
        json={
            "kind": "datapath",
            "analysis": analysis["id"],
            "set": "A",
            "images": chosen,
        },
    )
    assert job.status_code == 202 and job.json()["status"] == "queued"
    events, end = [], None
    with api.stream("GET", f"/api/jobs/{job.json()['id']}/events") as stream:
        name = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if name == "progress":
                    events.append(data)
                else:
                    end = (name, data)
                    break
    assert end is not None and end[0] == "done", end
    fractions = [e["fraction"] for e in events]
    assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)
    live = [e for e in events if "gates" in e]
    assert live, "the optimisation streams its gates"
    sites = {s.name: s.channels for s in resnet_net.sites}
    assert {k: len(v) for k, v in live[-1]["gates"].items()} == sites
    result = api.get(f"/api/datapaths/{end[1]['result']['datapath']}").json()
    assert result["n_images"] == len(chosen)
    # hard-mask check: keeping only the subset's datapath keeps every prediction
    images = stored.set_images["A"][chosen]
    with resnet_net.mask({s: torch.tensor(c) for s, c in result["channels"].items()}):
        kept = resnet_net.predict(images)[1]
    assert kept.tolist() == resnet_net.predict(images)[1].tolist()
    assert result["fidelity"]["sufficiency"] == 1.0


def test_jobs_left_running_are_marked_interrupted(tmp_path, demo_run):
    import sqlite3

    # SQLite's backup, not a file copy: closing a plain copy's file handles would drop this
    # process's locks on the live database (POSIX locks are per process)
    copy = tmp_path / "run"
    copy.mkdir()
    with (
        sqlite3.connect(demo_run / "run.sqlite") as src,
        sqlite3.connect(copy / "run.sqlite") as dst,
    ):
        src.backup(dst)
    with RunStore(copy) as run:
        job_id = run.add_job("adversarial", {"source": 9, "target": 7})
        run.update_job(job_id, status="running")
    app = create_app(copy)
    try:
        with RunStore(copy) as run:
            job = run.job(job_id)
        assert job["status"] == "interrupted"
        assert "launch it again" in job["error"]
    finally:
        app.state.runner.stop()
