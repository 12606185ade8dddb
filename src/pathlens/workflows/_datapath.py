"""Datapath workflows: of the images in a file (`extract`), and of a subset of one image set
of a stored adversarial analysis (`datapath_subset`, the web app's job)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from pathlens.errors import PathlensWarning
from pathlens.store import RunStore
from pathlens.workflows._loading import class_names, load_network
from pathlens.workflows._progress import EXTRACT_STAGES, SUBSET_STAGES, Progress, StageBar
from pathlens.workflows._requests import ExtractRequest, SubsetRequest
from pathlens.workflows._run_model import RunModel, check_run_model, load_run_model, remember_model

_STEP_FACTS = ("step", "max_steps", "kept_fraction", "sufficiency", "gates")


@dataclass(frozen=True)
class ExtractResult:
    """What `extract` computed and where it saved it."""

    datapath: object  # pathlens.Datapath
    datapath_id: int
    image_set_id: int
    net: object  # pathlens.Network
    classes: tuple[str, ...]
    run: Path


@dataclass(frozen=True)
class SubsetResult:
    datapath: object  # pathlens.Datapath
    datapath_id: int
    image_set_id: int


def extract(request: ExtractRequest, *, progress: Progress | None = None) -> ExtractResult:
    """Extract the datapath of `request.images` and save it, with the image set and the
    model's facts, in the run folder `request.out` (one transaction).

    >>> result = extract(ExtractRequest(images="sandals.npz", out="runs/sandals"))
    >>> result.datapath.kept_fraction
    0.08
    """
    from pathlens.data import class_index, fashion_mnist, load_images, sample_images
    from pathlens.datapath import extract_datapath, save_datapath

    bar = StageBar(EXTRACT_STAGES, progress)
    bar("loading")
    RunStore(request.out).close()  # a bad run folder fails now, not after the computation
    loaded, net = load_network(request.model, request.weights, request.input_shape)
    check_run_model(request.out, spec=request.model, weights=request.weights,
                    input_shape=net.input_shape)  # fmt: skip
    x, labels = load_images(request.images, net.input_shape)
    classes = class_names(loaded, net, x)
    target = None if request.target is None else class_index(request.target, classes)
    kept_classes = sorted({int(c) for c in net.predict(x)[1]} if target is None else {target})
    control = None
    if request.control == "auto":
        if loaded.classes is None:
            warnings.warn(
                "No control images: give control images of other classes (--control FILE) "
                "to measure specificity.",
                PathlensWarning,
                stacklevel=2,
            )
        else:
            control = sample_images(fashion_mnist("test"), request.n_control, exclude=kept_classes)
    elif request.control != "none":
        control, _ = load_images(request.control, net.input_shape)
    datapath = extract_datapath(
        net,
        x,
        method=request.method,
        target=target,
        control=control,
        ablation=request.ablation,
        agreement=request.agreement,
        specificity=request.specificity,
        callback=_datapath_relay(bar, "scoring", {}),
    )
    bar("saving")
    name = request.name or request.images.stem
    with RunStore(request.out) as run, run.transaction():
        remember_model(run, net, spec=request.model, weights=request.weights,
                       classes=loaded.classes, data=None)  # fmt: skip
        set_id = run.save_image_set(name, x, labels, {"source": str(request.images)})
        dp_id = save_datapath(run, datapath, name=name, image_set=set_id)
    bar.done(f"saved datapath {dp_id}", {"datapath": dp_id, "image_set": set_id})
    return ExtractResult(datapath, dp_id, set_id, net, classes, request.out)


def datapath_subset(
    request: SubsetRequest,
    *,
    progress: Progress | None = None,
    loaded: RunModel | None = None,
) -> SubsetResult:
    """The datapath of some images of set A, B or C of a stored adversarial analysis, with
    control images of other classes from the run's data; saved in the run (one transaction).

    loaded: the run's model when the caller holds it already (the server does).

    >>> result = datapath_subset(SubsetRequest(run="runs/demo", analysis=1, set="A",
    ...                                        images=(0, 2, 5)))
    """
    from pathlens.datapath import extract_datapath, save_datapath
    from pathlens.errors import PathlensError

    bar = StageBar(SUBSET_STAGES, progress)
    bar("loading")
    key, positions = request.set, list(request.images)
    with RunStore(request.run, create=False) as run:
        body = run.analysis_body(request.analysis, "adversarial")
        size = body["sets"][key]["size"]
        if max(positions) >= size:
            raise PathlensError(
                f"'images' must be positions in set {key}, which has {size} images (0..{size - 1})."
            )
        [name] = [a["name"] for a in run.analyses() if a["id"] == request.analysis]
        images = run.load_image_set(body["links"][key]["image_set"])[0][positions]
        model = loaded or load_run_model(run)
    classes = set(torch.as_tensor(body["sets"][key]["predictions"])[positions].tolist())
    others = torch.nonzero(~torch.isin(model.labels, torch.tensor(sorted(classes)))).flatten()
    generator = torch.Generator().manual_seed(0)
    pick = others[torch.randperm(len(others), generator=generator)[: request.n_control]]
    datapath = extract_datapath(
        model.net, images, control=model.images[pick],
        callback=_datapath_relay(bar, "datapath", {"set": key}),
    )  # fmt: skip
    bar("saving")
    label = f"{name} {key} subset of {len(positions)}"
    meta = {"set": key, "analysis": request.analysis, "indices": positions}
    with RunStore(request.run, create=False) as run, run.transaction():
        set_id = run.save_image_set(label, images, None, meta)
        dp_id = save_datapath(run, datapath, name=label, image_set=set_id)
    bar.done(f"saved datapath {dp_id}", {"datapath": dp_id, "image_set": set_id})
    return SubsetResult(datapath, dp_id, set_id)


def _datapath_relay(bar: StageBar, key: str, detail: dict):
    """A callback for `extract_datapath` events that moves `bar` through stage `key` (gate
    steps), then "searching"."""

    def relay(event: dict) -> None:
        stage = event["stage"]
        if stage == "optimising":
            facts = {k: event[k] for k in _STEP_FACTS if k in event}
            bar(key, event["step"] / event["max_steps"], stage="datapath" if detail else key,
                detail={**detail, **facts})  # fmt: skip
        elif stage == "scoring":
            bar(key, stage="datapath" if detail else key, detail=detail)
        elif stage == "searching":
            bar("searching", detail=detail)

    return relay
