"""Stopping the server while a job runs: Ctrl+C ends `pathlens serve` promptly and cleanly,
the job is recorded as interrupted; finished jobs do not keep their progress in memory."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from pathlens.data import CLASS_NAMES
from pathlens.server import create_app
from pathlens.server._jobs import KEPT_FINISHED
from pathlens.store import RunStore
from pathlens.workflows import remember_model


@pytest.fixture
def cnn_run(tmp_path, cnn_net):
    """A run folder that records the demo CNN and nothing else: jobs can run in it."""
    path = tmp_path / "cnn"
    with RunStore(path) as run:
        remember_model(run, cnn_net, spec="demo:cnn", weights=None, classes=CLASS_NAMES,
                       data=None)  # fmt: skip
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _health(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health").status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.slow
def test_ctrl_c_during_a_job_exits_cleanly_and_marks_it_interrupted(cnn_run):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "pathlens", "serve", str(cnn_run), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: _health(url), 60, "the server")
        # the largest set the API allows: the job runs for many seconds on the demo CNN
        body = {"kind": "adversarial", "source": 9, "target": 7, "n": 256, "eps": 0.1}
        job = httpx.post(f"{url}/api/jobs", json=body).raise_for_status().json()

        def running() -> bool:
            record = httpx.get(f"{url}/api/jobs/{job['id']}").json()
            assert record["status"] in ("queued", "running"), record
            return record["status"] == "running"

        wait_for(running, 60, "the job to start")
        time.sleep(0.5)  # inside torch now
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    # the runner joins the job at its next progress event; one attack step of the demo CNN
    # takes well under a second on two cores, so 20 s only fails if the stop is not seen
    assert time.monotonic() - stopped_at < 20
    assert process.returncode in (0, 130), (out, err)
    assert "terminate called" not in err and "Traceback" not in err, err
    assert "stopped" in out
    with RunStore(cnn_run, create=False) as run:
        record = run.job(job["id"])
    assert record["status"] == "interrupted", record
    assert "launch it again" in record["error"]


def test_stop_cancels_a_running_job_and_refuses_new_ones(cnn_run):
    app = create_app(cnn_run)
    runner = app.state.runner
    job = runner.submit({"kind": "adversarial", "source": 9, "target": 7, "n": 256})
    wait_for(lambda: runner.view.store().job(job["id"])["status"] == "running", 60, "a start")
    assert runner.stop(timeout=20)
    assert runner.view.store().job(job["id"])["status"] == "interrupted"
    with pytest.raises(Exception, match="stopping"):
        runner.submit({"kind": "adversarial", "source": 9, "target": 7})


def test_only_the_last_finished_jobs_keep_their_events(cnn_run):
    app = create_app(cnn_run)
    runner = app.state.runner
    gates = {"site": [0.5] * 64}

    # the job's computation replaced by a burst of progress events with gates (what fills
    # memory); the bookkeeping under test is the runner's own
    def quick_job(job_id, params):
        on_event = runner._progress(job_id)
        from pathlens.workflows import ProgressEvent

        for step in range(3):
            detail = {"gates": gates, "step": step, "max_steps": 3, "kept_fraction": 0.5,
                      "sufficiency": 1.0}  # fmt: skip
            on_event(ProgressEvent("gates", step / 3, "gates", detail))
            time.sleep(0.11)  # past the runner's interval between two events with gates
        return {"analysis": 0}

    runner._run_adversarial = quick_job
    try:
        ids = [
            runner.submit({"kind": "adversarial", "source": 9, "target": 7})["id"]
            for _ in range(KEPT_FINISHED + 3)
        ]
        wait_for(lambda: runner.view.store().job(ids[-1])["status"] == "done", 60, "the last job")
        kept = [i for i in ids if runner.events_since(i, 0, 0)[0]]
        assert kept == ids[-KEPT_FINISHED:]
        assert len(runner._events) == KEPT_FINISHED
    finally:
        runner.stop()
