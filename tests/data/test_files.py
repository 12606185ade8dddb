"""Image files a user gives: every malformed one is a PathlensError saying what is wrong."""

import numpy as np
import pytest

from pathlens.data import load_images
from pathlens.errors import PathlensError

SHAPE = (1, 28, 28)


def write(tmp_path, **arrays):
    path = tmp_path / "set.npz"
    np.savez(path, **arrays)
    return path


def test_a_good_file_loads_images_and_labels(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    x, y = load_images(write(tmp_path, images=images, labels=np.arange(5)), SHAPE)
    assert x.shape == (5, 1, 28, 28) and float(x.max()) <= 1.0
    assert np.allclose(x[:, 0].numpy() * 255, images)  # exact for uint8 / 255 round trips
    assert y.tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("arrays", "words"),
    [
        ({"images": np.array(3.0)}, "0-d array"),
        ({"images": np.zeros(28)}, "1-d array"),
        ({"images": np.zeros((0, 28, 28))}, "no images"),
        ({"images": np.zeros((2, 28, 28)), "labels": np.array([0.5, 1])}, "whole class"),
        ({"images": np.zeros((2, 28, 28)), "labels": np.array([-1, 1])}, "negative"),
        ({"images": np.zeros((2, 28, 28)), "labels": np.array([1])}, "one label per image"),
        ({"images": np.full((2, 28, 28), np.nan)}, "NaN"),
        ({"images": np.full((2, 28, 28), 2.0)}, "[0, 1]"),
        ({"images": np.zeros((2, 3, 28, 28))}, "shape"),
        ({"a": np.zeros((2, 28, 28)), "b": np.zeros(2)}, "name the images"),
    ],
)
def test_malformed_files_are_clear_errors(tmp_path, arrays, words):
    with pytest.raises(PathlensError, match=None) as caught:
        load_images(write(tmp_path, **arrays), SHAPE)
    assert words in str(caught.value)


def test_a_file_that_is_not_an_npz_is_a_clear_error(tmp_path):
    bad = tmp_path / "set.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(PathlensError, match="cannot be read"):
        load_images(bad, SHAPE)
