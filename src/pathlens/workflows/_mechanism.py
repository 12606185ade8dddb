"""The mechanism workflow: channel clusters, learned features and bundled connections over a
data set, saved in a run folder as one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pathlens.store import RunStore
from pathlens.workflows._loading import class_names, labelled_data, load_network
from pathlens.workflows._progress import MECHANISM_STAGES, Progress, StageBar
from pathlens.workflows._requests import MechanismRequest
from pathlens.workflows._run_model import check_run_model, remember_model


@dataclass(frozen=True)
class MechanismResult:
    """What `mechanism` computed and where it saved it."""

    mechanism: object  # pathlens.mechanism.Mechanism
    mechanism_id: int
    n_images: int
    run: Path


def mechanism(request: MechanismRequest, *, progress: Progress | None = None) -> MechanismResult:
    """Analyse how the model works over the first `request.n` images and save the result
    (and the model's facts) in `request.out`.

    >>> result = mechanism(MechanismRequest(out="runs/demo", n=2000))
    >>> result.mechanism.sites[0].n_clusters
    4
    """
    from pathlens.mechanism import analyze, save_mechanism

    skip = []
    if not request.maximize:
        skip.append("maximization")
    if request.contribution_images == 0:
        skip.append("contributions")
    bar = StageBar(MECHANISM_STAGES, progress, skip=skip)
    bar("loading")
    RunStore(request.out).close()  # a bad run folder fails now, not after the computation
    loaded, net = load_network(request.model, request.weights, request.input_shape)
    check_run_model(request.out, spec=request.model, weights=request.weights,
                    input_shape=net.input_shape)  # fmt: skip
    data, labels = labelled_data(request.images, loaded, net, request.split)
    if request.images is None:
        facts = {"source": "fashion-mnist", "split": request.split}
    else:
        facts = {"source": str(request.images)}
    data, labels = data[: request.n], labels[: request.n]
    facts["n"] = len(data)
    classes = class_names(loaded, net, data)

    def relay(event: dict) -> None:
        if "total" in event:
            detail = {"done": event["done"], "total": event["total"]}
            bar(event["stage"], event["done"] / max(event["total"], 1), detail=detail)

    result = analyze(
        net, data, labels, classes=classes, k_max=request.k_max, patches=request.patches,
        batch_size=request.batch_size, contribution_images=request.contribution_images,
        maximize=request.maximize, data=facts, callback=relay,
    )  # fmt: skip
    bar("saving")
    name = request.name or (request.split if request.images is None else request.images.stem)
    with RunStore(request.out) as run, run.transaction():
        remember_model(run, net, spec=request.model, weights=request.weights, classes=classes,
                       data=request.images)  # fmt: skip
        mechanism_id = save_mechanism(run, result, name=name)
    bar.done(f"saved mechanism {mechanism_id}", {"mechanism": mechanism_id})
    return MechanismResult(result, mechanism_id, len(data), request.out)
