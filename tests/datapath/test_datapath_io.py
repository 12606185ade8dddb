import json
import sqlite3

import pytest
import torch

from conftest import class_set, control_for
from pathlens import Datapath, PathlensError, extract_datapath
from pathlens.datapath import SCHEMA_VERSION, list_datapaths, load_datapath, save_datapath
from pathlens.store import RunStore

pytestmark = pytest.mark.slow  # each test here takes seconds (models, attacks, servers)


@pytest.fixture(scope="module")
def datapath(cnn_net, test_set):
    images = class_set(cnn_net, test_set, 5, 4)
    return extract_datapath(cnn_net, images, method="gradxact", control=control_for(test_set, 5))


def test_json_round_trip(datapath):
    text = datapath.to_json()
    data = json.loads(text)
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["kept_fraction"] == pytest.approx(datapath.kept_fraction)
    again = Datapath.from_json(text)
    assert again == datapath
    assert again.kept_fraction == datapath.kept_fraction
    data["schema_version"] = 99
    with pytest.raises(PathlensError, match="schema version 99"):
        Datapath.from_dict(data)


def test_store_round_trip(tmp_path, datapath, test_set):
    images = test_set.images[:4]
    with RunStore(tmp_path / "run") as run:
        set_id = run.save_image_set("sandals", images, [5, 5, 5, 5], {"note": "x"})
        dp_id = save_datapath(run, datapath, name="sandals", image_set=set_id)
    with RunStore(tmp_path / "run", create=False) as run:  # a second process would see this
        assert load_datapath(run, dp_id) == datapath
        loaded, labels, meta = run.load_image_set(set_id)
        assert torch.equal(loaded, images) and labels == [5, 5, 5, 5] and meta == {"note": "x"}
        [summary] = list_datapaths(run)
        assert summary["method"] == "gradxact" and summary["image_set"] == set_id
        with pytest.raises(PathlensError, match="no datapath 7"):
            load_datapath(run, 7)
    db = sqlite3.connect(tmp_path / "run" / "run.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_errors(tmp_path):
    with pytest.raises(PathlensError, match="not a pathlens run folder"):
        RunStore(tmp_path / "missing", create=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(PathlensError, match="is a file"):
        RunStore(tmp_path / "file")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "run.sqlite").write_bytes(b"garbage" * 1000)
    with pytest.raises(PathlensError, match="cannot be read as a pathlens run database"):
        RunStore(bad)
    newer = tmp_path / "newer"
    RunStore(newer).close()
    db = sqlite3.connect(newer / "run.sqlite")
    db.execute("UPDATE schema_version SET version = 42")
    db.commit()
    db.close()
    with pytest.raises(PathlensError, match="newer pathlens"):
        RunStore(newer)


def test_bad_input(cnn_net, test_set):
    good = test_set.images[:2]
    nan = good.clone()
    nan[0, 0, 3, 3] = float("nan")
    cases = [
        (test_set.images[:0], {}, "empty"),
        (torch.rand(2, 1, 32, 32), {}, r"takes \[N, 1, 28, 28\]"),
        (torch.rand(2, 3, 28, 28), {}, r"takes \[N, 1, 28, 28\]"),
        (nan, {}, "NaN or infinite"),
        (good, {"method": "saliency"}, "Unknown method 'saliency'"),
        (good, {"target": [1, 2, 3]}, "3 entries for 2 images"),
        (good, {"target": 12}, "must be in 0..9"),
        (good, {"control": torch.rand(2, 1, 5, 5)}, "control images have shape"),
        (good, {"agreement": 0.0}, "agreement must be in"),
    ]
    for images, kwargs, message in cases:
        with pytest.raises(PathlensError, match=message):
            extract_datapath(cnn_net, images, **kwargs)


def test_a_killed_writer_leaves_a_readable_run(tmp_path, datapath):
    """kill -9 a process in the middle of writing: every completed write is there."""
    import os
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "dp.json").write_text(datapath.to_json())
    script = f"""
import torch
from pathlens import Datapath
from pathlens.datapath import save_datapath
from pathlens.store import RunStore
dp = Datapath.from_json(open({str(tmp_path / "dp.json")!r}).read())
with RunStore({str(tmp_path / "run")!r}) as run:
    for i in range(100000):
        run.save_image_set(f"set {{i}}", torch.rand(64, 1, 28, 28))
        save_datapath(run, dp, name=f"dp {{i}}")
        print(i, flush=True)
"""
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    lines = 0
    deadline = time.time() + 60
    while lines < 20 and time.time() < deadline:
        if writer.stdout.readline():
            lines += 1
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert lines == 20, "the writer never got going"
    with RunStore(tmp_path / "run", create=False) as run:
        summaries = list_datapaths(run)
        assert len(summaries) >= 20  # every write reported done is there
        for summary in summaries:
            assert load_datapath(run, summary["id"]) == datapath
        for image_set in run.image_sets():
            images, _, _ = run.load_image_set(image_set["id"])
            assert images.shape == (64, 1, 28, 28)
