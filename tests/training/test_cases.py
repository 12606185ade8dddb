"""The training case studies, short: the failing configurations are flagged where the healthy
ones are not, at the place and time the failure starts; and `pathlens train-demo`."""

import json

import pytest
from typer.testing import CliRunner

from pathlens.cli import app
from pathlens.store import RunStore
from pathlens.training import detect, explain, gan_case, vae_case, worst_neuron

pytestmark = pytest.mark.slow  # each test here takes seconds (models, attacks, servers)

runner = CliRunner()


@pytest.fixture(scope="module")
def gan_images(test_set):
    return test_set.images[:2048] * 2 - 1


def test_failing_gan_is_flagged_where_the_healthy_one_is_not(tmp_path, gan_images):
    # 80 steps: the first 40 are the discriminator's batch-norm statistics settling (the
    # probe runs in eval mode), which the detectors rightly call growth; judge the rest
    window = (10, None)
    healthy = gan_case(tmp_path / "ok", steps=80, every=4, images=gan_images)
    report = detect(tmp_path / "ok", window=window)
    assert report["first"] == {} and all(not s["flags"] for s in report["sites"].values())
    collapse = report["run"]["mode_collapse"]
    assert collapse is not None and not collapse["flag"]
    assert healthy["detect"]["window"] == {"start": 0, "stop": 20, "steps": [0, 76]}

    failing = gan_case(tmp_path / "bad", fail=True, steps=80, every=4, images=gan_images)
    report = detect(tmp_path / "bad", window=window)
    # the generator's first layer, updated 500 times too fast, loses channels
    assert report["summary"] and report["first"]["dead"]["site"] == "generator/main.2"
    assert len(report["sites"]["generator/main.2"]["neurons"]["dead"]) >= 3
    dead = failing["detect"]["first"]["dead"]  # over the whole run: from the start
    assert dead["site"] == "generator/main.2" and dead["step"] <= 40
    explained = explain(tmp_path / "bad", window)
    assert explained["worst"]["site"] == "generator/main.2"
    assert explained["worst"] == worst_neuron(report)
    # it reads the latent: the trace cannot go back, the next traceable site is explained
    assert explained["credit"]["stops"][0]["site"] == "generator/main.2"
    following = explained["next"]
    assert following["worst"]["site"] == "generator/main.5"
    assert {n["site"] for n in following["credit"]["nodes"]} == {
        "generator/main.5",
        "generator/main.2",
    }
    with RunStore(tmp_path / "bad", create=False) as store:
        saved = store.meta("case_study")
    assert saved["config"]["lr_g"] == 0.1 and saved["detect"]["first"]["dead"] == dead
    json.dumps(saved, allow_nan=False)  # what a web view reads: plain JSON


def test_failing_vae_explodes_after_the_learning_rate_jump_and_healthy_does_not(tmp_path):
    from pathlens.data import fashion_mnist

    images = fashion_mnist("test").images[:2048]
    healthy = vae_case(tmp_path / "ok", steps=240, every=4, images=images)
    assert healthy["detect"]["first"] == {} and healthy["worst"] is None
    failing = vae_case(tmp_path / "bad", fail=True, steps=240, every=4, images=images)
    report = failing["detect"]
    boom = report["first"]["exploding_activation"]
    assert boom["step"] >= 120  # not before the learning rate jumps (at steps // 2)
    assert failing["config"]["switch_step"] == 120
    worst = failing["worst"]
    assert worst["flag"] == "exploding_activation" and worst["step"] == boom["step"]
    trace = failing["credit"]
    assert trace["site"] == worst["site"] and len(trace["nodes"]) > 1


def test_train_demo_errors_are_messages(tmp_path):
    cases = [
        (["train-demo", "cnn"], "Unknown case study 'cnn'"),
        (["train-demo", "vae", "--steps", "0"], "--steps must be at least 1"),
        (["train-demo", "gan", "--every", "-2"], "--every must be at least 1"),
        (["train-demo", "vae", "--depth", "-1"], "--depth must be 0 or more"),
    ]
    file = tmp_path / "file"
    file.write_text("x")
    cases.append((["train-demo", "vae", "--out", str(file)], "is a file"))
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        text = " ".join(result.output.split())  # rich wraps long messages
        assert message in text and "Traceback" not in text


def test_train_demo_vae_prints_the_detectors_and_the_trace(tmp_path):
    out = tmp_path / "vae"
    args = ["train-demo", "vae", "--fail", "--steps", "240", "--every", "4", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "began: exploding_activation at" in text
    assert "credit trace of" in text and "share" in text
    assert f"see it with `pathlens serve {out}`" in text
    again = runner.invoke(app, args)  # the folder now holds a run
    assert again.exit_code == 2 and "already holds a training run" in " ".join(again.output.split())
