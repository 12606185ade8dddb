from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence

import torch

# Importing a scorer module registers its methods; this order, the default first, is the
# order in which `METHODS` lists them to users.
# isort: off
from pathlens.datapath import _gates, _scorers, _cdrp  # noqa: F401

# isort: on
from pathlens._checks import check_number
from pathlens.datapath._datapath import Datapath
from pathlens.datapath._problem import Problem
from pathlens.datapath._registry import METHODS
from pathlens.datapath._search import search_global, search_per_site
from pathlens.errors import PathlensError, PathlensWarning
from pathlens.model import Network


def extract_datapath(
    net: Network,
    images: torch.Tensor,
    *,
    method: str = "gates",
    target: int | Sequence[int] | torch.Tensor | None = None,
    control: torch.Tensor | None = None,
    ablation: str = "zero",
    reference: dict[str, torch.Tensor] | None = None,
    agreement: float = 1.0,
    specificity: float = 0.9,
    max_necessity: float | None = 0.2,
    seed: int = 0,
    callback: Callable[[dict], None] | None = None,
    **settings,
) -> Datapath:
    """The fewest channels per site that, kept alone, keep every image's prediction.

    Args:
        net: the model as a `Network`.
        images: the image set [N, ...] (one image is a set of one).
        method: a name in `METHODS`: "gates" (default), "activation", "gradxact",
            "conductance", "random", "cdrp".
        target: None keeps each image's own top-1; a class index (or one per image) keeps that.
        control: images of other classes [M, ...] for specificity; without them specificity
            is unknown (a warning says so).
        ablation: removed channels are set to 0 ("zero") or to their mean ("mean") over
            `reference` (site -> [C]); when not given, over the control images and the set.
        agreement: required sufficiency (share of the set keeping its target), default 1.0.
        specificity: required specificity on the control images, default 0.9.
        max_necessity: the datapath must also be necessary: with it removed, at most this
            share of the set may keep its target (default 0.2; None to skip). Where a model
            has redundant routes, as for single images, this costs a few more channels.
        callback: called with progress events (dicts with "stage", and per gate step "step",
            "gates", "kept_fraction", "sufficiency", ...).
        settings: the method's options, `METHODS[method].options` (gates: sparsity,
            contrast, margin, necessity, lr, max_steps, ...; cdrp: steps, lr, gamma;
            conductance: n_steps). An unknown option or a value of the wrong type or out of
            bounds is refused; `Datapath.settings` holds every option, defaults filled in.

    Every fidelity number is measured with hard 0/1 masks on the real network. When no mask
    reaches the targets, the best one found is returned with a `PathlensWarning`.

    >>> dp = extract_datapath(net, sneakers, control=others)
    >>> dp.kept_fraction, dp.fidelity.sufficiency
    (0.21..., 1.0)
    """
    started = time.perf_counter()
    if method not in METHODS:
        raise PathlensError(f"Unknown method {method!r}. Methods: {', '.join(METHODS)}.")
    spec = METHODS[method]
    options = spec.check(settings)
    images = net.check_inputs(images, "images")
    if control is not None:
        control = net.check_inputs(control, "control images")
    check_number("agreement", agreement, 0.0, 1.0, low_open=True)
    check_number("specificity", specificity, 0.0, 1.0)
    if max_necessity is not None:
        check_number("max_necessity", max_necessity, 0.0, 1.0)
    if ablation not in ("zero", "mean"):
        raise PathlensError(f"ablation must be 'zero' or 'mean', not {ablation!r}.")
    emit = callback or (lambda event: None)
    torch.manual_seed(seed)
    logits, top1 = net.predict(images)
    targets = _targets(target, top1, logits.shape[1])
    if ablation == "mean" and reference is None:
        pool = images if control is None else torch.cat([images, control])
        reference = net.channel_means(pool)
    problem = Problem(
        net, images, targets, control, ablation, reference if ablation == "mean" else None,
        agreement, specificity, max_necessity,
    )  # fmt: skip
    problem.images_pushed += len(images)
    if control is None:
        warnings.warn(
            "No control images were given, so specificity is unknown: the datapath may turn "
            "images of every class into the set's class. Pass control= images of other classes.",
            PathlensWarning,
            stacklevel=2,
        )
    elif problem.n_control == 0:
        warnings.warn(
            "The model predicts every control image as one of the set's classes, so none can "
            "measure specificity. Give control images of other classes.",
            PathlensWarning,
            stacklevel=2,
        )

    emit({"stage": "scoring", "method": method})
    if spec.cut == "global":

        def on_step(step, gates, facts):
            emit({"stage": "optimising", "step": step, "gates": gates, **facts})

        scores, known, candidates = spec.scorer(problem, on_step=on_step, seed=seed, **options)
        emit({"stage": "searching"})
        gates, ok = search_global(problem, scores, known)
        for candidate in candidates if ok else []:
            # only thresholds sparser than the best so far are searched
            other, other_ok = search_global(problem, candidate, gates)
            if other_ok and _kept(other) < _kept(gates):
                scores, gates = candidate, other
    else:
        scores = spec.scorer(problem, seed=seed, **options)
        emit({"stage": "searching"})
        gates, ok = search_per_site(problem, scores)
    fidelity = problem.fidelity(gates)
    if not ok:
        warnings.warn(_shortfall(fidelity, agreement, specificity, max_necessity,
                                 problem.n_control), PathlensWarning, stacklevel=2)  # fmt: skip
    datapath = Datapath(
        channels={n: torch.nonzero(g).flatten().tolist() for n, g in gates.items()},
        scores={n: [round(float(v), 6) for v in s] for n, s in scores.items()},
        site_channels={s.name: s.channels for s in net.sites},
        fidelity=fidelity,
        method=method,
        targets=targets.tolist(),
        ablation=ablation,
        reference=(
            {n: r.tolist() for n, r in problem.reference.items()} if problem.reference else None
        ),
        settings={
            "agreement": agreement,
            "specificity": specificity,
            "max_necessity": max_necessity,
            "seed": seed,
            **options,
        },
        timing={
            "seconds": round(time.perf_counter() - started, 3),
            "images_pushed": problem.images_pushed,
        },
        n_control=problem.n_control,
    )
    emit({"stage": "done", "datapath": datapath})
    return datapath


def _kept(gates: dict[str, torch.Tensor]) -> int:
    return sum(int(g.sum()) for g in gates.values())


def _targets(target, top1: torch.Tensor, n_classes: int) -> torch.Tensor:
    if target is None:
        return top1.clone()
    t = torch.as_tensor(target).long().flatten()
    if t.numel() == 1:
        t = t.expand(len(top1)).clone()
    if len(t) != len(top1):
        raise PathlensError(
            f"target has {len(t)} entries for {len(top1)} images: give one class, or one per image."
        )
    if t.min() < 0 or t.max() >= n_classes:
        raise PathlensError(f"target classes must be in 0..{n_classes - 1}; got {t.tolist()}.")
    return t


def _shortfall(fidelity, agreement, specificity, max_necessity, n_control) -> str:
    """What no mask reached, naming every target and the best mask's numbers."""
    wanted = [f"sufficiency {agreement:.2f}"]
    found = [f"sufficiency {fidelity.sufficiency:.2f}"]
    if n_control:
        wanted.append(f"specificity {specificity:.2f}")
        found.append(f"specificity {fidelity.specificity:.2f}")
    if max_necessity is not None:
        wanted.append(f"necessity at most {max_necessity:.2f}")
        found.append(f"necessity {fidelity.necessity:.2f}")
    return (
        f"No datapath reached {', '.join(wanted)}; returning the best found "
        f"({', '.join(found)}). A target class the model never predicts for these images "
        "cannot be kept; a model with redundant routes may need max_necessity=None."
    )
