"""Each workflow writes a readable run folder and reports monotone progress ending at 1.0;
a bad request fails when it is made, naming its field."""

import dataclasses

import numpy as np
import pytest

from pathlens import PathlensError
from pathlens.attacks import load_analysis
from pathlens.datapath import list_datapaths, load_datapath
from pathlens.mechanism import list_mechanisms, load_mechanism
from pathlens.store import RunStore
from pathlens.training import open_run
from pathlens.workflows import (
    EXPLAIN_STAGES,
    ExplainRequest,
    ExtractRequest,
    MechanismRequest,
    ProgressEvent,
    RequestError,
    SubsetRequest,
    TrainCaseRequest,
    datapath_subset,
    explain,
    extract,
    mechanism,
    train_case,
)


def check_progress(events: list[ProgressEvent]) -> None:
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions), fractions
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert events[-1].stage == "done" and events[-1].fraction == 1.0
    assert all(isinstance(e.message, str) and e.message for e in events)


@pytest.fixture(scope="module")
def explained(tmp_path_factory, demo_cnn):
    """One small analysis of the demo CNN, made by the workflow, and its events."""
    out = tmp_path_factory.mktemp("wf") / "run"
    events: list[ProgressEvent] = []
    request = ExplainRequest(source="ankle-boot", target="sneaker", out=out, model="demo:cnn",
                             n=4, patch_images=32, n_maximize=0)  # fmt: skip
    return explain(request, progress=events.append), events


def test_explain_writes_the_analysis_and_the_model(explained):
    result, events = explained
    check_progress(events)
    order = [s.key for s in EXPLAIN_STAGES]
    seen = [f"datapath {e.detail['set']}" if "set" in e.detail else e.stage for e in events]
    stages = [k for k in dict.fromkeys(seen) if k in order]
    assert stages == order, stages  # every declared stage, in the declared order
    steps = [e for e in events if "gates" in e.detail]
    assert steps and all({"step", "max_steps", "kept_fraction"} <= set(e.detail) for e in steps)
    with RunStore(result.run, create=False) as run:
        again = load_analysis(run, result.analysis_id)
        assert run.meta("model")["spec"] == "demo:cnn"
        assert run.meta("network")["sites"]
        [row] = run.analyses()
    assert row["name"] == "ankle-boot->sneaker"  # class names, not indices
    assert again.datapaths == result.analysis.datapaths
    assert (again.source, again.target) == (9, 7)


def test_datapath_subset_saves_a_datapath_of_the_chosen_images(explained):
    result, _ = explained
    events: list[ProgressEvent] = []
    request = SubsetRequest(run=result.run, analysis=result.analysis_id, set="A", images=[0, 2])
    subset = datapath_subset(request, progress=events.append)
    check_progress(events)
    assert any(e.detail.get("set") == "A" for e in events)
    with RunStore(result.run, create=False) as run:
        assert load_datapath(run, subset.datapath_id) == subset.datapath
        images, _, meta = run.load_image_set(subset.image_set_id)
        links = load_analysis(run, result.analysis_id).links
        stored = run.load_image_set(links["A"]["image_set"])[0]
        assert {d["id"] for d in list_datapaths(run)} >= {subset.datapath_id}
    assert meta["indices"] == [0, 2] and images.equal(stored[[0, 2]])
    with pytest.raises(PathlensError, match="positions in set A"):
        datapath_subset(dataclasses.replace(request, images=(0, 99)))


def test_extract_writes_the_datapath_and_its_images(tmp_path, test_set):
    sandals = test_set.images[test_set.labels == 5][:6]
    npz = tmp_path / "sandals.npz"
    np.savez(npz, images=sandals.numpy())
    events: list[ProgressEvent] = []
    request = ExtractRequest(images=npz, out=tmp_path / "run", model="demo:cnn",
                             method="activation", n_control=16)  # fmt: skip
    result = extract(request, progress=events.append)
    check_progress(events)
    assert [e.stage for e in events][:2] == ["loading", "scoring"]
    with RunStore(tmp_path / "run", create=False) as run:
        [summary] = list_datapaths(run)
        assert summary["name"] == "sandals" and summary["image_set"] == result.image_set_id
        assert load_datapath(run, result.datapath_id) == result.datapath
        assert run.load_image_set(result.image_set_id)[0].equal(sandals)
        assert run.meta("model")["spec"] == "demo:cnn"
    assert result.datapath.method == "activation"


def test_mechanism_writes_a_loadable_mechanism(tmp_path):
    events: list[ProgressEvent] = []
    request = MechanismRequest(out=tmp_path / "run", model="demo:cnn", n=64, k_max=3,
                               patches=2, contribution_images=16, name="small")  # fmt: skip
    result = mechanism(request, progress=events.append)
    check_progress(events)
    assert {"pass", "clustering", "contributions"} <= {e.stage for e in events}
    assert "maximization" not in {e.stage for e in events}  # not asked for
    with RunStore(tmp_path / "run", create=False) as run:
        [row] = list_mechanisms(run)
        loaded = load_mechanism(run, result.mechanism_id)
    assert row["name"] == "small" and row["n_images"] == 64 == result.n_images
    assert [s.name for s in loaded.sites] == [s.name for s in result.mechanism.sites]


def test_train_case_records_a_readable_training_run(tmp_path):
    events: list[ProgressEvent] = []
    request = TrainCaseRequest(case="vae", out=tmp_path / "vae", steps=12, every=4)
    result = train_case(request, progress=events.append)
    check_progress(events)
    steps = [e.detail["step"] for e in events if "step" in e.detail]
    assert steps == list(range(1, 13))
    assert result.steps == 12 and "detect" in result.report
    with open_run(tmp_path / "vae") as run:
        assert len(run.snapshots()) >= 3


@pytest.mark.parametrize(
    ("make", "field", "words"),
    [
        (lambda p: ExtractRequest(images=p / "x.npz", out=p / "r"), "images", "does not exist"),
        (lambda p: ExtractRequest(images=p, out=p / "r", method="magic"), "method", "magic"),
        (lambda p: ExplainRequest(source=9, target=7, out=p / "r", n=0), "n", "at least 1"),
        (lambda p: ExplainRequest(source=9, target=7, out=p / "r", attack="x"), "attack", "pgd"),
        (lambda p: ExplainRequest(source=9, target=7, out=p / "r", eps=2), "eps", "(0, 1]"),
        (lambda p: MechanismRequest(out=p / "r", n=0), "n", "at least 1"),
        (lambda p: MechanismRequest(out=p / "r", images=p / "no.npz"), "images", "no.npz"),
        (lambda p: TrainCaseRequest(case="cnn"), "case", "gan, vae"),
        (lambda p: SubsetRequest(run=p, analysis=1, set="D", images=(0,)), "set", "A, B, C"),
    ],
)
def test_a_bad_request_fails_when_made_naming_its_field(tmp_path, make, field, words):
    with pytest.raises(RequestError) as caught:
        make(tmp_path)
    assert caught.value.field == field
    assert field in str(caught.value) and words in str(caught.value)
    assert isinstance(caught.value, PathlensError)
    assert not (tmp_path / "r").exists()  # nothing was written


def test_requests_and_events_are_frozen(tmp_path):
    request = MechanismRequest(out=tmp_path / "r")
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.n = 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        ProgressEvent("attack", 0.1, "attacking").fraction = 0.2
