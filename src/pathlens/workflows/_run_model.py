"""What a run folder remembers about its model and data, so that a server can show the network
without the model and, when the model is at hand, compute more (jobs, neuron features)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from pathlens.errors import PathlensError
from pathlens.store import RunStore

DEMO_DATA = "fashion-mnist:test"


def remember_model(
    run: RunStore,
    net,
    *,
    spec: str,
    weights: str | Path | None,
    classes: tuple[str, ...] | None,
    data: str | Path | None,
) -> None:
    """Record the model (spec, weights file, input shape, class names), its network structure
    and the labelled data the run draws images from (a file, or the demo test set)."""
    run.set_meta(
        "model",
        {
            "spec": spec,
            "weights": None if weights is None else str(Path(weights).resolve()),
            "input_shape": list(net.input_shape),
            "classes": None if classes is None else list(classes),
            "data": DEMO_DATA if data is None else str(Path(data).resolve()),
        },
    )
    run.set_meta("network", net.describe())


@dataclass
class RunModel:
    """The model of a run, loaded: network, class names and labelled data."""

    net: object  # pathlens.Network
    classes: tuple[str, ...]
    images: torch.Tensor
    labels: torch.Tensor


def load_run_model(run: RunStore) -> RunModel:
    """Load the model and data recorded by `remember_model`; a clear error when it cannot."""
    from pathlens.data import fashion_mnist, load_images
    from pathlens.model import Network, load_model

    facts = run.meta("model")
    if facts is None:
        raise PathlensError(
            f"{run.path} does not record its model, so nothing new can be computed in it. "
            "Make the run with `pathlens adversarial ... --out RUN` (or `pathlens demo`)."
        )
    loaded = load_model(
        facts["spec"], facts["weights"], tuple(facts["input_shape"]), progress=False
    )
    net = Network(loaded.model, loaded.example_input)
    if facts["data"] == DEMO_DATA:
        test = fashion_mnist("test")
        images, labels = test.images, test.labels
    else:
        images, labels = load_images(facts["data"], net.input_shape)
        if labels is None:
            raise PathlensError(f"{facts['data']} has no labels; the run needs labelled data.")
    n_classes = net.predict(images[:1])[0].shape[1]
    classes = tuple(facts["classes"] or [str(i) for i in range(n_classes)])
    return RunModel(net, classes, images, labels)
