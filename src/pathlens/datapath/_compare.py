"""Comparing datapaths of image sets site by site, and contributions between channels."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import torch
import torch.nn.functional as F

from pathlens._torch import forward_with_grad
from pathlens.datapath._datapath import Datapath
from pathlens.errors import PathlensError
from pathlens.model import Network


@dataclass
class SiteComparison:
    """How alike two image sets are at one site.

    jaccard: overlap of the kept channels (shared over all kept by either); similarity:
    cosine similarity of the per-channel mean activations of the two sets (over images and
    positions).
    """

    site: str
    jaccard: float
    similarity: float
    shared: list[int]
    only_a: list[int]
    only_b: list[int]


def compare(
    a: Datapath,
    b: Datapath,
    means_a: dict[str, torch.Tensor],
    means_b: dict[str, torch.Tensor],
) -> list[SiteComparison]:
    """Per site (in the datapaths' site order): channel overlap and activation similarity.

    means_a, means_b: per-channel mean activations of the two sets (`Network.channel_means`).
    """
    result = []
    for site, kept_a in a.channels.items():
        set_a, set_b = set(kept_a), set(b.channels[site])
        union = set_a | set_b
        result.append(
            SiteComparison(
                site=site,
                jaccard=len(set_a & set_b) / len(union) if union else 1.0,
                similarity=F.cosine_similarity(means_a[site], means_b[site], dim=0).item(),
                shared=sorted(set_a & set_b),
                only_a=sorted(set_a - set_b),
                only_b=sorted(set_b - set_a),
            )
        )
    return result


def channel_contributions(
    net: Network,
    images: torch.Tensor,
    channels: dict[str, list[int]],
    edges: list[tuple[str, str]] | None = None,
) -> dict[tuple[str, str], torch.Tensor]:
    """How much of channel j's activation at site t comes from channel i at site s.

    For every edge (s, t) of the site graph: a matrix [len(channels[s]), len(channels[t])]
    of gradient x activation, d(sum of a_t[j]) / d(a_s[i]) * a_s[i] summed over positions
    and averaged over `images` — through residual additions and concatenations, since it
    differentiates the real forward.
    """
    edges = net.edges if edges is None else edges
    for name in {name for edge in edges for name in edge} | set(channels):
        net.site(name)  # a PathlensError naming an unknown site
    missing = [name for edge in edges for name in edge if name not in channels]
    if missing:
        raise PathlensError(
            f"channels has no entry for site {missing[0]!r}: give the kept channels of every "
            "site on the edges."
        )
    x, _, outputs = forward_with_grad(net.model, images, {name for edge in edges for name in edge})
    sources_of: dict[str, list[str]] = {}
    for s, t in edges:
        sources_of.setdefault(t, []).append(s)
    result = {}
    for t, sources in sources_of.items():
        rows = {s: [] for s in sources}
        out_t = outputs[t]
        for j in channels[t]:
            grads = torch.autograd.grad(
                out_t[:, j].sum(), [outputs[s] for s in sources], retain_graph=True
            )
            for s, g in zip(sources, grads, strict=True):
                a_s = outputs[s]
                per_channel = (g * a_s).reshape(len(x), a_s.shape[1], -1).sum(2).mean(0)
                rows[s].append(per_channel[channels[s]].detach())
        for s in sources:
            result[(s, t)] = (
                torch.stack(rows[s], 1) if rows[s] else torch.zeros(len(channels[s]), 0)
            )
    return result


def target_contributions(
    net: Network, images: torch.Tensor, target: int
) -> dict[str, torch.Tensor]:
    """Gradient x activation of the `target` logit per channel: site -> [C], set mean."""
    names = [s.name for s in net.sites]
    x, logits, outputs = forward_with_grad(net.model, images, names)
    n_classes = logits.shape[1]
    if isinstance(target, bool) or not isinstance(target, Integral) or not 0 <= target < n_classes:
        raise PathlensError(f"target must be a class index in 0..{n_classes - 1}, not {target!r}.")
    grads = torch.autograd.grad(logits[:, target].sum(), [outputs[n] for n in names])
    return {
        n: (g * outputs[n]).reshape(len(x), g.shape[1], -1).sum(2).mean(0).detach()
        for n, g in zip(names, grads, strict=True)
    }
