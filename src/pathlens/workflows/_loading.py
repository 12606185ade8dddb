"""Loading what a request names: the model as a `Network`, and labelled data."""

from __future__ import annotations

from pathlib import Path

import torch

from pathlens.errors import PathlensError


def load_network(spec: str, weights: Path | None, input_shape: tuple[int, ...] | None):
    """The `LoadedModel` of a spec and its `Network` (automatic sites)."""
    from pathlens.model import Network, load_model

    loaded = load_model(spec, weights, input_shape)
    return loaded, Network(loaded.model, loaded.example_input)


def labelled_data(
    images: Path | None, loaded, net, split: str = "test"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels from a labelled file, or the demo data for a demo model."""
    from pathlens.data import fashion_mnist, load_images

    if images is not None:
        data, labels = load_images(images, net.input_shape)
        if labels is None:
            raise PathlensError(f"{images} has no labels: add an array 'labels' to the .npz.")
        return data, labels
    if loaded.classes is None:
        raise PathlensError(
            "'images' is required for a model of your own: give a labelled .npz "
            "(--images FILE on the command line)."
        )
    dataset = fashion_mnist(split)
    return dataset.images, dataset.labels


def class_names(loaded, net, data: torch.Tensor) -> tuple[str, ...]:
    """The model's class names, or "0", "1", ... when it has none."""
    if loaded.classes is not None:
        return tuple(loaded.classes)
    n_classes = net.predict(data[:1])[0].shape[1]
    return tuple(str(i) for i in range(n_classes))
