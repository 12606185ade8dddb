"""Ranking scorers: one score per channel per site, higher = more important.

Each is judged by the same hard-mask search (`_search.search_per_site`).
"""

from __future__ import annotations

import torch

from pathlens._options import Option
from pathlens._torch import forward_with_grad, frozen
from pathlens.datapath._problem import Problem
from pathlens.datapath._registry import register_method


def _channel_sum(t: torch.Tensor) -> torch.Tensor:
    """[N, C, ...] -> [N, C], summing positions."""
    return t.reshape(t.shape[0], t.shape[1], -1).sum(2)


@register_method("activation", cut="per_site", help="top mean activation (the common practice)")
def activation_scores(problem: Problem, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """Mean activation of each channel over the set and positions (the common practice)."""
    acts = problem.net.activations(problem.images, batch_size=problem.batch_size)
    problem.images_pushed += len(problem.images)
    return {n: _channel_sum(a).mean(0) / max(1, a[0, 0].numel()) for n, a in acts.items()}


@register_method("gradxact", cut="per_site", help="|gradient x activation| of the target logit")
def gradxact_scores(problem: Problem, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """|gradient x activation| of the target logit, summed over positions, mean over the set."""
    names = problem.net.site_names
    totals = {s.name: torch.zeros(s.channels) for s in problem.sites}
    with frozen(problem.net.model):
        for start in range(0, len(problem.images), problem.batch_size):
            t = problem.targets[start : start + problem.batch_size]
            x, logits, outputs = forward_with_grad(
                problem.net.model, problem.images[start : start + problem.batch_size], names
            )
            grads = torch.autograd.grad(
                logits.gather(1, t[:, None]).sum(), [outputs[n] for n in names]
            )
            for name, grad in zip(names, grads, strict=True):
                totals[name] += _channel_sum(grad * outputs[name]).abs().sum(0).detach()
            problem.images_pushed += len(x)
    return {n: v / len(problem.images) for n, v in totals.items()}


@register_method(
    "conductance",
    cut="per_site",
    help="Captum layer conductance toward the target class",
    options=(Option("n_steps", int, 16, "integration steps from the black baseline", low=1),),
)
def conductance_scores(problem: Problem, *, seed: int = 0, n_steps: int) -> dict[str, torch.Tensor]:
    """Captum layer conductance toward the target class, summed over positions, set mean."""
    from captum.attr import LayerConductance

    net = problem.net
    modules = dict(net.model.named_modules())
    scores = {}
    for site in net.sites:
        method = LayerConductance(net.model, modules[site.name])
        attributions = method.attribute(
            problem.images,
            baselines=torch.zeros_like(problem.images),
            target=problem.targets,
            n_steps=n_steps,
            internal_batch_size=problem.batch_size,
        )
        problem.images_pushed += len(problem.images) * (n_steps + 1)
        scores[site.name] = _channel_sum(attributions.detach()).mean(0)
    return scores


@register_method("random", cut="per_site", help="uniform random scores (the floor)")
def random_scores(problem: Problem, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """Uniform random scores: the floor every method must beat."""
    generator = torch.Generator().manual_seed(seed)
    return {s.name: torch.rand(s.channels, generator=generator) for s in problem.sites}
