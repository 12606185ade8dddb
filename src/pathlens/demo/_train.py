"""Deterministic training of the demo models: the recipe behind the shipped weights.

`python -m pathlens.demo` runs it and writes the state dicts and their facts into
``pathlens/demo/weights``; users never train, they load those files.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from pathlens._cache import atomic_write_bytes
from pathlens._progress import progress_bar
from pathlens.data import fashion_mnist
from pathlens.demo._models import ARCHITECTURES

# Bump when an architecture or its training recipe changes, then retrain and commit the weights.
RECIPE_VERSION = 2
_RECIPE = {"epochs": 3, "batch_size": 128, "lr": 4e-3, "weight_decay": 1e-4, "seed": 0}

# What "the same sha256" can honestly promise; measured by running the script twice here.
REPRODUCIBILITY = (
    "Training is seeded (initialisation, data order, dropout), runs on one thread with "
    "torch.use_deterministic_algorithms(True), and `python -m pathlens.demo --check` re-trained "
    "these files bit for bit on the machine that made them. Another CPU (other SIMD kernels) or "
    "torch version may round differently and then gives other bytes (not measured); the shipped "
    "files are what every machine loads."
)


@contextmanager
def _deterministic(seed: int) -> Iterator[None]:
    """Seeded global RNG, deterministic kernels and one thread for the duration; all restored.

    One thread because the CPU kernels split sums across threads, and the order of a float
    sum changes its last bits.
    """
    threads = torch.get_num_threads()
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_deterministic)
            torch.set_num_threads(threads)


def train(name: str, *, progress: bool = True) -> tuple[nn.Module, dict]:
    """Build demo model `name` and train it on Fashion-MNIST with the recipe: (model, facts)."""
    train_set = fashion_mnist("train")
    test_set = fashion_mnist("test")
    r = _RECIPE
    start = time.perf_counter()
    with _deterministic(r["seed"]):
        # built inside the seeded block: the initial weights are part of what is reproduced
        model = ARCHITECTURES[name]()
        generator = torch.Generator().manual_seed(r["seed"])
        steps_per_epoch = math.ceil(len(train_set) / r["batch_size"])
        total = r["epochs"] * steps_per_epoch
        optimizer = torch.optim.AdamW(model.parameters(), r["lr"], weight_decay=r["weight_decay"])
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, r["lr"], total_steps=total)
        with progress_bar(progress) as bar:
            task = bar.add_task(f"training demo {name}", total=total, status="")
            for epoch in range(r["epochs"]):
                model.train()
                order = torch.randperm(len(train_set), generator=generator)
                for step in range(steps_per_epoch):
                    index = order[step * r["batch_size"] : (step + 1) * r["batch_size"]]
                    logits = model(train_set.images[index])
                    loss = F.cross_entropy(logits, train_set.labels[index])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    schedule.step()
                    if step % 20 == 0:
                        status = f"epoch {epoch + 1}/{r['epochs']} loss {loss.item():.3f}"
                        bar.update(task, status=status)
                    bar.advance(task)
            model.eval()
            accuracy = evaluate(model, test_set.images, test_set.labels)
            bar.update(task, status=f"test accuracy {accuracy:.4f}")
    facts = {
        "model": name,
        "test_accuracy": round(accuracy, 4),
        "train_seconds": round(time.perf_counter() - start, 1),
        "torch": torch.__version__,
        "recipe": dict(r, version=RECIPE_VERSION),
        "reproducibility": REPRODUCIBILITY,
    }
    return model, facts


def state_bytes(model: nn.Module) -> bytes:
    """The float32 state dict of `model` as `torch.save` bytes."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def write_weights(name: str, out_dir: Path, *, progress: bool = True) -> dict:
    """Train demo model `name` and write ``NAME.pt`` and ``NAME.json`` (facts with the sha256)."""
    model, facts = train(name, progress=progress)
    data = state_bytes(model)
    facts["sha256"] = hashlib.sha256(data).hexdigest()
    facts["bytes"] = len(data)
    out_dir = Path(out_dir)
    atomic_write_bytes(out_dir / f"{name}.pt", data)
    atomic_write_bytes(out_dir / f"{name}.json", (json.dumps(facts, indent=2) + "\n").encode())
    return facts


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of `model` on `images`, in batches."""
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(images), 1000):
            logits = model(images[start : start + 1000])
            correct += (logits.argmax(1) == labels[start : start + 1000]).sum().item()
    return correct / len(images)
