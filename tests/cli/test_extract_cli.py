import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from pathlens.attacks import load_analysis
from pathlens.cli import app
from pathlens.datapath import list_datapaths, load_datapath
from pathlens.store import RunStore

pytestmark = pytest.mark.slow  # each test here takes seconds (models, attacks, servers)

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def sneakers(test_set):
    index = torch.nonzero(test_set.labels == 7).flatten()[:6]
    return test_set.images[index], test_set.labels[index]


def test_extract_from_npz_writes_the_run(tmp_path, sneakers, demo_cnn):
    images, labels = sneakers
    npz = tmp_path / "sneakers.npz"
    np.savez(npz, images=(images[:, 0].numpy() * 255).astype(np.uint8), labels=labels.numpy())
    result = run("extract", "--model", "demo:cnn", "--images", npz, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "datapath per segment" in text and "stage2" in text
    assert "sufficiency 1.00" in text and "on 64 control images" in text
    with RunStore(tmp_path / "run", create=False) as store:
        [summary] = list_datapaths(store)
        datapath = load_datapath(store, summary["id"])
        stored, stored_labels, _ = store.load_image_set(summary["image_set"])
    assert datapath.method == "gates" and datapath.fidelity.sufficiency == 1.0
    assert torch.allclose(stored, images, atol=1 / 255)
    assert stored_labels == labels.tolist()
    assert f"kept {datapath.kept_fraction:.1%}" in text


def test_extract_from_png_folder_with_a_named_target(tmp_path, sneakers, demo_cnn):
    images, _ = sneakers
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, image in enumerate(images[:3]):
        Image.fromarray((image[0].numpy() * 255).astype(np.uint8)).save(folder / f"{i}.png")
    result = run(
        "extract", "--model", "demo:cnn", "--images", folder, "--out", tmp_path / "run",
        "--method", "activation", "--target", "sneaker",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with RunStore(tmp_path / "run", create=False) as store:
        datapath = load_datapath(store, list_datapaths(store)[0]["id"])
    assert datapath.method == "activation" and datapath.targets == [7, 7, 7]


def test_extract_bad_input_is_a_message(tmp_path, demo_cnn):
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, images=np.zeros((2, 3, 32, 32), np.float32))
    scaled = tmp_path / "scaled.npz"
    np.savez(scaled, images=np.full((2, 28, 28), 4.0, np.float32))
    empty = tmp_path / "empty"
    empty.mkdir()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    cases = [
        (["--images", wrong], "have shape (2, 3, 32, 32)"),
        (["--images", scaled], "expects pixels in [0, 1]"),
        (["--images", empty], "holds no PNG or JPEG"),
        (["--images", text], "not an .npz file"),
        (["--images", tmp_path / "nope.npz"], "does not exist"),
    ]
    for args, message in cases:
        result = run("extract", "--model", "demo:cnn", "--out", tmp_path / "r", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
        assert "Traceback" not in result.output
    good = tmp_path / "good.npz"
    np.savez(good, images=np.zeros((2, 28, 28), np.float32))
    result = run(
        "extract", "--model", "demo:cnn", "--out", tmp_path / "r", "--images", good,
        "--method", "magic",
    )  # fmt: skip
    assert result.exit_code == 2 and "Unknown method 'magic'" in result.output
    result = run(
        "extract", "--model", "demo:cnn", "--out", tmp_path / "r", "--images", good,
        "--target", "boots",
    )  # fmt: skip
    assert result.exit_code == 2 and "Unknown class 'boots'" in result.output


def test_adversarial_command(tmp_path, demo_resnet):
    result = run(
        "adversarial", "--source", "ankle-boot", "--target", "sneaker", "--n", 6,
        "--out", tmp_path / "run",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "ankle-boot -> sneaker: attack pgd succeeded" in text
    assert "divergence:" in text and "channels carrying the error" in text
    with RunStore(tmp_path / "run", create=False) as store:
        [summary] = store.analyses()
        analysis = load_analysis(store, summary["id"])
    assert analysis.sets["A"]["size"] == 6
    assert f"divergence: {analysis.divergence}" in text
    bad = run("adversarial", "--source", "boot", "--target", "sneaker", "--out", tmp_path / "r")
    assert bad.exit_code == 2 and "Unknown class 'boot'" in bad.output
    same = run("adversarial", "--source", "7", "--target", "sneaker", "--out", tmp_path / "r")
    assert same.exit_code == 2 and "are the same" in same.output


def test_adversarial_command_with_imported_images(tmp_path, demo_resnet, test_set):
    from pathlens import Network
    from pathlens.attacks import attack

    net = Network(demo_resnet, test_set.images[:1])
    _, top1 = net.predict(test_set.images)
    boots = torch.nonzero((test_set.labels == 9) & (top1 == 9)).flatten()[:8]
    made = attack(net, test_set.images[boots], test_set.labels[boots], "pgd", 0.1, 7)
    npz = tmp_path / "adv.npz"
    np.savez(npz, images=made.images.numpy())
    result = run(
        "adversarial", "--source", "ankle-boot", "--target", "sneaker", "--n", 6,
        "--adversarial", npz, "--out", tmp_path / "run",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "attack imported succeeded" in " ".join(result.output.split())
    with RunStore(tmp_path / "run", create=False) as store:
        analysis = load_analysis(store, store.analyses()[0]["id"])
    assert analysis.attack["method"] == "imported"
    assert torch.allclose(analysis.set_images["A"], made.images[made.success][:6])


def test_a_bad_run_folder_fails_before_any_work(tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    for command in (
        ["extract", "--images", tmp_path / "missing.npz"],
        ["adversarial", "--source", "0", "--target", "1"],
    ):
        result = run(*command, "--out", not_a_folder)
        assert result.exit_code == 2
        assert "is a file, not a run folder" in " ".join(result.output.split())
