"""How a network works as a whole (the CNNVis idea): per site, clusters of channels with their
learned features and class profiles; between sites, bundled connections between clusters."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from pathlens._torch import frozen
from pathlens.errors import PathlensError
from pathlens.mechanism._bundle import BUNDLE_GROUPS, Bundle, EdgeBundles, bundle_edge
from pathlens.mechanism._cluster import (
    SPATIAL_STATS,
    SPATIAL_WEIGHT,
    SiteClusters,
    channel_features,
    cluster_channels,
)
from pathlens.mechanism._contributions import direct_contributions
from pathlens.mechanism._features import (
    ReceptiveField,
    TopPatches,
    _check_batch_size,
    _crop,
    _device,
    _field_boxes,
    _image_size,
    activation_maximization,
    receptive_field,
)
from pathlens.model import Network

SCHEMA = 1
K_MAX = 8
CONTRIBUTION_IMAGES = 256
_PATCH_FIELDS = ("image", "position", "value", "box", "origin")


# ---------------------------------------------------------------------------- results
@dataclass
class SiteMechanism:
    """One site: its channels' statistics, their clusters and the geometry of their patches.

    ``stats`` holds per-channel values [C]: ``mean`` (mean activation over images and
    positions), ``max_mean`` (mean over images of the max-pooled response), ``fill`` (mean
    over images of mean / max of the positive part of the map: near 1 when a channel fires
    everywhere, near 0 when at one spot) and ``spread`` (spatial standard deviation of the
    channel's mean positive map, relative to that of a uniform map; 0 for linear sites).
    """

    name: str
    channels: int
    shape: list[int]
    receptive_field: ReceptiveField
    clusters: SiteClusters
    stats: dict[str, np.ndarray]
    patch_size: list[int]

    @property
    def n_clusters(self) -> int:
        return self.clusters.n_clusters

    def to_dict(self) -> dict:
        c = self.clusters
        rf = self.receptive_field
        return {
            "name": self.name,
            "channels": self.channels,
            "shape": list(self.shape),
            "receptive_field": {
                "size": list(rf.size),
                "stride": list(rf.stride),
                "offset": list(rf.offset),
                "grid": list(rf.grid),
                "input_size": list(rf.input_size),
                "exact": rf.exact,
            },
            "patch_size": list(self.patch_size),
            "n_clusters": c.n_clusters,
            "chosen_by": c.chosen_by,
            "silhouette": {str(k): v for k, v in c.silhouette.items()},
            "labels": c.labels.tolist(),
            "channel_order": list(c.channel_order),
            "clusters": [
                {
                    "id": i,
                    "channels": list(members),
                    "size": len(members),
                    "representative": c.representative[i],
                    "cohesion": c.cohesion[i],
                    "class_means": c.class_matrix[i].tolist(),
                }
                for i, members in enumerate(c.members)
            ],
            "class_matrix": c.class_matrix.tolist(),
            "class_order": list(c.class_order),
            "stats": {k: v.tolist() for k, v in self.stats.items()},
        }

    @classmethod
    def from_dict(cls, body: dict) -> SiteMechanism:
        rf = body["receptive_field"]
        field_ = ReceptiveField(
            site=body["name"],
            size=tuple(rf["size"]),
            stride=tuple(rf["stride"]),
            offset=tuple(rf["offset"]),
            grid=tuple(rf["grid"]),
            input_size=tuple(rf["input_size"]),
            exact=rf["exact"],
        )
        clusters = SiteClusters(
            labels=np.array(body["labels"], dtype=int),
            members=[list(c["channels"]) for c in body["clusters"]],
            channel_order=list(body["channel_order"]),
            representative=[c["representative"] for c in body["clusters"]],
            cohesion=[c["cohesion"] for c in body["clusters"]],
            class_matrix=np.array(body["class_matrix"], dtype=np.float64).reshape(
                len(body["clusters"]), -1
            ),
            class_order=list(body["class_order"]),
            silhouette={int(k): v for k, v in body["silhouette"].items()},
            chosen_by=body["chosen_by"],
        )
        return cls(
            name=body["name"],
            channels=body["channels"],
            shape=list(body["shape"]),
            receptive_field=field_,
            clusters=clusters,
            stats={k: np.array(v, dtype=np.float64) for k, v in body["stats"].items()},
            patch_size=list(body["patch_size"]),
        )


def _edge_to_dict(index: int, edge: EdgeBundles) -> dict:
    return {
        "index": index,
        "source": edge.source,
        "target": edge.target,
        "total_weight": edge.total_weight,
        "total_strength": edge.total_strength,
        "cluster_weight": edge.weight.tolist(),
        "cluster_strength": edge.strength.tolist(),
        "groups": edge.groups,
        "bundles": [b.to_dict() for b in edge.bundles],
    }


def _edge_from_dict(body: dict) -> EdgeBundles:
    shape = (len(body["cluster_weight"]), -1)
    return EdgeBundles(
        source=body["source"],
        target=body["target"],
        weight=np.array(body["cluster_weight"], dtype=np.float64).reshape(shape),
        strength=np.array(body["cluster_strength"], dtype=np.float64).reshape(shape),
        bundles=[Bundle(**b) for b in body["bundles"]],
        groups=body["groups"],
    )


@dataclass
class Mechanism:
    """The result of `analyze`: a JSON summary (`to_dict`) plus named arrays.

    ``sites`` (in forward order) and ``edges`` (one per edge of the site graph, same order as
    ``network["edges"]``) describe clusters and bundles; ``arrays`` holds the dense data,
    named ``sites/{site}/{what}`` (``profile`` [C, K] mean activation per class, ``features``
    [C, F] clustering features, ``mean_map`` [C, H, W], ``patches`` [C, k, C_in, ph, pw] and
    ``patch_{image,position,value,box,origin}`` as in `TopPatches`, ``maximization``
    [clusters, C_in, H, W] when asked for) and ``edges/{index}/contributions`` [C_s, C_t].
    """

    sites: list[SiteMechanism]
    edges: list[EdgeBundles]
    classes: list[str]
    class_counts: list[int]
    n_images: int
    settings: dict
    timing: dict[str, float]
    network: dict
    data: dict = field(default_factory=dict)
    arrays: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)

    def site(self, name: str) -> SiteMechanism:
        for s in self.sites:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sites)
        raise PathlensError(f"The mechanism has no site {name!r}; its sites: {known}.")

    def top_patches(self, site: str) -> TopPatches:
        """The learned features of every channel of `site` (see `TopPatches`)."""
        spec = self.site(site)
        part = {f: self.arrays[f"sites/{spec.name}/patch_{f}"] for f in _PATCH_FIELDS}
        return TopPatches(
            site=spec.name,
            channels=list(range(spec.channels)),
            image_index=part["image"],
            position=part["position"],
            value=part["value"],
            box=part["box"],
            origin=part["origin"],
            patches=self.arrays[f"sites/{spec.name}/patches"],
        )

    def contributions(self, source: str, target: str) -> torch.Tensor:
        """The channel contribution matrix [C_s, C_t] of edge (source, target)."""
        for i, e in enumerate(self.edges):
            if (e.source, e.target) == (source, target):
                return self.arrays[f"edges/{i}/contributions"]
        raise PathlensError(f"The site graph has no edge {source} -> {target}.")

    def to_dict(self) -> dict:
        """The JSON summary (everything but the arrays)."""
        return {
            "schema": SCHEMA,
            "kind": "mechanism",
            "n_images": self.n_images,
            "classes": list(self.classes),
            "class_counts": list(self.class_counts),
            "data": dict(self.data),
            "settings": dict(self.settings),
            "timing": dict(self.timing),
            "sites": [s.to_dict() for s in self.sites],
            "edges": [_edge_to_dict(i, e) for i, e in enumerate(self.edges)],
            "network": self.network,
        }

    @classmethod
    def from_dict(cls, body: dict, arrays: dict[str, torch.Tensor] | None = None) -> Mechanism:
        if body.get("schema", 0) > SCHEMA:
            raise PathlensError(
                f"This mechanism was written by a newer pathlens (schema {body['schema']}; "
                f"this one reads up to {SCHEMA}). Upgrade pathlens to open it."
            )
        return cls(
            sites=[SiteMechanism.from_dict(s) for s in body["sites"]],
            edges=[_edge_from_dict(e) for e in body["edges"]],
            classes=list(body["classes"]),
            class_counts=list(body["class_counts"]),
            n_images=body["n_images"],
            settings=dict(body["settings"]),
            timing=dict(body["timing"]),
            network=body["network"],
            data=dict(body.get("data", {})),
            arrays=dict(arrays or {}),
        )


# ---------------------------------------------------------------------------- analysis
def analyze(
    net: Network,
    images: torch.Tensor,
    labels: torch.Tensor | Sequence[int],
    *,
    classes: Sequence[str] | None = None,
    k_max: int = K_MAX,
    n_clusters: int | None = None,
    patches: int = 8,
    batch_size: int = 256,
    contribution_images: int = CONTRIBUTION_IMAGES,
    spatial_weight: float = SPATIAL_WEIGHT,
    bundle_groups: int = BUNDLE_GROUPS,
    maximize: bool = False,
    maximize_steps: int = 128,
    data: dict | None = None,
    callback: Callable[[dict], None] | None = None,
) -> Mechanism:
    """How the network works over a data set: clusters, learned features, bundled connections.

    images [N, C_in, H, W] with class labels [N] (ints 0..K-1; `classes` names them).

    1. **One streaming pass** over `images` (batches of `batch_size`) records, at every site
       at once, each channel's mean activation per class, the mean of its max-pooled
       response, its fill and mean map (see `SiteMechanism`), and its running top-`patches`
       images (as `top_patches`: each image once per channel at its strongest position, ties
       to the earlier image). The patches are then cropped to the receptive field.
    2. **Clusters** per site: features = each channel's class profile standardised across
       classes (weight 1 - spatial_weight) plus max_mean, fill and spread standardised across
       channels (weight spatial_weight); Ward agglomerative clustering, the number of clusters
       k in 2..k_max chosen by the **best mean silhouette** (or fixed by `n_clusters`).
       Clusters, their channels and the classes of the cluster x class matrix are in optimal
       leaf order.
    3. **Contributions** along every edge of the site graph: direct gradient x activation
       between channels (`direct_contributions`), averaged over `contribution_images` images
       drawn evenly from the classes (the first of each class, in order). 0 skips this step
       and the next (``edges`` is then empty).
    4. **Bundles**: each edge's contributions summed to cluster pairs and grouped by spectral
       co-clustering into at most ``bundle_groups**2`` bundles; the bundles partition the
       channel pairs, so signed weight and absolute strength are preserved exactly.

    maximize: also an activation-maximisation image per cluster, of its representative
    channel (`activation_maximization` with `maximize_steps` steps; slow: one forward and
    backward per step and cluster). data: facts about the images
    to keep with the result (e.g. ``{"split": "test"}``). callback receives progress events
    ``{"stage", "done", "total"}`` and ``{"stage": "done"}`` at the end.

    >>> result = analyze(net, test.images, test.labels, classes=test.classes)
    >>> [(s.name, s.n_clusters) for s in result.sites][:2]
    [('stem.2', 2), ('layer1.0.relu1', 2)]
    """
    started = time.perf_counter()
    images = net.check_inputs(images)
    _image_size(net, "Mechanism analysis")
    labels = _check_labels(labels, len(images), classes)
    n_classes = len(classes) if classes is not None else int(labels.max()) + 1
    class_names = list(classes) if classes is not None else [str(i) for i in range(n_classes)]
    _check_positive("k_max", k_max, 2)
    _check_positive("patches", patches, 1)
    _check_positive("contribution_images", contribution_images, 0)
    _check_positive("bundle_groups", bundle_groups, 1)
    _check_positive("maximize_steps", maximize_steps, 0)
    if n_clusters is not None:
        _check_positive("n_clusters", n_clusters, 1)
    _check_batch_size(batch_size)
    if not 0 <= spatial_weight <= 1:
        raise PathlensError(f"spatial_weight must be in [0, 1], not {spatial_weight!r}.")
    for site in net.sites:
        if len(site.shape) not in (1, 3):
            raise PathlensError(
                f"Site {site.name!r} has output [N, {', '.join(map(str, site.shape))}]; the "
                "mechanism analysis needs [N, C, H, W] or [N, C] at every site. Build the "
                "Network with sites=[...] that leaves it out."
            )
    emit = callback or (lambda event: None)
    timing: dict[str, float] = {}

    clock = time.perf_counter()
    fields = {s.name: receptive_field(net, s.name) for s in net.sites}
    timing["receptive_fields"] = time.perf_counter() - clock

    clock = time.perf_counter()
    k = min(patches, len(images))
    accumulators = _stream(net, images, labels, n_classes, k, batch_size, emit)
    timing["pass"] = time.perf_counter() - clock

    clock = time.perf_counter()
    arrays: dict[str, torch.Tensor] = {}
    for i, site in enumerate(net.sites):
        acc = accumulators[site.name]
        top = acc.top_patches(images, fields[site.name])
        prefix = f"sites/{site.name}/"
        arrays[prefix + "patches"] = top.patches
        for name, value in zip(
            _PATCH_FIELDS,
            (top.image_index, top.position, top.value, top.box, top.origin),
            strict=True,
        ):
            arrays[prefix + f"patch_{name}"] = value
        emit({"stage": "patches", "done": i + 1, "total": len(net.sites)})
    timing["patches"] = time.perf_counter() - clock

    clock = time.perf_counter()
    counts = torch.bincount(labels, minlength=n_classes)
    present = (counts > 0).numpy()
    results: list[SiteMechanism] = []
    for i, site in enumerate(net.sites):
        acc = accumulators[site.name]
        profile, stats, mean_map = acc.finish(counts, len(images))
        spatial = np.stack([stats[s] for s in SPATIAL_STATS], 1)
        features = channel_features(profile[:, present], spatial, spatial_weight)
        clusters = cluster_channels(features, profile, k_max, n_clusters)
        prefix = f"sites/{site.name}/"
        arrays[prefix + "profile"] = torch.from_numpy(profile).float()
        arrays[prefix + "features"] = torch.from_numpy(features).float()
        arrays[prefix + "mean_map"] = mean_map
        results.append(
            SiteMechanism(
                name=site.name,
                channels=site.channels,
                shape=list(site.shape),
                receptive_field=fields[site.name],
                clusters=clusters,
                stats=stats,
                patch_size=list(arrays[prefix + "patches"].shape[-2:]),
            )
        )
        emit({"stage": "clustering", "done": i + 1, "total": len(net.sites)})
    timing["clustering"] = time.perf_counter() - clock

    clock = time.perf_counter()
    sample = _stratified(labels, contribution_images)
    contributions = {}
    if len(sample):
        contributions = direct_contributions(
            net, images[sample], net.edges, batch_size=min(batch_size, 128), callback=emit
        )
    timing["contributions"] = time.perf_counter() - clock

    clock = time.perf_counter()
    by_name = {s.name: s for s in results}
    edges = []
    for i, (s, t) in enumerate(net.edges if len(sample) else []):
        matrix = contributions[(s, t)]
        arrays[f"edges/{i}/contributions"] = matrix
        a, b = by_name[s].clusters, by_name[t].clusters
        edges.append(
            bundle_edge(
                s, t, matrix.double().numpy(), a.labels, b.labels, a.n_clusters, b.n_clusters,
                groups=bundle_groups,
            )
        )  # fmt: skip
        emit({"stage": "bundling", "done": i + 1, "total": len(net.edges)})
    timing["bundling"] = time.perf_counter() - clock

    if maximize:
        clock = time.perf_counter()
        total = sum(r.n_clusters for r in results)
        done = 0
        for r in results:
            pictures = []
            for channel in r.clusters.representative:
                pictures.append(activation_maximization(net, r.name, channel, steps=maximize_steps))
                done += 1
                emit({"stage": "maximization", "done": done, "total": total})
            arrays[f"sites/{r.name}/maximization"] = torch.stack(pictures)
        timing["maximization"] = time.perf_counter() - clock

    timing["total"] = time.perf_counter() - started
    settings = {
        "k_max": k_max,
        "n_clusters": n_clusters,
        "criterion": "silhouette" if n_clusters is None else "given",
        "clustering": "ward agglomerative on standardised class profile + spatial statistics",
        "features": ["class profile (standardised per channel)", *SPATIAL_STATS],
        "spatial_weight": spatial_weight,
        "patches": k,
        "batch_size": batch_size,
        "contribution_images": len(sample),
        "contributions": "direct gradient x activation, summed over positions, image mean",
        "bundle_groups": bundle_groups,
        "bundling": "spectral co-clustering of cluster-pair |contribution| sums",
        "maximize": maximize,
        "maximize_steps": maximize_steps if maximize else 0,
    }
    emit({"stage": "done"})
    return Mechanism(
        sites=results,
        edges=edges,
        classes=class_names,
        class_counts=counts.tolist(),
        n_images=len(images),
        settings=settings,
        timing={k: round(v, 4) for k, v in timing.items()},
        network=net.describe(),
        data=dict(data or {}),
        arrays=arrays,
    )


# ---------------------------------------------------------------------------- streaming pass
class _Accumulator:
    """Running per-channel statistics and top-k images of one site."""

    def __init__(self, channels: int, n_classes: int, k: int, grid: tuple[int, int]):
        self.k = k
        self.grid = grid
        self.n_classes = n_classes
        self.channels = channels
        self.class_sum: torch.Tensor | None = None
        self.max_sum = self.fill_sum = self.map_sum = None
        self.best_value = torch.empty(channels, 0)
        self.best_image = torch.empty(channels, 0, dtype=torch.long)
        self.best_flat = torch.empty(channels, 0, dtype=torch.long)

    def update(self, out: torch.Tensor, labels: torch.Tensor, start: int) -> None:
        out = out.detach().float()
        flat = out.flatten(2) if out.dim() > 2 else out[:, :, None]  # [B, C, L]
        if self.class_sum is None:
            device = out.device
            self.class_sum = torch.zeros(self.n_classes, self.channels, dtype=torch.float64,
                                         device=device)  # fmt: skip
            self.max_sum = torch.zeros(self.channels, dtype=torch.float64, device=device)
            self.fill_sum = torch.zeros(self.channels, dtype=torch.float64, device=device)
            self.map_sum = torch.zeros(flat.shape[1:], dtype=torch.float64, device=device)
        mean = flat.mean(2)  # [B, C]
        self.class_sum.index_add_(0, labels.to(out.device), mean.double())
        value, where = flat.max(2)  # the first maximum of each image's map
        self.max_sum += value.double().sum(0)
        peak = value.clamp(min=0)  # the maximum of the positive part
        # After a ReLU the map is its positive part: skip a copy of the batch.
        positive_mean = mean if flat.amin() >= 0 else flat.clamp(min=0).mean(2)
        fill = torch.where(peak > 0, positive_mean / peak.clamp(min=1e-30), 0.0)
        self.fill_sum += fill.double().sum(0)
        self.map_sum += flat.sum(0)  # float32 per batch, float64 across batches
        # Running top-k, as in top_patches: a stable sort keeps earlier images first on ties.
        value, where = value.cpu(), where.cpu()
        count = len(value)
        image = torch.arange(start, start + count).expand(self.channels, count)
        value = torch.cat([self.best_value, value.T], 1)
        image = torch.cat([self.best_image, image], 1)
        where = torch.cat([self.best_flat, where.T], 1)
        order = torch.sort(value, dim=1, descending=True, stable=True).indices[:, : self.k]
        self.best_value = value.gather(1, order)
        self.best_image = image.gather(1, order)
        self.best_flat = where.gather(1, order)

    def top_patches(self, images: torch.Tensor, field: ReceptiveField) -> TopPatches:
        grid_width = field.grid[1]
        position = torch.stack([self.best_flat // grid_width, self.best_flat % grid_width], -1)
        box, origin, size = _field_boxes(field, position)
        return TopPatches(
            site=field.site,
            channels=list(range(self.channels)),
            image_index=self.best_image,
            position=position,
            value=self.best_value,
            box=box,
            origin=origin,
            patches=_crop(images, self.best_image, origin, size),
        )

    def finish(
        self, counts: torch.Tensor, n: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray], torch.Tensor]:
        """Class profile [C, K], per-channel statistics, mean map [C, H, W] (or [C, 1, 1])."""
        class_sum = self.class_sum.cpu()
        per_class = class_sum / counts.clamp(min=1)[:, None].double()
        profile = per_class.T.numpy()  # [C, K]; 0 for classes without images
        mean_map = (self.map_sum.cpu() / n).float()
        stats = {
            "mean": (class_sum.sum(0) / n).numpy(),
            "max_mean": (self.max_sum.cpu() / n).numpy(),
            "fill": (self.fill_sum.cpu() / n).numpy(),
            "spread": _spread(mean_map, self.grid),
        }
        return profile, stats, mean_map.reshape(self.channels, *self.grid)


def _spread(mean_map: torch.Tensor, grid: tuple[int, int]) -> np.ndarray:
    """Spatial standard deviation of each channel's positive mean map [C, L], divided by that
    of a uniform map on the same grid (0 where the map is empty or the grid one cell)."""
    height, width = grid
    uniform = math.sqrt((height**2 - 1) / 12 + (width**2 - 1) / 12)
    if uniform == 0:
        return np.zeros(len(mean_map))
    weight = mean_map.double().clamp(min=0).reshape(-1, height, width)
    total = weight.sum((1, 2))
    rows = torch.arange(height, dtype=torch.float64)[:, None].expand(height, width)
    cols = torch.arange(width, dtype=torch.float64)[None, :].expand(height, width)
    safe = total.clamp(min=1e-30)
    cy = (weight * rows).sum((1, 2)) / safe
    cx = (weight * cols).sum((1, 2)) / safe
    var = (weight * ((rows - cy[:, None, None]) ** 2 + (cols - cx[:, None, None]) ** 2)).sum(
        (1, 2)
    ) / safe
    spread = torch.where(total > 0, var.sqrt() / uniform, 0.0)
    return spread.numpy()


def _stream(net, images, labels, n_classes, k, batch_size, emit) -> dict[str, _Accumulator]:
    """One pass over the images with a hook on every site updating its accumulator.

    The statistics are taken inside the hook, before any later in-place operation can
    change the site's output.
    """
    modules = dict(net.model.named_modules())
    accumulators = {}
    for site in net.sites:
        grid = tuple(site.shape[1:]) if len(site.shape) == 3 else (1, 1)
        accumulators[site.name] = _Accumulator(site.channels, n_classes, k, grid)
    state = {"labels": None, "start": 0}
    seen: set[str] = set()

    def hook_for(name):
        def hook(module, args, out):
            accumulators[name].update(out, state["labels"], state["start"])
            seen.add(name)

        return hook

    handles = [modules[s.name].register_forward_hook(hook_for(s.name)) for s in net.sites]
    device = _device(net)
    batches = range(0, len(images), batch_size)
    try:
        with frozen(net.model, weights=False, mode="eval"), torch.inference_mode():
            for done, start in enumerate(batches):
                state["labels"] = labels[start : start + batch_size]
                state["start"] = start
                seen.clear()
                net.model(images[start : start + batch_size].to(device))
                missing = [s.name for s in net.sites if s.name not in seen]
                if missing:
                    raise PathlensError(
                        f"Site {missing[0]!r} did not run in the model's forward on images "
                        f"{start}..{start + batch_size - 1}; the analysis needs sites that run "
                        "for every input."
                    )
                emit({"stage": "pass", "done": done + 1, "total": len(batches)})
    finally:
        for h in handles:
            h.remove()
    return accumulators


# ---------------------------------------------------------------------------- helpers
def _stratified(labels: torch.Tensor, n: int) -> torch.Tensor:
    """Indices of up to n images spread evenly over the classes: the first image of each
    class, then the second of each, and so on; returned in ascending order."""
    if n >= len(labels):
        return torch.arange(len(labels))
    if n == 0:
        return torch.arange(0)
    rank = torch.zeros(len(labels), dtype=torch.long)
    seen: dict[int, int] = {}
    for i, c in enumerate(labels.tolist()):
        rank[i] = seen.get(c, 0)
        seen[c] = rank[i].item() + 1
    key = rank * len(labels) + torch.arange(len(labels))
    return torch.sort(torch.argsort(key)[:n]).values


def _check_labels(labels, n: int, classes: Sequence[str] | None) -> torch.Tensor:
    try:
        tensor = torch.as_tensor(labels)
    except (TypeError, ValueError, RuntimeError):
        raise PathlensError(
            f"labels must be a sequence of class indices, not {type(labels).__name__}."
        ) from None
    if tensor.dim() != 1 or len(tensor) != n:
        raise PathlensError(
            f"labels have shape {tuple(tensor.shape)}; give one class index per image ({n})."
        )
    whole = tensor.is_floating_point() and bool(torch.equal(tensor, tensor.round()))
    if (
        tensor.dtype == torch.bool
        or tensor.is_complex()
        or (tensor.is_floating_point() and not whole)
    ):
        raise PathlensError(f"labels must be whole class indices, not {tensor.dtype} values.")
    tensor = tensor.long().cpu()
    if tensor.min() < 0:
        raise PathlensError("labels must be class indices >= 0.")
    if classes is not None and tensor.max() >= len(classes):
        raise PathlensError(
            f"labels go up to {int(tensor.max())} but only {len(classes)} class names were given."
        )
    return tensor


def _check_positive(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PathlensError(f"{name} must be a whole number >= {minimum}, not {value!r}.")
