"""What a run folder remembers about its model and data, so that a server can show the network
without the model and, when the model is at hand, compute more (jobs, neuron features).

A run is bound to one model: its spec, the sha256 of its weights file and its input shape.
Reading or serving a run never imports code named in it: a recorded spec is built only when
it names a registered prefix (``demo:``) or when the user names the same spec again (on the
command line, or `load_run_model(run, model=...)`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from pathlens.errors import PathlensError
from pathlens.store import RunStore

DEMO_DATA = "fashion-mnist:test"


def weights_sha256(path: str | Path) -> str:
    """The sha256 of a weights file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _binding(spec: str, weights: str | Path | None, input_shape) -> dict:
    return {
        "spec": spec,
        "weights_sha256": None if weights is None else weights_sha256(weights),
        "input_shape": [int(v) for v in input_shape],
    }


def _describe(binding: dict) -> str:
    sha = binding.get("weights_sha256")
    weights = f"weights sha256 {sha[:12]}…" if sha else "its built-in weights"
    shape = "x".join(str(v) for v in binding["input_shape"])
    return f"{binding['spec']} ({weights}, input {shape})"


def check_run_model(
    run: RunStore | str | Path,
    *,
    spec: str,
    weights: str | Path | None,
    input_shape,
) -> None:
    """Refuse to add results of a model other than the one `run` records (spec, weights
    sha256, input shape); fine for a run with no model yet or the same model. Call it before
    computing, so that a wrong --out fails at once.

    >>> check_run_model("runs/demo", spec="demo:cnn", weights=None, input_shape=(1, 28, 28))
    """
    if not isinstance(run, RunStore):
        if not (Path(run) / "run.sqlite").exists():
            return
        with RunStore(run, create=False) as store:
            return check_run_model(store, spec=spec, weights=weights, input_shape=input_shape)
    facts = run.meta("model")
    if facts is None:
        return
    given = _binding(spec, weights, input_shape)
    if "weights_sha256" in facts or facts["weights"] is None:
        sha = facts.get("weights_sha256")
    else:  # a run written before weights were hashed: its resolved path stands in for it
        same_file = weights is not None and str(Path(weights).resolve()) == facts["weights"]
        sha = given["weights_sha256"] if same_file else "unknown"
    recorded = {
        "spec": facts["spec"],
        "weights_sha256": sha,
        "input_shape": list(facts["input_shape"]),
    }
    if recorded != given:
        raise PathlensError(
            f"{run.path} holds results of the model {_describe(recorded)}, not "
            f"{_describe(given)}. A run folder is bound to one model: give another --out "
            "folder for this model."
        )


def remember_model(
    run: RunStore,
    net,
    *,
    spec: str,
    weights: str | Path | None,
    classes: tuple[str, ...] | None,
    data: str | Path | None,
) -> None:
    """Record the model (spec, weights file and its sha256, input shape, class names), its
    network structure and the labelled data the run draws images from (a file, or the demo
    test set). A run that records another model refuses (see `check_run_model`)."""
    with run.transaction():  # checked and set under the write lock: no other model slips in
        check_run_model(run, spec=spec, weights=weights, input_shape=net.input_shape)
        binding = _binding(spec, weights, net.input_shape)
        run.set_meta(
            "model",
            {
                "spec": spec,
                "weights": None if weights is None else str(Path(weights).resolve()),
                "weights_sha256": binding["weights_sha256"],
                "input_shape": binding["input_shape"],
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


def run_model_problem(
    run: RunStore, *, model: str | None = None, weights: str | Path | None = None
) -> str | None:
    """Why the run's model cannot be built here, or None when it can: the run records no
    model, its spec is not a registered prefix and `model` does not name it, or the weights
    (`weights`, else the recorded file) are gone or not the recorded ones. Imports nothing
    named in the run."""
    from pathlens.model import is_registered_spec

    facts = run.meta("model")
    if facts is None:
        return "The run does not record its model."
    spec = facts["spec"]
    if model is not None and model != spec:
        return (
            f"The run's model is {spec!r}, not {model!r}: give --model {spec} (a run folder "
            "is bound to the model that made it)."
        )
    if model is None and not is_registered_spec(spec):
        return (
            f"The run's model is {spec!r}, which is not built into pathlens, and pathlens never "
            f"imports code named in a run folder. To run jobs, start the server with "
            f"`pathlens serve RUN --model {spec} --weights FILE` (the file the run was made "
            "with)."
        )
    path = weights if weights is not None else facts["weights"]
    if path is None:
        return None
    if not Path(path).is_file():
        return f"The model's weights file {path} is gone: give it with --weights FILE."
    recorded = facts.get("weights_sha256")
    if recorded is not None and weights_sha256(path) != recorded:
        return (
            f"The weights file {path} is not the one the run was made with (its sha256 "
            f"differs from the recorded {recorded[:12]}…): give the original with --weights."
        )
    return None


def load_run_model(
    run: RunStore, *, model: str | None = None, weights: str | Path | None = None
) -> RunModel:
    """Load the model and data recorded by `remember_model`; a clear error when it cannot
    (see `run_model_problem`). model, weights: the spec and weights file the user names for
    a run whose model is not a registered prefix; they must match what the run records.

    >>> loaded = load_run_model(run, model="mypkg.nets:small", weights="small.pt")
    """
    from pathlens.data import fashion_mnist, load_images
    from pathlens.model import Network, load_model

    problem = run_model_problem(run, model=model, weights=weights)
    if problem is not None:
        raise PathlensError(f"Nothing new can be computed in {run.path}: {problem}")
    facts = run.meta("model")
    path = weights if weights is not None else facts["weights"]
    loaded = load_model(facts["spec"], path, tuple(facts["input_shape"]), progress=False)
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
