"""What a hostile web page can make a local pathlens server do: nothing.

A real server on 127.0.0.1 over a real (empty) run folder; the requests are the ones a page
elsewhere can send: other Host names (DNS rebinding), cross-site POSTs (CSRF), odd tokens.
"""

import httpx
import pytest

from pathlens.server import create_app, is_loopback, running
from pathlens.server._security import host_refusal, split_host
from pathlens.store import RunStore


@pytest.fixture(scope="module")
def empty_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "empty"
    RunStore(path).close()
    return path


@pytest.fixture(scope="module")
def server(empty_run):
    with running(create_app(empty_run)) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server, timeout=30) as c:
        yield c


@pytest.mark.parametrize(
    "host",
    [
        "127.evil.example:8812",
        "127.0.0.1.evil.example",
        "[::1]evil.example",
        "[::1]:80x",
        "localhost.evil.example",
        "evil.example",
        "127.0.0.1:80:80",
        "127.0.0.1:port",
        "",
        "0.0.0.0",
        "10.0.0.1",
    ],
)
def test_host_names_that_are_not_exactly_loopback_are_refused(client, host):
    answer = client.get("/api/run", headers={"Host": host})
    assert answer.status_code == 403, host
    assert "127.0.0.1 or localhost" in answer.json()["detail"]


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.1:8765", "LOCALHOST", "LocalHost:1", "[::1]", "[::1]:8765",
             "127.0.0.2:80"],
)  # fmt: skip
def test_loopback_host_names_are_answered_in_any_case(client, host):
    assert client.get("/api/run", headers={"Host": host}).status_code == 200, host


def test_host_parsing_is_exact():
    assert split_host("[::1]:80") == ("::1", "80")
    assert split_host("LocalHost") == ("localhost", None)
    assert split_host("a:b:c") is None
    assert host_refusal("127.0.0.1:8080") is None
    assert host_refusal("127.0.0.1.nip.io") is not None
    assert is_loopback("127.0.0.1") and is_loopback("[::1]") and is_loopback("LOCALHOST")
    assert not is_loopback("0.0.0.0") and not is_loopback("127.example")


JOB = '{"kind": "adversarial", "source": 9, "target": 7}'


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "http://evil.example", "Content-Type": "application/json"}, 403),
        ({"Origin": "http://evil.example", "Content-Type": "text/plain"}, 403),
        ({"Origin": "null", "Content-Type": "application/json"}, 403),
        ({"Referer": "http://evil.example/page", "Content-Type": "application/json"}, 403),
        ({"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, 403),
        ({"Sec-Fetch-Site": "same-site", "Content-Type": "application/json"}, 403),
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ({"Content-Type": "multipart/form-data; boundary=x"}, 415),
        ({}, 415),
    ],
)
def test_cross_site_and_non_json_posts_start_nothing(client, empty_run, headers, status):
    answer = client.post("/api/jobs", content=JOB, headers=headers)
    assert answer.status_code == status, answer.text
    with RunStore(empty_run) as run:
        assert run.jobs() == []


def test_same_origin_json_posts_pass_the_guard(client, server):
    port = server.rsplit(":", 1)[1]
    for origin in (server, f"http://localhost:{port}"):
        host = origin.removeprefix("http://")
        answer = client.post(
            "/api/jobs",
            content=JOB,
            headers={"Origin": origin, "Host": host, "Content-Type": "application/json",
                     "Sec-Fetch-Site": "same-origin"},
        )  # fmt: skip
        # past the guard: the empty run cannot run jobs, and says why
        assert answer.status_code == 400, answer.text
        assert "model" in answer.json()["detail"]
    # an Origin on another port of the same machine is another site
    other = client.post(
        "/api/jobs", content=JOB,
        headers={"Origin": "http://127.0.0.1:1", "Content-Type": "application/json"},
    )  # fmt: skip
    assert other.status_code == 403


@pytest.mark.parametrize("token", ["%C3%A9", "%00", "x" * 2000])
def test_odd_tokens_are_refused_not_crashed(empty_run, token):
    app = create_app(empty_run, token="s3cret-token", jobs=False)
    with running(app) as url, httpx.Client(base_url=url) as client:
        assert client.get(f"/api/run?token={token}").status_code == 401
        bearer = client.get("/api/run", headers={"Authorization": "Bearer é".encode()})
        assert bearer.status_code == 401
        assert client.get("/api/run?token=s3cret-token").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/jobs/9223372036854775808",
        "/api/analyses/99999999999999999999999",
        "/api/datapaths/9223372036854775808",
        "/api/image_sets/18446744073709551616",
        "/assets/a%00.js",
    ],
)
def test_huge_ids_and_nul_bytes_are_not_found(client, path):
    answer = client.get(path)
    assert answer.status_code == 404, answer.text


def test_deeply_nested_json_is_a_bad_request(client):
    body = "[" * 50_000 + "]" * 50_000
    answer = client.post("/api/jobs", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500, answer.text


def test_the_job_queue_is_capped(tmp_path, cnn_net):
    from pathlens.data import CLASS_NAMES
    from pathlens.workflows import remember_model

    with RunStore(tmp_path / "run") as run:
        remember_model(run, cnn_net, spec="demo:cnn", weights=None, classes=CLASS_NAMES,
                       data=None)  # fmt: skip
    app = create_app(tmp_path / "run", max_pending_jobs=2)
    job = {"kind": "adversarial", "source": 9, "target": 7, "n": 4}
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        answers = [client.post("/api/jobs", json=job) for _ in range(4)]
        assert [a.status_code for a in answers[:2]] == [202, 202]
        assert [a.status_code for a in answers[2:]] == [429, 429]
        assert "wait for one to finish" in answers[2].json()["detail"]
        assert len(client.get("/api/jobs").json()) == 2
