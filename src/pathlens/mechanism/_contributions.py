"""Direct contributions between the channels of sites joined by an edge of the site graph."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from pathlens._torch import frozen
from pathlens.errors import PathlensError
from pathlens.mechanism._features import _check_batch_size, _device
from pathlens.model import Network


def direct_contributions(
    net: Network,
    images: torch.Tensor,
    edges: Sequence[tuple[str, str]] | None = None,
    batch_size: int = 128,
    callback: Callable[[dict], None] | None = None,
) -> dict[tuple[str, str], torch.Tensor]:
    """How much of channel j's activation at site t comes directly from channel i at site s.

    For each edge (s, t) (all of ``net.edges`` by default) a matrix [C_s, C_t]:
    ``sum over positions of d(sum of a_t[j]) / d(a_s[i]) * a_s[i]``, averaged over `images`
    — gradient x activation, as `pathlens.datapath.channel_contributions`, except that the
    gradient only flows through the sub-graph *between* the two sites: the outputs of all
    other sites are held fixed. So a residual edge stem -> layer2 counts the shortcut path,
    not the paths through the blocks' own sites (those are edges of their own), and the
    contributions of an edge do not repeat those of the edges it bypasses. On a chain of
    sites this equals the full gradient x activation.

    One forward with gradients per batch, then one backward per target channel over the small
    sub-graph in front of each target. The model runs in eval mode, its weights get no
    gradients and its modes are restored.
    """
    _check_batch_size(batch_size)
    images = net.check_inputs(images)
    edges = list(net.edges if edges is None else edges)
    for s, t in edges:
        net.site(s), net.site(t)
    if not edges:
        return {}
    sources_of: dict[str, list[str]] = {}
    for s, t in edges:
        sources_of.setdefault(t, []).append(s)
    involved = {name for edge in edges for name in edge}
    totals = {
        (s, t): torch.zeros(net.site(s).channels, net.site(t).channels, dtype=torch.float64)
        for s, t in edges
    }
    modules = dict(net.model.named_modules())
    device = _device(net)
    batches = range(0, len(images), batch_size)
    for done, start in enumerate(batches):
        batch = images[start : start + batch_size].to(device)
        outputs, leaves = _forward_cut(net, modules, batch, involved)
        for t, sources in sources_of.items():
            missing = [n for n in (t, *sources) if n not in outputs]
            if missing:
                raise PathlensError(
                    f"Site {missing[0]!r} did not run in the model's forward on these images, "
                    "so contributions through it cannot be measured."
                )
            _accumulate(t, sources, outputs, leaves, totals)
        if callback is not None:
            callback({"stage": "contributions", "done": done + 1, "total": len(batches)})
    return {edge: (total / len(images)).float() for edge, total in totals.items()}


def _forward_cut(net, modules, batch, names):
    """Forward with every site's output replaced by a fresh leaf (a cut in the graph).

    Returns the sites' outputs (functions of the leaves of earlier sites only) and the leaves.
    Downstream layers see a clone of the leaf, so in-place operations after a site cannot
    change the leaf or the kept output.
    """
    outputs: dict[str, torch.Tensor] = {}
    leaves: dict[str, torch.Tensor] = {}

    def cut(name):
        def hook(module, args, out):
            leaf = out.detach().requires_grad_(True)
            outputs[name] = out
            leaves[name] = leaf
            return leaf.clone()

        return hook

    # Cut at every site (not only those on the requested edges): an edge's sub-graph ends
    # at the nearest sites, whichever are asked for.
    handles = [modules[s.name].register_forward_hook(cut(s.name)) for s in net.sites]
    try:
        with (
            frozen(net.model, mode="eval"),
            torch.inference_mode(False),
            torch.enable_grad(),
        ):
            net.model(batch)
    finally:
        for h in handles:
            h.remove()
    return {n: outputs[n] for n in names if n in outputs}, leaves


def _accumulate(target, sources, outputs, leaves, totals) -> None:
    out = outputs[target]
    inputs = [leaves[s] for s in sources]
    if not out.requires_grad:  # the target does not depend on any earlier site
        return
    flat = out.reshape(out.shape[0], out.shape[1], -1)
    columns: dict[str, list[torch.Tensor]] = {s: [] for s in sources}
    with torch.enable_grad():
        channel_sums = flat.sum((0, 2))  # [C_t]: one scalar per target channel
        for j in range(out.shape[1]):
            grads = torch.autograd.grad(
                channel_sums[j], inputs, retain_graph=True, allow_unused=True
            )
            for s, leaf, grad in zip(sources, inputs, grads, strict=True):
                if grad is None:
                    columns[s].append(torch.zeros(leaf.shape[1], dtype=torch.float64))
                else:
                    part = (grad * leaf).reshape(leaf.shape[0], leaf.shape[1], -1).sum((0, 2))
                    columns[s].append(part.detach().double().cpu())
    for s in sources:
        totals[(s, target)] += torch.stack(columns[s], 1)
