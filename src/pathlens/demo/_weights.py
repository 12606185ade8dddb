"""The shipped demo weights: located, checked against their recorded sha256, loaded safely."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import torch
from torch import nn

from pathlens.demo._models import ARCHITECTURES
from pathlens.errors import PathlensError

MODELS = tuple(ARCHITECTURES)
WEIGHTS_DIR = Path(__file__).parent / "weights"


def _check_name(name: str) -> None:
    if name not in ARCHITECTURES:
        raise PathlensError(
            f"Unknown demo model {name!r}. The demo models are: {', '.join(MODELS)}."
        )


def _damaged(name: str, what: str) -> PathlensError:
    return PathlensError(
        f"The shipped weights of demo model {name!r} are {what} (in {WEIGHTS_DIR}). "
        "Reinstall pathlens (pip install --force-reinstall pathlens), or from a checkout "
        "restore them with `git checkout src/pathlens/demo/weights`."
    )


def weights_path(name: str) -> Path:
    """The shipped state dict of demo model `name` (a file inside the installed package)."""
    _check_name(name)
    return WEIGHTS_DIR / f"{name}.pt"


def info(name: str) -> dict:
    """Facts of the shipped demo model `name`: test accuracy, torch version, recipe, sha256."""
    path = weights_path(name).with_suffix(".json")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise _damaged(name, f"missing their facts file ({type(exc).__name__})") from exc


def load(name: str = "resnet", *, progress: bool = True) -> nn.Module:
    """Demo model `name` ("cnn" or "resnet"), trained, in eval mode.

    Loads the weights shipped in the package with ``weights_only=True`` after checking their
    sha256; nothing is trained. `progress` is accepted for callers of the time when the first
    use trained; loading is instant.
    """
    del progress
    facts = info(name)
    try:
        data = weights_path(name).read_bytes()
    except OSError as exc:
        raise _damaged(name, "missing") from exc
    if hashlib.sha256(data).hexdigest() != facts.get("sha256"):
        raise _damaged(name, "damaged (their sha256 differs from the recorded one)")
    model = ARCHITECTURES[name]()
    model.load_state_dict(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
    return model.eval()


def class_images(net, dataset, cls: int, n: int) -> torch.Tensor:
    """Up to `n` images of class `cls` from `dataset` that `net` (a Network) classifies right."""
    index = torch.nonzero(dataset.labels == cls).flatten()
    _, top1 = net.predict(dataset.images[index])
    return dataset.images[index[top1 == cls][:n]]
