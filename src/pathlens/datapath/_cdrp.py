"""CDRP-style per-image gates (Wang et al., "Interpret Neural Networks by Identifying Critical
Data Routing Paths", CVPR 2018), as a baseline.

Each image gets its own non-negative control gate per channel, initialised at 1 and learned
alone (SGD, momentum 0.9, on cross-entropy to the target plus KL to the original output,
plus gamma * L1 of the gates; 100 steps), one image at a time as in the paper. A set's
datapath is the union over its images: a channel's score is its largest gate.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from pathlens._options import Option
from pathlens._torch import frozen
from pathlens.datapath._problem import Problem
from pathlens.datapath._registry import register_method


@register_method(
    "cdrp",
    cut="global",
    help="CDRP-style per-image gates (Wang et al. 2018), union over the set",
    options=(
        Option("steps", int, 100, "SGD steps per image", low=1),
        Option("lr", float, 0.1, "SGD learning rate", low=0, low_open=True),
        Option("gamma", float, 0.05, "weight of the L1 penalty on the gates", low=0),
    ),
)
def cdrp_scores(
    problem: Problem,
    *,
    seed: int,
    steps: int,
    lr: float,
    gamma: float,
    on_step: Callable | None = None,
) -> tuple[dict[str, torch.Tensor], None, list]:
    net = problem.net
    best = {s.name: torch.zeros(s.channels) for s in problem.sites}
    with frozen(net.model):
        for i in range(len(problem.images)):
            x = problem.images[i : i + 1]
            with torch.no_grad():
                reference_logp = F.log_softmax(net.model(x), 1)
            gates = {s.name: torch.ones(s.channels, requires_grad=True) for s in problem.sites}
            optimizer = torch.optim.SGD(gates.values(), lr=lr, momentum=0.9)
            for _ in range(steps):
                with net.gate(gates, ablation=problem.ablation, reference=problem.reference):
                    logp = F.log_softmax(net.model(x), 1)
                l1 = sum(g.abs().sum() for g in gates.values())
                loss = F.nll_loss(logp, problem.targets[i : i + 1]) + gamma * l1
                if problem.targets[i] == reference_logp.argmax(1)[0]:
                    loss = loss + F.kl_div(logp, reference_logp, log_target=True, reduction="sum")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                with torch.no_grad():
                    for g in gates.values():
                        g.clamp_(min=0.0)
            problem.images_pushed += steps + 1
            for name, g in gates.items():
                best[name] = torch.maximum(best[name], g.detach())
    return best, None, []
