"""The adversarial workflow: attack, three datapaths, comparison, contributions, neurons;
saved in a run folder as one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pathlens.errors import PathlensError
from pathlens.store import RunStore
from pathlens.workflows._datapath import _STEP_FACTS
from pathlens.workflows._loading import class_names, labelled_data, load_network
from pathlens.workflows._progress import EXPLAIN_STAGES, Progress, StageBar
from pathlens.workflows._requests import ExplainRequest
from pathlens.workflows._run_model import RunModel, check_run_model, load_run_model, remember_model

_LIBRARY_STAGES = ("attack", "comparison", "contributions", "neurons")


@dataclass(frozen=True)
class ExplainResult:
    """What `explain` computed and where it saved it."""

    analysis: object  # pathlens.attacks.AdversarialAnalysis
    analysis_id: int
    classes: tuple[str, ...]
    run: Path


def explain(
    request: ExplainRequest,
    *,
    progress: Progress | None = None,
    loaded: RunModel | None = None,
) -> ExplainResult:
    """Explain why adversarial examples of the source class are taken for the target class,
    and save the analysis (and, for a newly loaded model, its facts) in `request.out`.

    loaded: the run's own model when the caller holds it already (`request.model` None).

    >>> result = explain(ExplainRequest(source="ankle-boot", target="sneaker",
    ...                                 out="runs/demo", n=16))
    >>> result.analysis.divergence
    'layer2.0.bn2'
    """
    from pathlens.attacks import explain_adversarial, save_analysis
    from pathlens.data import class_index, load_images

    bar = StageBar(EXPLAIN_STAGES, progress)
    bar("loading")
    RunStore(request.out).close()  # a bad run folder fails now, not after the computation
    if request.model is None:
        if loaded is None:
            with RunStore(request.out) as run:
                loaded = load_run_model(run)
        net, classes = loaded.net, loaded.classes
        data, labels = loaded.images, loaded.labels
        if request.images is not None:
            data, labels = labelled_data(request.images, None, net)
    else:
        model, net = load_network(request.model, request.weights, request.input_shape)
        check_run_model(request.out, spec=request.model, weights=request.weights,
                        input_shape=net.input_shape)  # fmt: skip
        data, labels = labelled_data(request.images, model, net)
        classes = class_names(model, net, data)
    source = class_index(request.source, classes)
    target = class_index(request.target, classes)
    if source == target:
        raise PathlensError(
            f"The source and target classes are the same ({classes[source]}): pick two classes."
        )
    imported = None
    if request.adversarial is not None:
        imported, _ = load_images(request.adversarial, net.input_shape)

    def relay(event: dict) -> None:
        stage = event["stage"]
        if stage == "datapath":
            facts = {k: event[k] for k in _STEP_FACTS if k in event}
            within = event["step"] / event["max_steps"] if "step" in event else 0.0
            bar(f"datapath {event['set']}", within, stage="datapath",
                detail={"set": event["set"], **facts})  # fmt: skip
        elif stage in _LIBRARY_STAGES:
            bar(stage)

    analysis = explain_adversarial(
        net, data, labels, source, target, attack=request.attack, eps=request.eps, n=request.n,
        adversarial=imported, patch_images=request.patch_images,
        n_maximize=request.n_maximize, callback=relay,
    )  # fmt: skip
    bar("saving")
    name = request.name or f"{classes[source]}->{classes[target]}"
    with RunStore(request.out) as run, run.transaction():
        if request.model is not None:
            remember_model(run, net, spec=request.model, weights=request.weights,
                           classes=classes, data=request.images)  # fmt: skip
        analysis_id = save_analysis(run, analysis, name=name)
    bar.done(f"saved analysis {analysis_id}", {"analysis": analysis_id})
    return ExplainResult(analysis, analysis_id, classes, request.out)
