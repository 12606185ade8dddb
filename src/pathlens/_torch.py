"""Small torch helpers shared by the analysis packages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """Weights without gradients for the duration (only gates or inputs learn); restored."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def forward_with_grad(
    model: nn.Module, images: torch.Tensor, sites: Iterable[str]
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """One forward with gradients, keeping the outputs of `sites`: (input, logits, outputs).

    Each hook hands a clone downstream, so in-place operations after a site (an in-place
    ReLU) cannot change the kept output that gradients are taken with respect to.
    """
    modules = dict(model.named_modules())
    outputs: dict[str, torch.Tensor] = {}

    def capture(name):
        def hook(module, args, out):
            outputs[name] = out
            return out.clone()

        return hook

    handles = [modules[name].register_forward_hook(capture(name)) for name in sites]
    x = images.detach().clone().requires_grad_(True)
    try:
        with torch.enable_grad():
            logits = model(x)
    finally:
        for h in handles:
            h.remove()
    return x, logits, outputs
