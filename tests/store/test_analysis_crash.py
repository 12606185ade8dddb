"""Saving an adversarial analysis is one transaction: a process killed with SIGKILL at any
moment leaves each analysis whole (its image sets, datapaths and arrays) or absent, and no
row that belongs to no analysis.

A real subprocess (analysis_worker.py) saves a real analysis of the demo CNN in a loop and
is killed after a random delay, several times (seeded).
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pathlens.attacks import explain_adversarial, load_analysis, save_analysis
from pathlens.datapath import list_datapaths, load_datapath
from pathlens.store import RunStore

WORKER = Path(__file__).with_name("analysis_worker.py")


@pytest.fixture(scope="module")
def source_run(tmp_path_factory, cnn_net, test_set):
    """A run holding one small analysis (ankle boot -> sneaker) to copy; its id and the
    names of its neuron arrays. Ranked by activation (no gate optimisation) to be quick:
    the store sees the same kinds of records whatever the method."""
    analysis = explain_adversarial(
        cnn_net, test_set.images, test_set.labels, 9, 7, n=4, patch_images=32, n_maximize=1,
        method="activation",
    )  # fmt: skip
    path = tmp_path_factory.mktemp("source") / "run"
    with RunStore(path) as run:
        analysis_id = save_analysis(run, analysis, name="source")
    return path, analysis_id, set(analysis.neurons)


def start_worker(source: Path, analysis_id: int, target: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(source), str(analysis_id), str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_saves(worker: subprocess.Popen, count: int, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = worker.stdout.readline()
        if not line:
            raise AssertionError(f"the worker exited early: {worker.stderr.read()}")
        if int(line) >= count:
            return
    worker.kill()
    raise AssertionError("timed out waiting for the worker's saves")


def check_whole(run_dir: Path, neuron_names: set[str], at_least: int) -> int:
    """Every analysis in the run is complete, and every image set, datapath and analysis
    array belongs to one; the number of analyses."""
    with RunStore(run_dir, create=False) as run:
        rows = run.analyses()
        assert len(rows) >= at_least  # every save reported done is there
        linked_sets, linked_datapaths = set(), set()
        for row in rows:
            analysis = load_analysis(run, row["id"])
            assert set(analysis.links) == {"A", "B", "C"}
            for key, link in analysis.links.items():
                images, _, meta = run.load_image_set(link["image_set"])
                assert len(images) == analysis.sets[key]["size"] and meta["set"] == key
                assert load_datapath(run, link["datapath"]) == analysis.datapaths[key]
                linked_sets.add(link["image_set"])
                linked_datapaths.add(link["datapath"])
            assert set(analysis.neurons) == neuron_names
        assert {s["id"] for s in run.image_sets()} == linked_sets
        datapaths = list_datapaths(run)
        assert {d["id"] for d in datapaths} == linked_datapaths
        assert all(d["image_set"] in linked_sets for d in datapaths)
        owners = {int(name.split("/")[1]) for name in run.array_names("analysis/")}
        assert owners <= {row["id"] for row in rows}
        return len(rows)


def test_kill_9_while_saving_analyses_leaves_each_whole_or_absent(tmp_path, source_run):
    source, analysis_id, neuron_names = source_run
    rng = random.Random(20261201)
    for trial in range(4):
        target = tmp_path / f"run{trial}"
        worker = start_worker(source, analysis_id, target)
        try:
            saved = rng.randint(1, 3)
            wait_for_saves(worker, saved)
            time.sleep(rng.uniform(0.0, 0.25))  # lands anywhere in a later save
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
        check_whole(target, neuron_names, at_least=saved)
