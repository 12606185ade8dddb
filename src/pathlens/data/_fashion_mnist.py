from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pathlens.errors import PathlensError

CLASS_NAMES = (
    "t-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle-boot",
)

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
_PREFIX = {"train": "train", "test": "t10k"}
_SIZES = {"train": 60_000, "test": 10_000}


@dataclass(frozen=True)
class Dataset:
    """Images as float32 in [0, 1], shape [N, 1, 28, 28]; labels int64 [N]; class names."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    source: Path

    def __len__(self) -> int:
        return len(self.labels)


def class_index(name_or_index: str | int, classes: tuple[str, ...] = CLASS_NAMES) -> int:
    """A class given by index ("7", 7) or by name ("sneaker", "Ankle boot") -> its index."""
    if isinstance(name_or_index, int) or str(name_or_index).strip().isdigit():
        index = int(name_or_index)
        if not 0 <= index < len(classes):
            raise PathlensError(
                f"Class index {index} is out of range: there are {len(classes)} classes "
                f"(0 to {len(classes) - 1})."
            )
        return index

    def norm(s: str) -> str:
        return "".join(ch for ch in s.lower() if ch.isalnum())

    wanted = norm(str(name_or_index))
    for i, name in enumerate(classes):
        if norm(name) == wanted or norm(name.split("/")[0]) == wanted:
            return i
    raise PathlensError(
        f"Unknown class {name_or_index!r}. Known classes: "
        + ", ".join(f"{i}={n}" for i, n in enumerate(classes))
        + "."
    )


def _candidate_dirs() -> list[Path]:
    dirs = []
    env = os.environ.get("PATHLENS_DATA")
    if env:
        root = Path(env).expanduser()
        # A folder holding the IDX files directly, or torchvision's layout below it.
        dirs += [root, root / "FashionMNIST" / "raw", root / "fashion-mnist"]
    dirs.append(DEBIAN_DIR)
    home = Path.home()
    dirs += [home / ".torch" / "datasets" / "FashionMNIST" / "raw", Path("data/FashionMNIST/raw")]
    return dirs


def _find(prefix: str, kind: str, directory: Path) -> Path | None:
    for suffix in (".gz", ""):
        path = directory / f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte{suffix}"
        if path.is_file():
            return path
    return None


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
        zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
        if zero != 0 or dtype_code != 0x08:
            raise ValueError("not an unsigned-byte IDX file")
        shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
        array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
        return array.reshape(shape)
    except (OSError, ValueError, struct.error, EOFError) as exc:
        raise PathlensError(
            f"Could not read the IDX file {path}: {exc}. The file may be truncated; reinstall "
            "the data (apt-get install --reinstall dataset-fashion-mnist) or point PATHLENS_DATA "
            "at a good copy."
        ) from exc


def fashion_mnist(split: str = "train") -> Dataset:
    """Fashion-MNIST as tensors: images float32 [N, 1, 28, 28] in [0, 1], labels int64 [N].

    Looks, in order, in ``$PATHLENS_DATA`` (the IDX files, or torchvision's
    ``FashionMNIST/raw`` layout below it), in Debian's ``dataset-fashion-mnist`` package
    (``/usr/share/datasets/fashion-mnist``) and in torchvision's usual folders.
    """
    if split not in _PREFIX:
        raise PathlensError(f"Unknown split {split!r}: use 'train' or 'test'.")
    looked = []
    for directory in _candidate_dirs():
        images_path = _find(_PREFIX[split], "images", directory)
        labels_path = _find(_PREFIX[split], "labels", directory)
        if images_path and labels_path:
            images = _read_idx(images_path)
            labels = _read_idx(labels_path)
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise PathlensError(
                    f"The Fashion-MNIST files in {directory} do not match: images {images.shape}, "
                    f"labels {labels.shape}. Reinstall the data set."
                )
            tensor = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
            return Dataset(
                images=tensor,
                labels=torch.from_numpy(labels.astype(np.int64)),
                classes=CLASS_NAMES,
                source=directory,
            )
        looked.append(str(directory))
    raise PathlensError(
        f"Fashion-MNIST ({split}) was not found. Looked in: {', '.join(looked)}. "
        "Install it with `sudo apt-get install dataset-fashion-mnist` (the README's setup command "
        "does this), or set PATHLENS_DATA to a folder holding "
        f"{_PREFIX[split]}-images-idx3-ubyte.gz and {_PREFIX[split]}-labels-idx1-ubyte.gz."
    )


def sample_images(
    dataset: Dataset, n: int, *, exclude: list[int] | None = None, seed: int = 0
) -> torch.Tensor:
    """`n` images drawn at random (seeded) from `dataset`, skipping the classes in `exclude`.

    Used for control images: images of other classes than the explained set.
    """
    keep = ~torch.isin(dataset.labels, torch.as_tensor(exclude or [], dtype=torch.long))
    pool = torch.nonzero(keep).flatten()
    generator = torch.Generator().manual_seed(seed)
    return dataset.images[pool[torch.randperm(len(pool), generator=generator)[:n]]]
