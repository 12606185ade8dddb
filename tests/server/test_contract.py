"""The contract between server and browser: the OpenAPI schema lists every route, and every
answer on real runs is exactly what the views produce, checked against its response model."""

import json

import httpx
import pytest
import torch
from fastapi.routing import APIRoute
from torch import nn

from pathlens import Tracker
from pathlens.attacks import load_analysis
from pathlens.mechanism import analyze, save_mechanism
from pathlens.server import RunView, api_schema, create_app, running
from pathlens.server._training import TrainingView
from pathlens.store import RunStore

MAIN_SHAPES = [
    "RunInfo", "Analysis", "LayerView", "NeuronView", "ImageSet", "Datapath", "Job",
    "ProgressEvent", "ByteArray", "Mechanism", "MechanismPatches", "TrainingInfo",
    "TrainingProgress", "NeuronSeries", "TrainingAnomalies", "CreditGraph", "ApiError",
    "AdversarialRequest", "DatapathRequest",
]  # fmt: skip


@pytest.fixture(scope="module")
def other_run(tmp_path_factory, cnn_net, test_set):
    """A run with a mechanism analysis and a short training record (of a small MLP)."""
    path = tmp_path_factory.mktemp("contract") / "run"
    mechanism = analyze(
        cnn_net, test_set.images[:200], test_set.labels[:200], k_max=3, contribution_images=16
    )
    with RunStore(path) as run:
        save_mechanism(run, mechanism, name="test")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 12), nn.ReLU(), nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with Tracker(model, path, every=2, probe=torch.rand(16, 8)) as tracker:
        for _ in range(12):
            x, y = torch.rand(16, 8), torch.randint(0, 2, (16,))
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            tracker.step(loss=loss.item())
    return path


def _same_as_views(base_url: str, cases: dict[str, object]) -> None:
    """Each path answers 200 with exactly the JSON of its view: a field the response model
    lacks would be dropped, one it adds would appear; either fails here."""
    with httpx.Client(base_url=base_url, timeout=120) as client:
        for path, expected in cases.items():
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.text[:300])
            assert answer.json() == json.loads(json.dumps(expected)), path


def test_the_schema_lists_every_route_with_its_model(demo_server, tmp_path):
    served = httpx.get(f"{demo_server}/api/openapi.json", timeout=60).json()
    RunStore(tmp_path / "empty").close()
    app = create_app(tmp_path / "empty", jobs=False)
    routes = {
        (r.path, method.lower())
        for r in app.routes
        if isinstance(r, APIRoute) and r.include_in_schema
        for method in r.methods
    }
    listed = {(path, method) for path, item in served["paths"].items() for method in item}
    assert routes == listed
    assert all(path.startswith("/api/") for path, _ in routes)
    assert len(routes) >= 19
    schemas = served["components"]["schemas"]
    assert set(MAIN_SHAPES) <= set(schemas)
    ok = served["paths"]["/api/analyses/{analysis_id}/neurons/{site}/{channel}"]["get"]
    answer = ok["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/NeuronView"}
    # the job request's bounds are part of the contract
    adversarial = schemas["AdversarialRequest"]["properties"]
    assert adversarial["eps"]["exclusiveMinimum"] == 0 and adversarial["eps"]["maximum"] == 1
    assert (adversarial["n"]["minimum"], adversarial["n"]["maximum"]) == (4, 256)
    assert schemas["DatapathRequest"]["properties"]["images"]["minItems"] == 1
    assert served == api_schema()  # what the front-end build generates its types from


def test_every_analysis_answer_is_its_view_exactly(demo_server, demo_run):
    view = RunView(demo_run)
    info = view.run_info()
    aid = info["analyses"][0]["id"]
    analysis = view.analysis(aid)
    site = analysis["sites"][4]
    channel = analysis["datapaths"]["A"]["channels"][site][0]
    set_id = analysis["sets"]["B"]["image_set"]
    datapath_id = info["datapaths"][0]["id"]
    cases = {
        "/api/health": {"ok": True},
        "/api/run": info,
        f"/api/analyses/{aid}": analysis,
        f"/api/analyses/{aid}/sites/{site}": view.layer(aid, site),
        f"/api/image_sets/{set_id}": view.image_set(set_id),
        f"/api/datapaths/{datapath_id}": view.datapath(datapath_id),
        "/api/jobs": view.store().jobs(),
    }
    # a channel whose maximisation image is stored: the view needs no model for it
    with RunStore(demo_run, create=False) as run:
        stored = load_analysis(run, aid)
    error = next(
        e for e in stored.error_channels if f"maximize/{e.site}/{e.channel}" in stored.neurons
    )
    path = f"/api/analyses/{aid}/neurons/{error.site}/{error.channel}"
    cases[path] = view.neuron(aid, error.site, error.channel, compute=False)
    cases[f"/api/analyses/{aid}/neurons/{site}/{channel}"] = None  # checked for status below
    answers = {k: v for k, v in cases.items() if v is not None}
    _same_as_views(demo_server, answers)
    with httpx.Client(base_url=demo_server, timeout=120) as client:
        assert client.get(f"/api/analyses/{aid}/neurons/{site}/{channel}").status_code == 200
        for job in client.get("/api/jobs").json():
            assert client.get(f"/api/jobs/{job['id']}").json() == job


def test_every_mechanism_and_training_answer_is_its_view_exactly(other_run):
    view, training = RunView(other_run, jobs=False), TrainingView(other_run)
    mid = view.run_info()["mechanisms"][0]["id"]
    mechanism = view.mechanism(mid)
    site = mechanism["sites"][1]["name"]
    info = training.info()
    first, last = info["sites"][0]["name"], info["sites"][-1]["name"]
    cases = {
        f"/api/mechanisms/{mid}": mechanism,
        f"/api/mechanisms/{mid}/patches?site={site}": view.mechanism_patches(mid, site),
        "/api/training": info,
        "/api/training/scalars": training.scalars([]),
        f"/api/training/series?site={first}&n=5&start=1": training.series(first, "act_mean", 5, 1),
        "/api/training/anomalies": training.anomalies(),
        f"/api/training/credit?site={last}&neuron=1": training.credit(last, 1, None, None, 2),
    }
    with running(create_app(other_run, jobs=False)) as url:
        _same_as_views(url, cases)


def test_a_bad_job_request_names_the_field_and_its_bounds(demo_server):
    bodies = {
        '{"kind": "adversarial", "source": 9, "target": 7, "eps": 0}': "'eps' must be a number",
        '{"kind": "adversarial", "source": -1, "target": 7}': "'source' must be a class index",
        '{"kind": "adversarial", "source": true, "target": 7}': "'source' must be a class index",
        '{"kind": "adversarial", "target": 7}': "'source' is missing",
        '{"kind": "adversarial", "source": 9, "target": 7, "speed": 3}': "'speed' is not a setting",
        '{"kind": "datapath", "analysis": 1, "set": "A", "images": [0, -2]}': "(position 1)",
    }  # fmt: skip
    with httpx.Client(base_url=demo_server, timeout=60) as client:
        for body, words in bodies.items():
            answer = client.post(
                "/api/jobs", content=body, headers={"Content-Type": "application/json"}
            )
            assert answer.status_code == 422, answer.text
            assert words in answer.json()["detail"], (body, answer.json())
