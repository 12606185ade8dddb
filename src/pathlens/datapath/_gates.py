"""Gate optimisation (the default method): one gate per channel per site, shared by the set.

Minimise mean KL(p(x) || p(x; z)) over the set + a margin term that keeps control images out
of the set's classes + lambda * mean(z), weights frozen, projected Adam. The optimum is
transient (with a strong penalty the gates pass through the sparsest faithful state and then
collapse), so early stopping is driven by hard-mask checks, and the best checked gates win.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from pathlens._options import Option
from pathlens._torch import frozen
from pathlens.datapath._problem import Problem, keep_top
from pathlens.datapath._registry import register_method


def hard_gates(gates: dict[str, torch.Tensor], threshold: float = 0.5) -> dict[str, torch.Tensor]:
    """0/1 gates: channels at or above the threshold, and at least the top one per site."""
    counts = {n: max(1, int((g >= threshold).sum())) for n, g in gates.items()}
    return keep_top(gates, counts)


def margin_loss(logits: torch.Tensor, set_classes: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean hinge pushing the best set-class logit below the best other logit by `margin`."""
    inside = torch.zeros(logits.shape[1], dtype=torch.bool)
    inside[set_classes] = True
    best_in = logits[:, inside].max(1).values
    best_out = logits[:, ~inside].max(1).values
    return F.relu(best_in - best_out + margin).mean()


@register_method(
    "gates",
    cut="global",
    help="learned gates shared by the set, checked with hard masks (the default)",
    options=(
        Option("sparsity", float, 3.0, "starting weight of the penalty on kept gates", low=0),
        Option("contrast", float, 1.0, "weight of the margin term on control images", low=0),
        Option("margin", float, 1.0, "logit margin control images keep from the set", low=0),
        Option("necessity", float, 0.0, "weight of the loss with the datapath removed", low=0),
        Option("lr", float, 0.1, "Adam learning rate of the gates", low=0, low_open=True),
        Option("max_steps", int, 60, "most optimisation steps", low=1),
        Option("check_every", int, 2, "steps between hard-mask checks", low=1),
        Option("patience", int, 10, "checks without a sparser passing mask before stopping", low=1),
        Option("warmup", int, 24, "steps whose failed checks do not count to patience", low=0),
        Option("min_gain", float, 0.005, "share of all channels a check must save", low=0, high=1),
        Option("adapt", float, 1.3, "factor the penalty moves by after each check", low=1),
        Option("max_candidates", int, 4, "later gate states searched for sparser cuts", low=1),
        Option("control_batch", int, 32, "control images per gradient step", low=1),
    ),
)
def optimise_gates(
    problem: Problem,
    *,
    seed: int,
    sparsity: float,
    contrast: float,
    necessity: float,
    margin: float,
    lr: float,
    max_steps: int,
    check_every: int,
    patience: int,
    warmup: int,
    min_gain: float,
    adapt: float,
    max_candidates: int,
    control_batch: int,
    on_step: Callable[[int, dict[str, torch.Tensor], dict], None] | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None, list[dict[str, torch.Tensor]]]:
    """Gate values in [0, 1] per site from the sparsest hard-checked state seen, that state's
    passing hard mask (None if no state passed), and up to `max_candidates` later states
    (the last one included) whose 0.5 threshold failed but whose ranking, cut at another
    threshold, may give a sparser passing mask.

    Stops when `patience` checks in a row brought no state sparser by `min_gain` of all
    channels (the gates converged, or collapsed and stopped passing). Failures in the first
    `warmup` steps do not count: the gates of unimportant channels all cross 0.5 together,
    and the adaptive penalty needs a few steps to bring the important ones back.
    """
    net, n = problem.net, len(problem.images)
    gates = {s.name: torch.ones(s.channels, requires_grad=True) for s in problem.sites}
    optimizer = torch.optim.Adam(gates.values(), lr=lr)
    with torch.no_grad():
        reference_logp = F.log_softmax(net.model(problem.images), 1)
    problem.images_pushed += n
    keep_own = reference_logp.argmax(1) == problem.targets
    best, best_kept, best_hard, stalled = None, float("inf"), None, 0
    sparser_failing: list[dict[str, torch.Tensor]] = []
    weight = sparsity
    total = problem.total_channels
    # The gradient steps see at most `control_batch` control images; every hard check sees all.
    rows = min(len(problem.inputs), n + control_batch)
    train_inputs = problem.inputs[:rows]
    # With a necessity weight the set goes through again under 1 - z (what is left when the
    # datapath is removed), in the same forward, as per-image gates.
    inputs = torch.cat([train_inputs, problem.images]) if necessity else train_inputs
    with frozen(net.model):
        for step in range(1, max_steps + 1):
            per_image = {
                k: torch.cat([g.expand(rows, -1), (1 - g).expand(len(inputs) - rows, -1)])
                for k, g in gates.items()
            }
            with net.gate(per_image, ablation=problem.ablation, reference=problem.reference):
                logits = net.model(inputs)
            problem.images_pushed += len(inputs)
            logp = F.log_softmax(logits[:n], 1)
            # KL to the original prediction where the target is the model's own top-1,
            # cross-entropy to the target where the user asked for another class.
            kl = F.kl_div(logp, reference_logp, log_target=True, reduction="none").sum(1)
            ce = F.nll_loss(logp, problem.targets, reduction="none")
            keep_loss = torch.where(keep_own, kl, ce).mean()
            loss = keep_loss + weight * sum(g.sum() for g in gates.values()) / total
            if problem.n_control:
                loss = loss + contrast * margin_loss(logits[n:rows], problem.set_classes, margin)
            if necessity:
                removed = logits[rows:]
                target_logit = removed.gather(1, problem.targets[:, None]).squeeze(1)
                others = removed.scatter(1, problem.targets[:, None], float("-inf"))
                loss = loss + necessity * F.relu(target_logit - others.max(1).values).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                for g in gates.values():
                    g.clamp_(0.0, 1.0)
            if step % check_every:
                continue
            snapshot = {k: g.detach().clone() for k, g in gates.items()}
            hard = hard_gates(snapshot)
            kept = sum(int(h.sum()) for h in hard.values())
            ok, sufficiency, specificity = problem.check(hard)
            if on_step is not None:
                on_step(
                    step,
                    snapshot,
                    {
                        "loss": loss.item(),
                        "kept_fraction": kept / total,
                        "sufficiency": sufficiency,
                        "specificity": specificity,
                        "passed": ok,
                        "max_steps": max_steps,
                    },
                )
            # The penalty adapts like a Lagrange multiplier: stronger while the hard mask
            # passes, weaker once it fails, so the gates hover at the faithful boundary
            # instead of collapsing through it.
            weight = weight * adapt if ok else weight / adapt
            if not ok and kept < best_kept:
                sparser_failing.append(snapshot)
            if ok and kept < best_kept:
                improved = kept < best_kept - min_gain * total
                best, best_kept, best_hard = snapshot, kept, hard
                stalled = 0 if improved else stalled + 1
            elif best is not None and step > warmup:
                stalled += 1  # failing or not sparser: collapsing or converged
            if stalled >= patience:
                break
    last = {k: g.detach().clone() for k, g in gates.items()}
    candidates = [*sparser_failing[-(max_candidates - 1) :], last][-max_candidates:]
    return (best if best is not None else last), best_hard, candidates
