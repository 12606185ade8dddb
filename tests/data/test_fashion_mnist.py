import gzip
import shutil

import pytest
import torch

from pathlens.data import CLASS_NAMES, class_index, fashion_mnist
from pathlens.data import _fashion_mnist as fm
from pathlens.errors import PathlensError


def test_counts_shapes_and_labels(test_set):
    train = fashion_mnist("train")
    assert train.images.shape == (60_000, 1, 28, 28)
    assert test_set.images.shape == (10_000, 1, 28, 28)
    assert train.images.dtype == torch.float32
    assert float(test_set.images.min()) >= 0.0 and float(test_set.images.max()) <= 1.0
    # Fashion-MNIST is balanced: 6000 / 1000 images of each of the 10 classes.
    assert torch.bincount(train.labels).tolist() == [6000] * 10
    assert torch.bincount(test_set.labels).tolist() == [1000] * 10
    assert train.labels[:5].tolist() == [9, 0, 0, 3, 0]  # first labels of the official file
    assert test_set.classes == CLASS_NAMES and CLASS_NAMES[9] == "ankle-boot"


def _copy_split(src, dst, prefix, compress):
    dst.mkdir(parents=True)
    for kind, dims in (("images", 3), ("labels", 1)):
        name = f"{prefix}-{kind}-idx{dims}-ubyte"
        if compress:
            shutil.copy(src / f"{name}.gz", dst / f"{name}.gz")
        else:
            with gzip.open(src / f"{name}.gz") as f, open(dst / name, "wb") as g:
                g.write(f.read())


def test_pathlens_data_with_torchvision_layout(tmp_path, monkeypatch, test_set):
    raw = tmp_path / "FashionMNIST" / "raw"
    _copy_split(test_set.source, raw, "t10k", compress=False)
    monkeypatch.setenv("PATHLENS_DATA", str(tmp_path))
    loaded = fashion_mnist("test")
    assert loaded.source == raw
    assert torch.equal(loaded.images, test_set.images)
    assert torch.equal(loaded.labels, test_set.labels)


def test_missing_data_lists_every_place(tmp_path, monkeypatch):
    monkeypatch.setenv("PATHLENS_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PathlensError) as info:
        fashion_mnist("test")
    message = str(info.value)
    assert str(tmp_path / "nowhere") in message
    assert str(tmp_path / "no-debian") in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_truncated_file_is_a_clear_error(tmp_path, monkeypatch, test_set):
    _copy_split(test_set.source, tmp_path / "d", "t10k", compress=True)
    images = tmp_path / "d" / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:1000])
    monkeypatch.setenv("PATHLENS_DATA", str(tmp_path / "d"))
    with pytest.raises(PathlensError, match="Could not read the IDX file"):
        fashion_mnist("test")


def test_unknown_split():
    with pytest.raises(PathlensError, match="Unknown split"):
        fashion_mnist("validation")


def test_class_index_by_name_and_number():
    assert class_index("ankle-boot") == 9
    assert class_index("Ankle boot") == 9
    assert class_index("T-shirt") == 0
    assert class_index("7") == 7
    assert class_index(3) == 3
    with pytest.raises(PathlensError, match="Known classes"):
        class_index("boots")
    with pytest.raises(PathlensError, match="out of range"):
        class_index(10)
