from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from pathlens._cache import atomic_write_bytes, cache_dir
from pathlens._progress import progress_bar
from pathlens.data import fashion_mnist
from pathlens.demo._models import ARCHITECTURES
from pathlens.errors import PathlensError

# Bump when an architecture or its training recipe changes: old caches are then retrained.
RECIPE_VERSION = 1
MODELS = tuple(ARCHITECTURES)
_RECIPE = {"epochs": 3, "batch_size": 128, "lr": 4e-3, "weight_decay": 1e-4, "seed": 0}


def _check_name(name: str) -> None:
    if name not in ARCHITECTURES:
        raise PathlensError(
            f"Unknown demo model {name!r}. The demo models are: {', '.join(MODELS)}."
        )


def weights_path(name: str) -> Path:
    """Where the trained state dict of demo model `name` is cached."""
    _check_name(name)
    return cache_dir() / f"demo-{name}-v{RECIPE_VERSION}.pt"


def _info_path(name: str) -> Path:
    return weights_path(name).with_suffix(".json")


def info(name: str) -> dict:
    """Training facts of a cached demo model (test accuracy, seconds, recipe); trains if needed."""
    path = _info_path(name)
    if not path.is_file() or not weights_path(name).is_file():
        load(name)
    return json.loads(path.read_text())


def load(name: str = "resnet", *, progress: bool = True) -> nn.Module:
    """Demo model `name` ("cnn" or "resnet"), trained, in eval mode.

    Trained on first use (seeded; a progress bar on stderr), then cached as a state dict in
    the cache folder (``$PATHLENS_CACHE`` overrides) and loaded with ``weights_only=True``.
    """
    _check_name(name)
    model = ARCHITECTURES[name]()
    path = weights_path(name)
    if path.is_file() and _info_path(name).is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
            return model.eval()
        except Exception:  # a damaged cache file is retrained, not trusted
            path.unlink(missing_ok=True)
    facts = train(model, name, progress=progress)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    atomic_write_bytes(path, buffer.getvalue())
    atomic_write_bytes(_info_path(name), json.dumps(facts, indent=2).encode())
    return model.eval()


def train(model: nn.Module, name: str, *, progress: bool = True) -> dict:
    """Train `model` on Fashion-MNIST with the demo recipe; returns facts including accuracy."""
    train_set = fashion_mnist("train")
    test_set = fashion_mnist("test")
    r = _RECIPE
    generator = torch.Generator().manual_seed(r["seed"])
    torch.manual_seed(r["seed"])
    steps_per_epoch = math.ceil(len(train_set) / r["batch_size"])
    total = r["epochs"] * steps_per_epoch
    optimizer = torch.optim.AdamW(model.parameters(), r["lr"], weight_decay=r["weight_decay"])
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, r["lr"], total_steps=total)
    start = time.perf_counter()
    with progress_bar(progress) as bar:
        task = bar.add_task(f"training demo {name}", total=total, status="")
        for epoch in range(r["epochs"]):
            model.train()
            order = torch.randperm(len(train_set), generator=generator)
            for step in range(steps_per_epoch):
                index = order[step * r["batch_size"] : (step + 1) * r["batch_size"]]
                loss = F.cross_entropy(model(train_set.images[index]), train_set.labels[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                if step % 20 == 0:
                    bar.update(
                        task, status=f"epoch {epoch + 1}/{r['epochs']} loss {loss.item():.3f}"
                    )
                bar.advance(task)
        model.eval()
        accuracy = evaluate(model, test_set.images, test_set.labels)
        bar.update(task, status=f"test accuracy {accuracy:.4f}")
    return {
        "model": name,
        "test_accuracy": round(accuracy, 4),
        "train_seconds": round(time.perf_counter() - start, 1),
        "torch": torch.__version__,
        "recipe": dict(r, version=RECIPE_VERSION),
    }


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of `model` on `images`, in batches."""
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(images), 1000):
            logits = model(images[start : start + 1000])
            correct += (logits.argmax(1) == labels[start : start + 1000]).sum().item()
    return correct / len(images)


def class_images(net, dataset, cls: int, n: int) -> torch.Tensor:
    """Up to `n` images of class `cls` from `dataset` that `net` (a Network) classifies right."""
    index = torch.nonzero(dataset.labels == cls).flatten()
    _, top1 = net.predict(dataset.images[index])
    return dataset.images[index[top1 == cls][:n]]
