"""A suite of bad requests against a real server: every one answers a 4xx JSON message.

Ids out of range or of the wrong type, unknown sites and channels, hostile strings, malformed
job bodies and training-window parameters: none may answer 500, hang, or leak a traceback.
"""

import httpx
import pytest
import torch
from torch import nn

from pathlens.server import create_app, running

BAD_IDS = ["-1", "0", "999999", "9223372036854775808", "99999999999999999999999", "abc", "1.5",
           "1e3", "0x10", "%00", "%F0%9F%92%A9", "9" * 400]  # fmt: skip
BAD_SITES = ["nope", "..%2F..%2Frun.sqlite", "%00", "a" * 5000, "stem.2%00", "%E2%80%AE"]
BAD_CHANNELS = ["-1", "99999", "9223372036854775808", "x", "1.5"]


def analysis_requests() -> list[tuple[str, str, dict]]:
    cases = []
    for bad in BAD_IDS:
        for path in (
            f"/api/analyses/{bad}",
            f"/api/analyses/{bad}/sites/stem.2",
            f"/api/analyses/{bad}/neurons/stem.2/0",
            f"/api/image_sets/{bad}",
            f"/api/datapaths/{bad}",
            f"/api/mechanisms/{bad}",
            f"/api/jobs/{bad}",
        ):
            cases.append(("GET", path, {}))
    for site in BAD_SITES:
        cases.append(("GET", f"/api/analyses/1/sites/{site}", {}))
        cases.append(("GET", f"/api/analyses/1/neurons/{site}/0", {}))
    for channel in BAD_CHANNELS:
        cases.append(("GET", f"/api/analyses/1/neurons/stem.2/{channel}", {}))
    for body in (
        "",
        "null",
        "1",
        '"adversarial"',
        "{}",
        '{"kind": null}',
        '{"kind": ["adversarial"]}',
        '{"kind": "adversarial"}',
        '{"kind": "adversarial", "source": -1, "target": 7}',
        '{"kind": "adversarial", "source": 9, "target": 7, "eps": -0.1}',
        '{"kind": "adversarial", "source": 9, "target": 7, "eps": NaN}',
        '{"kind": "adversarial", "source": 9, "target": 7, "eps": Infinity}',
        '{"kind": "adversarial", "source": 9, "target": 7, "eps": "ten"}',
        '{"kind": "adversarial", "source": 9, "target": 7, "n": -5}',
        '{"kind": "adversarial", "source": 9, "target": 7, "n": 1e9}',
        '{"kind": "adversarial", "source": 9, "target": 7, "n": true}',
        '{"kind": "adversarial", "source": 9.5, "target": 7}',
        '{"kind": "adversarial", "source": 9, "target": 99999999999999999999999}',
        '{"kind": "datapath", "analysis": -1, "set": "A", "images": [0]}',
        '{"kind": "datapath", "analysis": 9223372036854775808, "set": "A", "images": [0]}',
        '{"kind": "datapath", "analysis": 1, "set": "A", "images": [-1]}',
        '{"kind": "datapath", "analysis": 1, "set": "A", "images": "0"}',
        '{"kind": "datapath", "analysis": 1, "set": null, "images": [0]}',
        '{"kind": "datapath", "analysis": 1, "set": "A", "images": [9223372036854775808]}',
        '{"kind": "datapath", "analysis": "1", "set": "A", "images": [0]}',
        "[" * 50_000 + "]" * 50_000,
        '{"kind": "' + "x" * 100_000 + '"}',
        "\udcff".encode("utf-8", "surrogatepass").decode("latin-1"),
    ):
        cases.append(("POST", "/api/jobs", {"content": body.encode("utf-8", "surrogateescape")}))
    cases.append(("GET", "/api/mechanisms/1/patches", {}))
    cases.append(("GET", "/api/mechanisms/1/patches?site=nope", {}))
    cases.append(("GET", "/api/training", {}))
    cases.append(("GET", "/api/nothing/here", {}))
    cases.append(("DELETE", "/api/jobs/1", {}))
    cases.append(("PUT", "/api/run", {"content": b"{}"}))
    return cases


def training_requests() -> list[tuple[str, str, dict]]:
    cases = []
    for query in (
        "",
        "site=nope",
        "site=fc1&stat=nope",
        "site=fc1&n=0",
        "site=fc1&n=-5",
        "site=fc1&n=1000000000",
        "site=fc1&n=abc",
        "site=fc1&start=abc",
        "site=fc1&start=9223372036854775808",
        "site=fc1&stop=-99999999999999999999",
        "site=%00",
    ):
        cases.append(("GET", f"/api/training/series?{query}", {}))
    for query in (
        "",
        "site=fc1",
        "site=fc1&neuron=-1",
        "site=fc1&neuron=99999",
        "site=fc1&neuron=9223372036854775808",
        "site=fc1&neuron=0&depth=0",
        "site=fc1&neuron=0&depth=99",
        "site=nope&neuron=0",
        "site=fc1&neuron=x",
    ):
        cases.append(("GET", f"/api/training/credit?{query}", {}))
    for query in ("start=abc", "stop=1.5", "start=9223372036854775808"):
        cases.append(("GET", f"/api/training/anomalies?{query}", {}))
    return cases


@pytest.fixture(scope="module")
def training_server(tmp_path_factory):
    """A real recorded training (a small MLP, a few snapshots) served on 127.0.0.1."""
    import pathlens

    path = tmp_path_factory.mktemp("runs") / "training"
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("fc1", nn.Linear(8, 16))
    model.add_module("act", nn.ReLU())
    model.add_module("fc2", nn.Linear(16, 2))
    x, y = torch.randn(64, 8), torch.randint(0, 2, (64,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pathlens.Tracker(model, path, every=5, probe=x[:16]) as tracker:
        for _ in range(20):
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            tracker.step(loss=loss.item())
    with running(create_app(path, jobs=False)) as url:
        yield url


def check(client: httpx.Client, method: str, path: str, kwargs: dict) -> None:
    headers = {"Content-Type": "application/json"} if method != "GET" else {}
    answer = client.request(method, path, headers=headers, **kwargs)
    assert 400 <= answer.status_code < 500, (method, path[:80], answer.status_code, answer.text)
    assert isinstance(answer.json()["detail"], str)
    assert "Traceback" not in answer.text


def test_the_suite_is_large():
    assert len(analysis_requests()) + len(training_requests()) >= 100


@pytest.mark.parametrize(("method", "path", "kwargs"), analysis_requests())
def test_bad_requests_on_an_analysis_run(demo_server, method, path, kwargs):
    with httpx.Client(base_url=demo_server, timeout=60) as client:
        check(client, method, path, kwargs)


@pytest.mark.parametrize(("method", "path", "kwargs"), training_requests())
def test_bad_requests_on_a_training_run(training_server, method, path, kwargs):
    with httpx.Client(base_url=training_server, timeout=60) as client:
        check(client, method, path, kwargs)
