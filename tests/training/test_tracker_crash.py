"""A training process killed at any moment leaves a readable run; a reader sees a live run grow.

Both start tests/training/tracker_worker.py as a real subprocess writing a real run folder.
"""

import itertools
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pathlens import PathlensError, open_run
from pathlens.training import STATS

pytestmark = pytest.mark.slow  # each test here takes seconds (models, attacks, servers)

WORKER = Path(__file__).with_name("tracker_worker.py")


def start_worker(run_dir: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(run_dir), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def snapshot_count(run_dir: Path) -> int:
    """Completed snapshots, read straight from SQLite (0 while the run is being created)."""
    db = run_dir / "run.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM snapshots").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited early: {proc.stderr.read().decode()}")
        time.sleep(0.01)
    proc.kill()
    raise AssertionError("timed out waiting for the worker")


def check_complete(run_dir: Path, at_least: int) -> int:
    """The run opens, and every snapshot it lists has finite data for every site and stat."""
    with open_run(run_dir) as run:
        steps = run.snapshots()
        n = len(steps)
        assert n >= at_least
        np.testing.assert_array_equal(steps, np.arange(n))  # every=1
        for site in run.sites():
            for stat in STATS:
                series = run.neuron_series(site, stat)
                assert series.shape == (n, run.site_info(site)["channels"])
                assert np.isfinite(series).all(), (site, stat)
        loss_steps, loss = run.scalars("loss")
        assert np.isfinite(loss).all()
        assert (np.diff(loss_steps) == 1).all() and loss_steps[0] == 0
        assert loss_steps[-1] >= steps[-1]  # a snapshot commits its step's scalars with it
        assert run.status()["status"] == "interrupted"  # killed: never closed, writer gone
    return n


def test_kill_9_at_random_moments_leaves_every_completed_snapshot(tmp_path):
    rng = random.Random(os.getpid())
    for attempt in range(3):
        run_dir = tmp_path / f"run{attempt}"
        # every=1 and 4 snapshots a chunk: the kill lands in snapshot writes, chunk rewrites
        # and array resizes as often as in training steps.
        proc = start_worker(run_dir, "--every", "1", "--chunk", "4")
        target = rng.randint(3, 12)
        wait_for(lambda run_dir=run_dir, target=target: snapshot_count(run_dir) >= target,
                 proc)  # fmt: skip
        time.sleep(rng.uniform(0.0, 0.05))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        proc.stderr.close()
        check_complete(run_dir, target)


def test_a_reader_sees_snapshots_appear_while_the_writer_runs(tmp_path):
    run_dir = tmp_path / "live"
    proc = start_worker(run_dir, "--every", "1", "--chunk", "4", "--sleep", "0.02")
    try:

        def opened():
            try:
                return open_run(run_dir)
            except PathlensError:  # the writer has not recorded the run yet
                return None

        run = wait_for(opened, proc)
        counts = [len(run.snapshots())]
        while len(counts) < 6:
            wait_for(lambda: len(run.snapshots()) > counts[-1], proc)
            before = len(run.snapshots())
            series = run.neuron_series("relu2", "act_std")
            assert series.shape[0] >= before  # re-read: never fewer than just listed
            assert np.isfinite(series).all()
            counts.append(before)
        assert all(b > a for a, b in itertools.pairwise(counts))
        assert len(run.scalars("loss")[0]) >= counts[-1]
        assert run.status()["status"] == "running"
        run.close()
    finally:
        proc.kill()
        proc.wait(timeout=10)
        proc.stderr.close()
