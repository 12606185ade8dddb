"""Why adversarial examples fool a model: datapaths of three image sets, compared site by site.

A: adversarial source images that the model predicts as the target class; B: the same images,
unperturbed, predicted correctly as the source class; C: normal target images predicted
correctly. Where A leaves B (divergence) and where A joins C (merge) locate the error; the
channels in A's datapath and not B's (or the reverse) from the divergence on carry it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from numbers import Integral

import torch

from pathlens._checks import check_count
from pathlens.attacks._attack import METHODS as ATTACKS
from pathlens.attacks._attack import _check_eps
from pathlens.attacks._attack import attack as run_attack
from pathlens.datapath import (
    Datapath,
    SiteComparison,
    channel_contributions,
    compare,
    extract_datapath,
    target_contributions,
)
from pathlens.errors import PathlensError, PathlensWarning
from pathlens.model import Network

ANALYSIS_VERSION = 1
SETS = ("A", "B", "C")


@dataclass
class ErrorChannel:
    site: str
    channel: int
    side: str  # "adversarial only" (in A's datapath, not B's) or "normal only" (B's, not A's)
    contribution: float  # gradient x activation toward the target class, mean over set A


@dataclass
class AdversarialAnalysis:
    """Everything `explain_adversarial` found; JSON-serialisable with `to_dict`.

    sets: name -> {"indices": positions in the given data set, "size", "description"};
    datapaths: "A", "B", "C" -> Datapath; comparisons: "AB", "AC" -> per-site comparisons;
    progress: per site, where A stands between B (0) and C (1) (`progress_to_target`);
    divergence, merge: site names (or None), by `divergence_and_merge`;
    error_channels: from the divergence on, ranked by |contribution|, strongest first;
    contributions: "s->t" -> matrix [kept channels of s in A][kept channels of t in A];
    attack: settings and success; timing: seconds per stage.
    """

    source: int
    target: int
    sites: list[str]
    sets: dict[str, dict]
    datapaths: dict[str, Datapath]
    comparisons: dict[str, list[SiteComparison]]
    progress: list[float]
    divergence: str | None
    merge: str | None
    error_channels: list[ErrorChannel]
    contributions: dict[str, list[list[float]]]
    attack: dict
    timing: dict = field(default_factory=dict)
    version: int = ANALYSIS_VERSION

    def to_dict(self) -> dict:
        data = asdict(self)
        data["datapaths"] = {k: v.to_dict() for k, v in self.datapaths.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict) -> AdversarialAnalysis:
        if data.get("version") != ANALYSIS_VERSION:
            raise PathlensError(
                f"This analysis has version {data.get('version')}; this pathlens reads "
                f"{ANALYSIS_VERSION}. Re-run it."
            )
        data = dict(data)
        data["datapaths"] = {k: Datapath.from_dict(v) for k, v in data["datapaths"].items()}
        data["comparisons"] = {
            k: [SiteComparison(**c) for c in v] for k, v in data["comparisons"].items()
        }
        data["error_channels"] = [ErrorChannel(**e) for e in data["error_channels"]]
        return cls(**data)


def neuron_arrays(
    net: Network,
    set_images: dict[str, torch.Tensor],
    reference: torch.Tensor,
    channels: list[ErrorChannel],
    k: int = 8,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Neuron-level data for every channel, as named arrays (float16 where large):

    ``acts/{set}/{site}`` the site's activations for each set's images [N, C, ...] (at the
    site's resolution; `neuron_view` resizes them); ``patches/{site}/{field}`` the fields of
    `top_patches` over `reference` for all channels; ``maximize/{site}/{channel}`` an
    activation-maximisation image for each of `channels`.
    """
    from pathlens.mechanism import activation_maximization, top_patches

    arrays: dict[str, torch.Tensor] = {}
    for key, images in set_images.items():
        for site, acts in net.activations(images).items():
            arrays[f"acts/{key}/{site}"] = acts.half()
    for site in net.site_names:
        top = top_patches(net, site, reference, k=k)
        for field_name in ("image_index", "position", "value", "box", "origin"):
            arrays[f"patches/{site}/{field_name}"] = getattr(top, field_name)
        arrays[f"patches/{site}/patches"] = top.patches.half()
    for e in channels:
        image = activation_maximization(net, e.site, e.channel, seed=seed)
        arrays[f"maximize/{e.site}/{e.channel}"] = image
    return arrays


def neuron_view(net: Network, analysis: AdversarialAnalysis, site: str, channel: int) -> dict:
    """Everything the neuron view shows for one channel, from the analysis's arrays.

    Returns {"maps": set -> [N, H_in, W_in] activation maps resized to the input,
    "mean": set -> [N] mean activation per image, "patches": [k, C_in, ph, pw],
    "patch_values": [k], "patch_images": [k] indices into the reference images,
    "maximization": [C_in, H, W] (made now if the analysis did not store it)}.
    """
    from pathlens.mechanism import activation_maximization

    spec = net.site(site)
    if not 0 <= channel < spec.channels:
        raise PathlensError(f"Site {site!r} has channels 0..{spec.channels - 1}, not {channel}.")
    neurons = analysis.neurons
    height, width = net.input_shape[-2:]
    maps, means = {}, {}
    for key in SETS:
        acts = neurons[f"acts/{key}/{site}"][:, channel].float()
        if acts.dim() == 3:
            means[key] = acts.mean((1, 2))
            maps[key] = torch.nn.functional.interpolate(
                acts[:, None], size=(height, width), mode="bilinear", align_corners=False
            )[:, 0]
        else:
            means[key] = acts
            maps[key] = acts[:, None, None].expand(-1, height, width)
    maximize = neurons.get(f"maximize/{site}/{channel}")
    if maximize is None:
        maximize = activation_maximization(net, site, channel)
    return {
        "maps": maps,
        "mean": means,
        "patches": neurons[f"patches/{site}/patches"][channel].float(),
        "patch_values": neurons[f"patches/{site}/value"][channel],
        "patch_images": neurons[f"patches/{site}/image_index"][channel],
        "maximization": maximize,
    }


def progress_to_target(ab: list[SiteComparison], ac: list[SiteComparison]) -> list[float]:
    """Per site, where A stands between B (0) and C (1): d(A,B) / (d(A,B) + d(A,C)), with
    d = 1 - activation similarity. Normalised per site, so sites of different kinds (a ReLU
    output, a signed residual branch) read on one scale."""
    result = []
    for b, c in zip(ab, ac, strict=True):
        d_b, d_c = max(0.0, 1 - b.similarity), max(0.0, 1 - c.similarity)
        result.append(0.5 if d_b + d_c == 0 else d_b / (d_b + d_c))
    return result


def divergence_and_merge(
    progress: list[float], sites: list[str], leave: float = 0.25, join: float = 0.5
) -> tuple[str | None, str | None]:
    """The rules, on `progress_to_target` per site in forward order:

    - divergence: the first site from which A stays more than `leave` (a quarter) of the way
      from B toward C at every later site — A has left B for good;
    - merge: the first site from which A stays at least `join` (half) of the way, i.e. at
      least as close to C as to B, at every later site.
    Either is None when it never happens; the divergence never comes after the merge.
    """

    def first_from_which(threshold: float, strict: bool) -> str | None:
        found = None
        for site, p in zip(reversed(sites), reversed(progress), strict=True):
            if p > threshold or (not strict and p == threshold):
                found = site
            else:
                break
        return found

    return first_from_which(leave, strict=True), first_from_which(join, strict=False)


def explain_adversarial(
    net: Network,
    images: torch.Tensor,
    labels: torch.Tensor,
    source: int,
    target: int,
    *,
    attack: str = "pgd",
    eps: float = 0.1,
    n: int = 32,
    min_set: int = 4,
    n_control: int = 64,
    adversarial: torch.Tensor | None = None,
    patch_images: int = 2000,
    n_maximize: int = 8,
    seed: int = 0,
    callback: Callable[[dict], None] | None = None,
    **datapath_settings,
) -> AdversarialAnalysis:
    """Why images of class `source` attacked toward `target` are misclassified.

    Args:
        net: the classifier as a `Network`.
        images, labels: a labelled data set [M, ...] to draw the sets and control images from.
        source, target: class indices.
        attack, eps: the attack (see `pathlens.attacks.attack`) and its budget in [0, 1]
            pixels; ignored when `adversarial` images (made elsewhere, [K, ...], paired with
            the first K correctly classified source images) are given.
        n: images per set (at most); min_set: smaller sets are refused.
        patch_images: how many of `images` are searched for each channel's top-activating
            patches; n_maximize: activation-maximisation images are made for this many of the
            strongest error channels (others on demand, by `neuron_view`).

    Returns an `AdversarialAnalysis`. Divergence and merge (see `divergence_and_merge`): per
    site, A's position between B (0) and C (1) is d(A,B) / (d(A,B) + d(A,C)) with d = 1 -
    cosine similarity of per-channel mean activations; the divergence is the first site from
    which A stays more than a quarter of the way to C, the merge the first from which it
    stays at least half way.

    >>> analysis = explain_adversarial(net, test.images, test.labels, source=9, target=7)
    >>> analysis.divergence, analysis.merge
    ('layer2.0.bn2', 'layer3.0.relu1')
    """
    _check_settings(attack, eps, n, min_set, n_control, patch_images, n_maximize, adversarial)
    emit = callback or (lambda event: None)
    timing: dict[str, float] = {}
    n_classes = net.predict(images[:1])[0].shape[1]
    for name, cls in (("source", source), ("target", target)):
        if isinstance(cls, torch.Tensor) and cls.numel() == 1 and not cls.is_floating_point():
            cls = int(cls)
        if isinstance(cls, bool) or not isinstance(cls, Integral) or not 0 <= cls < n_classes:
            raise PathlensError(
                f"The {name} class {cls!r} is not in 0..{n_classes - 1}: give a class index."
            )
    source, target = int(source), int(target)
    if source == target:
        raise PathlensError("The source and target classes are the same: pick two classes.")
    images = net.check_inputs(images)
    labels = torch.as_tensor(labels).long()
    if len(labels) != len(images):
        raise PathlensError(f"{len(images)} images but {len(labels)} labels: give one each.")
    if images.min() < 0 or images.max() > 1:
        raise PathlensError("The images are outside [0, 1]: give pixels in [0, 1].")

    start = time.perf_counter()
    _, top1 = net.predict(images)
    correct_source = torch.nonzero((labels == source) & (top1 == source)).flatten()
    correct_target = torch.nonzero((labels == target) & (top1 == target)).flatten()
    for name, pool in (("source", correct_source), ("target", correct_target)):
        if len(pool) < min_set:
            raise PathlensError(
                f"Only {len(pool)} images of the {name} class are classified correctly; at "
                f"least {min_set} are needed. Give more images of that class."
            )
    emit({"stage": "attack"})
    candidates = correct_source[: 2 * n]
    if adversarial is None:
        result = run_attack(
            net, images[candidates], labels[candidates], attack, eps, target, seed=seed
        )
        adv_images, success = result.images, result.success
        attack_facts = {"method": attack, "eps": eps, "attempted": len(candidates),
                        "success_rate": result.success_rate,
                        "mean_linf": float(result.linf.mean()),
                        "mean_l2": float(result.l2.mean())}  # fmt: skip
    else:
        adversarial = net.check_inputs(adversarial, "adversarial images")
        candidates = correct_source[: len(adversarial)]
        adv_images = adversarial[: len(candidates)]
        success = net.predict(adv_images)[1] == target
        attack_facts = {"method": "imported", "attempted": len(candidates),
                        "success_rate": success.float().mean().item()}  # fmt: skip
    timing["attack"] = time.perf_counter() - start
    chosen = torch.nonzero(success).flatten()[:n]
    if len(chosen) < min_set:
        raise PathlensError(
            f"The attack turned {int(success.sum())} of {len(candidates)} "
            f"{'given' if adversarial is not None else 'attacked'} images into the target "
            f"class; at least {min_set} are needed. Try a larger eps (now {eps}), another "
            "attack, or more source images."
        )
    set_images = {
        "A": adv_images[chosen],
        "B": images[candidates[chosen]],
        "C": images[correct_target[:n]],
    }
    sets = {
        "A": {"indices": candidates[chosen].tolist(), "size": len(chosen),
              "description": "adversarial source images predicted as the target"},
        "B": {"indices": candidates[chosen].tolist(), "size": len(chosen),
              "description": "the same source images, unperturbed, predicted correctly"},
        "C": {"indices": correct_target[:n].tolist(), "size": len(set_images["C"]),
              "description": "normal target images predicted correctly"},
    }  # fmt: skip

    for key, imgs in set_images.items():
        probs = torch.softmax(net.predict(imgs)[0], dim=1)
        confidence, predicted = probs.max(dim=1)
        sets[key]["predictions"] = predicted.tolist()
        sets[key]["confidence"] = [round(float(c), 4) for c in confidence]

    datapaths = {}
    for name, cls in (("A", target), ("B", source), ("C", target)):
        emit({"stage": "datapath", "set": name})
        t = time.perf_counter()
        others = torch.nonzero(labels != cls).flatten()
        generator = torch.Generator().manual_seed(seed)
        control = images[others[torch.randperm(len(others), generator=generator)[:n_control]]]

        def relay(event, name=name):
            if event["stage"] == "optimising":
                emit({**event, "stage": "datapath", "set": name})

        with warnings.catch_warnings():
            warnings.simplefilter("always", PathlensWarning)
            datapaths[name] = extract_datapath(
                net, set_images[name], control=control, seed=seed, callback=relay,
                **datapath_settings,
            )  # fmt: skip
        timing[f"datapath {name}"] = time.perf_counter() - t

    emit({"stage": "comparison"})
    t = time.perf_counter()
    means = {k: net.channel_means(v) for k, v in set_images.items()}
    comparisons = {
        "AB": compare(datapaths["A"], datapaths["B"], means["A"], means["B"]),
        "AC": compare(datapaths["A"], datapaths["C"], means["A"], means["C"]),
    }
    order = [s.name for s in net.sites]
    progress = progress_to_target(comparisons["AB"], comparisons["AC"])
    divergence, merge = divergence_and_merge(progress, order)
    toward_target = target_contributions(net, set_images["A"], target)
    after = set(order[order.index(divergence) :]) if divergence else set()
    error_channels = [
        ErrorChannel(c.site, ch, side, float(toward_target[c.site][ch]))
        for c in comparisons["AB"]
        if c.site in after
        for side, chans in (("adversarial only", c.only_a), ("normal only", c.only_b))
        for ch in chans
    ]
    error_channels.sort(key=lambda e: -abs(e.contribution))
    timing["comparison"] = time.perf_counter() - t

    emit({"stage": "contributions"})
    t = time.perf_counter()
    matrices = channel_contributions(net, set_images["A"], datapaths["A"].channels)
    timing["contributions"] = time.perf_counter() - t

    emit({"stage": "neurons"})
    t = time.perf_counter()
    neurons = neuron_arrays(
        net, set_images, images[:patch_images], error_channels[:n_maximize], seed=seed
    )
    timing["neurons"] = time.perf_counter() - t
    timing["total"] = time.perf_counter() - start
    analysis = AdversarialAnalysis(
        source=int(source),
        target=int(target),
        sites=order,
        sets=sets,
        datapaths=datapaths,
        comparisons=comparisons,
        progress=[round(p, 4) for p in progress],
        divergence=divergence,
        merge=merge,
        error_channels=error_channels,
        contributions={f"{s}->{t}": m.tolist() for (s, t), m in matrices.items()},
        attack=attack_facts,
        timing={k: round(v, 3) for k, v in timing.items()},
    )
    # The images and neuron-level arrays travel with the analysis, outside its JSON; the run
    # store keeps them as arrays.
    analysis.set_images = set_images
    analysis.neurons = neurons
    emit({"stage": "done", "analysis": analysis})
    return analysis


def _check_settings(attack, eps, n, min_set, n_control, patch_images, n_maximize, adversarial):
    """Refuse bad settings before the first forward pass: a negative count would otherwise
    run for minutes before anything noticed."""
    if adversarial is None:
        if attack not in ATTACKS:
            raise PathlensError(f"Unknown attack {attack!r}: give one of {', '.join(ATTACKS)}.")
        _check_eps(eps, ATTACKS[attack].norm)
    check_count("n", n)
    check_count("min_set", min_set)
    check_count("n_control", n_control)
    check_count("patch_images", patch_images)
    check_count("n_maximize", n_maximize, least=0)
