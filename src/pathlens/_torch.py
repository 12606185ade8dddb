"""Small torch helpers shared by the analysis packages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def frozen(
    model: nn.Module,
    *,
    weights: bool = True,
    mode: str | None = None,
    rng: bool = False,
    buffers: bool = False,
) -> Iterator[None]:
    """The model's state preserved around a block of analysis; everything is restored after.

    Args:
        weights: parameters without gradients for the duration (only gates or inputs learn).
        mode: ``"eval"`` puts every module in eval mode (batch norm uses its running
            statistics, no dropout); ``None`` leaves the modes as they are. Module modes are
            restored either way.
        rng: restore the torch RNG state (CPU, and CUDA once initialised), so that dropout
            or sampling in the block does not shift a training loop's random stream.
        buffers: restore every buffer (batch-norm running statistics) to its value before,
            for a block that runs the model in train mode.

    >>> with frozen(model, mode="eval"):
    ...     gates = optimise_gates(model)  # weights untouched, no batch-norm update
    """
    if mode not in (None, "eval"):
        raise ValueError(f"mode must be None or 'eval', got {mode!r}")
    flags = [(p, p.requires_grad) for p in model.parameters()] if weights else []
    modes = [(m, m.training) for m in model.modules()]
    saved = _buffers(model) if buffers else []
    cpu_rng = torch.get_rng_state() if rng else None
    cuda_rng = (
        torch.cuda.get_rng_state_all()
        if rng and torch.cuda.is_available() and torch.cuda.is_initialized()
        else None
    )
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        if mode == "eval":
            # the flags directly, not model.eval(): a module's own train() may do more
            for m, _ in modes:
                m.training = False
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        for m, flag in modes:
            m.training = flag
        if cpu_rng is not None:
            torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        _restore_buffers(saved)


def _buffers(model: nn.Module) -> list[tuple[nn.Module, str, torch.Tensor, torch.Tensor]]:
    return [
        (module, key, tensor, tensor.clone())
        for module in model.modules()
        for key, tensor in module._buffers.items()
        if tensor is not None
    ]


def _restore_buffers(saved: list[tuple[nn.Module, str, torch.Tensor, torch.Tensor]]) -> None:
    with torch.no_grad():
        for module, key, tensor, before in saved:
            if module._buffers.get(key) is not tensor:
                module._buffers[key] = tensor
            # Copy only what changed: an in-place write bumps the version counter, which
            # autograd would report if a training loop used the buffer before its backward.
            if not torch.equal(tensor, before):
                tensor.copy_(before)


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
