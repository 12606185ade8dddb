"""Bad input on every command: exit code 2 and a message naming what was wrong, never an
internal error, never a long run, never files written where the user did not ask."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from pathlens.cli import app

runner = CliRunner()


def run(*args: str):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture(scope="module")
def images(tmp_path_factory, test_set):
    path = tmp_path_factory.mktemp("bad-input") / "boots.npz"
    np.savez(path, images=test_set.images[:4].numpy())
    return str(path)


def bad_commands(images: str, tmp: str) -> list[tuple[list[str], str]]:
    run_dir = f"{tmp}/run"
    extract = ["extract", "--images", images, "--out", run_dir, "--model", "demo:cnn"]
    adversarial = ["adversarial", "--source", "9", "--target", "7", "--out", run_dir]
    mechanism = ["mechanism", "--out", run_dir]
    return [
        ([*extract, "--n-control", "-5"], "--n-control must be at least 1"),
        ([*extract, "--n-control", "0"], "--n-control must be at least 1"),
        ([*extract, "--agreement", "nan"], "--agreement must be"),
        ([*extract, "--specificity", "2"], "--specificity must be"),
        ([*extract, "--method", "magic"], "Unknown method 'magic'"),
        ([*adversarial, "--n", "-5"], "--n must be at least 1"),
        ([*adversarial, "--n", "0"], "--n must be at least 1"),
        ([*adversarial, "--eps", "nan"], "--eps must be a number in (0, 1]"),
        ([*adversarial, "--eps", "inf"], "--eps must be a number in (0, 1]"),
        ([*adversarial, "--eps", "-1"], "--eps must be a number in (0, 1]"),
        ([*adversarial, "--eps", "50"], "--eps must be a number in (0, 1]"),
        ([*adversarial, "--attack", "magic"], "Unknown attack 'magic'"),
        ([*mechanism, "--n", "0"], "--n must be at least 1"),
        ([*mechanism, "--batch-size", "0"], "--batch-size must be at least 1"),
        ([*mechanism, "--k-max", "1"], "--k-max must be at least 2"),
        ([*mechanism, "--patches", "-1"], "--patches must be at least 1"),
        (["train-demo", "gan", "--steps", "0", "--out", run_dir], "--steps must be at least 1"),
        (["train-demo", "gan", "--every", "-2", "--out", run_dir], "--every must be at least 1"),
        (["serve", tmp, "--port", "99999"], "--port 99999 is not a port"),
        (["serve", tmp, "--port", "-1"], "--port -1 is not a port"),
        (["serve", tmp, "--port", "0"], "--port 0 is not a port"),
        (["demo", "--out", run_dir, "--port", "70000"], "--port 70000"),
        (["report", tmp, "--out", f"{tmp}/missing/deeper/x.html"], "does not exist"),
        (["report", tmp, "--out", tmp], "is a folder"),
        (["extract", "--images", f"{tmp}/scalar.npz", "--out", f"{tmp}/r0"], "0-d array"),
        (["sites", "--model", "a:b:c"], "'a:b:c'"),
        (["sites", "--model", "[bold]pkg:f"], "'[bold]pkg'"),
    ]


def test_bad_input_is_a_message_with_exit_code_2(images, tmp_path):
    np.savez(tmp_path / "scalar.npz", images=np.array(3.0))
    cases = bad_commands(images, str(tmp_path))
    for args, expected in cases:
        code, output = run(*args)
        assert code == 2, (args, output)
        assert expected in output, (args, output)
        assert "internal error" not in output and "Traceback" not in output, (args, output)
    assert not (tmp_path / "run").exists()  # refused before anything was written
    assert not (tmp_path / "missing").exists()
    assert len(cases) >= 25
