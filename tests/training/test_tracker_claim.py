"""Starting a tracker is atomic, a run killed before its first snapshot does not stay
"running" forever, and a run folder with an empty database is refused (issue 12, items 6, 7
and 12)."""

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from tracker_worker import SmallCNN, train_step

from pathlens import PathlensError, PathlensWarning, Tracker, open_run
from pathlens.server import create_app
from pathlens.store import RunStore

WORKER = Path(__file__).with_name("tracker_worker.py")


def _probe():
    return torch.randn(8, 1, 12, 12, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("where", ["", "   "])
def test_an_empty_run_path_is_refused_not_the_current_folder(where, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PathlensError, match="run_dir must name a folder"):
        Tracker(SmallCNN(), where, probe=_probe())
    assert list(tmp_path.iterdir()) == []


def test_two_trackers_started_at_once_one_wins_the_other_is_told(tmp_path):
    for attempt in range(5):
        where = tmp_path / f"run{attempt}"
        start = threading.Barrier(2)
        outcomes: list = [None, None]

        def make(i: int, start=start, where=where, outcomes=outcomes) -> None:
            model = SmallCNN()
            start.wait()
            try:  # a tracker is used in the thread that made it (its SQLite connection)
                with Tracker(model, where, every=1, probe=_probe()) as tracker:
                    tracker.step(loss=1.0)
                    tracker.step(loss=0.5)
                outcomes[i] = "won"
            except Exception as exc:  # what the loser gets is what this test checks
                outcomes[i] = exc

        threads = [threading.Thread(target=make, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert outcomes.count("won") == 1, outcomes
        [lost] = [o for o in outcomes if o != "won"]
        assert isinstance(lost, PathlensError), repr(lost)
        assert "already holds a training run" in str(lost)
        with open_run(where) as run:
            assert list(run.snapshots()) == [0, 1]
            assert run.status()["status"] == "finished"


def test_a_run_killed_before_its_first_snapshot_is_interrupted_and_can_be_taken_over(tmp_path):
    where = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, str(WORKER), str(where), "--die-at-start"],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    with open_run(where) as run:
        status = run.status()
        assert status["status"] == "interrupted"
        assert "may record into this folder" in status["error"]
        assert len(run.snapshots()) == 0
    model = SmallCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with pytest.warns(PathlensWarning, match="records over it"):
        tracker = Tracker(model, where, every=2, probe=_probe())
    with tracker:
        for step in range(4):
            tracker.step(loss=train_step(model, opt, *_batch(step)))
    with open_run(where) as run:
        assert run.status()["status"] == "finished"
        assert list(run.snapshots()) == [0, 2]
        assert list(run.scalars("loss")[0]) == [0, 1, 2, 3]
    # a run with snapshots is never taken over
    with pytest.raises(PathlensError, match="already holds a training run"):
        Tracker(SmallCNN(), where, probe=_probe())


def _batch(seed: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(16, 1, 12, 12, generator=g), torch.randint(0, 3, (16,), generator=g)


def test_a_live_writer_before_its_first_snapshot_is_not_taken_over(tmp_path):
    """The same process (alive) holds the run: another tracker is refused, not let in."""
    where = tmp_path / "run"
    first = Tracker(SmallCNN(), where, probe=_probe())
    with pytest.raises(PathlensError, match="already holds a training run"):
        Tracker(SmallCNN(), where, probe=_probe())
    with open_run(where) as run:
        assert run.status()["status"] == "running"
    first.close()


def test_an_empty_database_is_refused_not_served_nor_written(tmp_path):
    where = tmp_path / "run"
    where.mkdir()
    (where / "run.sqlite").write_bytes(b"")
    for opening in (
        lambda: RunStore(where, create=False),
        lambda: open_run(where),
        lambda: create_app(where),
    ):
        with pytest.raises(PathlensError, match="is empty"):
            opening()
    assert (where / "run.sqlite").stat().st_size == 0
