import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import pathlens
import zoo
from pathlens.cli import app

runner = CliRunner()
TESTS = str(Path(__file__).parents[1])


def run(*args):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.mark.slow
def test_version_and_help_through_the_installed_command():
    result = subprocess.run(
        [sys.executable, "-m", "pathlens", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"pathlens {pathlens.__version__}"
    help_text = subprocess.run(
        [sys.executable, "-m", "pathlens", "--help"], capture_output=True, text=True
    ).stdout
    for command in ("demo", "sites"):
        assert command in help_text


def test_sites_table_for_the_demo_resnet(demo_resnet):
    result = run("sites", "--model", "demo:resnet")
    assert result.exit_code == 0
    assert "demo:resnet: 13 sites" in result.stdout
    assert "layer2.0.relu1" in result.stdout and "branch" in result.stdout
    assert "graph from fx" in result.stdout
    assert "layer1.1.bn2 -> layer2.0.relu1" in result.stdout


def test_sites_of_a_user_model_with_weights(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(TESTS)
    weights = tmp_path / "w.pt"
    torch.save(zoo.build(zoo.ConcatNet).state_dict(), weights)
    result = run(
        "sites", "--model", "zoo:ConcatNet", "--weights", str(weights), "--input-shape", "1,8,8"
    )
    assert result.exit_code == 0, result.output
    assert "inception" in result.stdout and "concat" in result.stdout


def test_user_errors_are_messages_not_tracebacks(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    cases = [
        (["sites", "--model", "demo:vgg"], "Unknown demo model"),
        (["sites", "--model", "demo:cnn", "--weights", str(bad)], "not a state dict"),
        (["sites", "--model", "demo:cnn", "--input-shape", "3,32,32"], "example input"),
        (["sites", "--model", "demo:cnn", "--input-shape", "a,b"], "is not a shape"),
        (["sites", "--model", "demo:cnn", "--site", "stage9"], "no module named 'stage9'"),
    ]
    for args, expected in cases:
        result = run(*args)
        assert result.exit_code == 2, args
        assert expected in " ".join(result.output.split()), (args, result.output)
        assert "Traceback" not in result.output


def test_internal_errors_point_to_a_log_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv("PATHLENS_DEBUG", raising=False)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(pathlens, "load_model", broken)
    result = run("sites", "--model", "demo:cnn")
    assert result.exit_code == 1
    assert "internal error" in result.output and "Traceback" not in result.output
    assert "boom" in (tmp_path / "pathlens-error.log").read_text()


@pytest.mark.slow
def test_demo_runs_the_analysis_once_then_reuses_it(demo_resnet, tmp_path):
    from pathlens.store import RunStore

    env = dict(os.environ, COLUMNS="120")
    command = [sys.executable, "-m", "pathlens", "demo", "--no-serve", "--out", str(tmp_path)]
    first = subprocess.run(command, capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    accuracy = pathlens.demo.info("resnet")["test_accuracy"]
    assert f"demo:resnet test accuracy {accuracy:.4f}" in first.stdout
    text = " ".join(first.stdout.split())
    assert "ankle-boot -> sneaker: attack pgd succeeded" in text
    assert "divergence:" in text and "pathlens serve" in text
    with RunStore(tmp_path) as run:
        assert [a["name"] for a in run.analyses()] == ["ankle-boot->sneaker"]
        assert run.meta("model")["spec"] == "demo:resnet"
        assert run.meta("network")["sites"][0]["name"] == "stem.2"
    again = subprocess.run(command, capture_output=True, text=True, env=env)
    assert again.returncode == 0, again.stderr
    assert "already in" in again.stdout
    with RunStore(tmp_path) as run:
        assert len(run.analyses()) == 1
