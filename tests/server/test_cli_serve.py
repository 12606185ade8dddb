"""`pathlens serve` and `pathlens report` from the command line."""

import json
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest
from typer.testing import CliRunner

from pathlens.cli import _app as cli
from pathlens.server import RunView, running

pytestmark = pytest.mark.slow  # each test here takes seconds (models, attacks, servers)

runner = CliRunner()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on `port`, from /proc/net/tcp."""
    found = set()
    with open("/proc/net/tcp") as table:
        lines = table.read().splitlines()[1:]
    for line in lines:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":  # 0A: LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_serve_binds_loopback_and_answers(demo_run):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pathlens", "serve", str(demo_run), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{url}/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        assert listening_addresses(port) == {"127.0.0.1"}
        assert httpx.get(f"{url}/api/run").json()["network"]["sites"][0]["name"] == "stem.2"
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/" in out
    assert "token" not in out


def test_non_loopback_host_gets_a_token_in_the_printed_url(demo_run, monkeypatch):
    import uvicorn

    served = {}
    monkeypatch.setattr(cli, "_check_port", lambda host, port: None)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    result = runner.invoke(cli.app, ["serve", str(demo_run), "--host", "0.0.0.0", "--port", "9"])
    assert result.exit_code == 0, result.output
    token = re.search(r"\?token=([\w-]+)", result.output).group(1)
    assert len(token) >= 24 and served["host"] == "0.0.0.0"
    with running(served["app"]) as url:  # the same app, on loopback for the test
        assert httpx.get(f"{url}/api/run").status_code == 401
        assert httpx.get(f"{url}/api/run?token={token}").status_code == 200


def test_serve_errors_are_messages(demo_run, tmp_path):
    result = runner.invoke(cli.app, ["serve", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "not a pathlens run folder" in " ".join(result.output.split())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(cli.app, ["serve", str(demo_run), "--port", str(port)])
    assert result.exit_code == 2 and "in use" in result.output and "--port" in result.output


def test_report_is_one_self_contained_file(demo_run, tmp_path):
    out = tmp_path / "report.html"
    result = runner.invoke(cli.app, ["report", str(demo_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert not re.search(r"<script[^>]+src=", page), "scripts are inlined"
    assert not re.search(r"<link[^>]+stylesheet", page), "styles are inlined"
    embedded = json.loads(page.split("window.__PATHLENS_EMBED__=")[1].split(";</script>")[0])
    view = RunView(demo_run, jobs=False)
    info = embedded["/api/run"]
    assert info["can_run_jobs"] is False
    assert info["network"] == view.run_info()["network"]
    analysis = info["analyses"][0]["id"]
    assert embedded[f"/api/analyses/{analysis}"] == json.loads(json.dumps(view.analysis(analysis)))
    sites = embedded[f"/api/analyses/{analysis}"]["sites"]
    assert all(f"/api/analyses/{analysis}/sites/{s}" in embedded for s in sites)
    kept = embedded[f"/api/analyses/{analysis}"]["datapaths"]["A"]["channels"][sites[3]]
    assert f"/api/analyses/{analysis}/neurons/{sites[3]}/{kept[0]}" in embedded


def test_report_errors_are_messages(demo_run, tmp_path):
    result = runner.invoke(cli.app, ["report", str(demo_run), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "is a folder" in " ".join(result.output.split())
    result = runner.invoke(cli.app, ["report", str(tmp_path / "none"), "--out", "r.html"])
    assert result.exit_code == 2
    assert "not a pathlens run folder" in " ".join(result.output.split())


@pytest.mark.parametrize("command", ["serve", "report"])
def test_help_mentions_the_run_folder(command):
    result = runner.invoke(cli.app, [command, "--help"])
    assert result.exit_code == 0 and "run folder" in result.output
