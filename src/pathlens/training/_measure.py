"""What a snapshot measures: activation statistics of the probe pass, parameter statistics,
kernel-summed weights and output diversity, without a trace on the training run."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pathlens._torch import frozen
from pathlens.errors import PathlensError
from pathlens.training._plan import SitePlan, device_of, first_output
from pathlens.training._schema import (
    EDGE_WEIGHT,
    OUTPUT_DIVERSITY,
    PARAMETER_STATS,
    array_path,
    model_array_path,
)


class Measurer:
    """Measures one snapshot of every planned site; keeps the weights of the last snapshot
    (for ``update_norm``) and the probes moved to each model's device."""

    def __init__(
        self,
        models: dict[str, nn.Module],
        probes: dict[str, torch.Tensor],
        plans: list[SitePlan],
        probe_mode: str,
    ):
        self.models, self.probes, self.plans = models, probes, plans
        self.probe_mode = probe_mode
        self._previous = {id(p): _parameters(p.weight) for p in plans if p.weight}
        self._probe_on: dict[str, torch.Tensor] = {}

    def measure(self) -> dict[str, np.ndarray]:
        """Array path -> the snapshot's row (float32 [width]) for every recorded array."""
        out: dict[str, torch.Tensor] = {}
        for name, model in self.models.items():
            plans = [p for p in self.plans if p.model == name]
            out.update(self._activation_stats(name, model, plans))
        with torch.no_grad():
            for p in self.plans:
                out.update(self._parameter_stats(p))
                if p.edge:
                    matrix = summed_weight(p.weight, p.input_channels)
                    out[array_path(p.name, EDGE_WEIGHT)] = matrix.reshape(-1)
        return {path: t.detach().float().cpu().numpy() for path, t in out.items()}

    def _activation_stats(self, name: str, model: nn.Module, plans: list[SitePlan]):
        stats: dict[str, torch.Tensor] = {}

        def hook_for(p: SitePlan):
            def hook(module, args, output):
                x = output.detach()
                if x.dim() < 2 or x.shape[1] != p.channels:
                    raise PathlensError(
                        f"Site {p.name!r} returned shape {tuple(x.shape)} on the probe; it "
                        f"was recorded with {p.channels} channels on dim 1."
                    )
                dims = (0, *range(2, x.dim()))
                std, mean = torch.std_mean(x.float(), dim=dims, correction=0)
                stats[array_path(p.name, "act_mean")] = mean
                stats[array_path(p.name, "act_std")] = std

            return hook

        device = device_of(model)
        probe = self._probe_on.get(name)
        if probe is None or probe.device != device:
            probe = self._probe_on[name] = self.probes[name].to(device)
        handles = [p.module.register_forward_hook(hook_for(p)) for p in plans]
        mode = "eval" if self.probe_mode == "eval" else None
        try:
            # the training loop must not notice the probe: modes, batch-norm statistics and
            # the RNG are as it left them, and no graph is built
            with frozen(model, weights=False, mode=mode, rng=True, buffers=True), torch.no_grad():
                output = model(probe)
                stats[model_array_path(name, OUTPUT_DIVERSITY)] = diversity(output)
        finally:
            for h in handles:
                h.remove()
        missing = [p.name for p in plans if array_path(p.name, "act_mean") not in stats]
        if missing:
            raise PathlensError(
                f"Sites {missing} did not run on the probe batch; the model's forward changed "
                "since the tracker was created."
            )
        return stats

    def _parameter_stats(self, p: SitePlan) -> dict[str, torch.Tensor]:
        nan = torch.full((p.channels,), float("nan"))
        if p.weight is None:
            return {array_path(p.name, s): nan for s in PARAMETER_STATS}
        weight, bias = _parameters(p.weight, clone=False)
        grad_w = weight.grad
        grad_b = None if bias is None else bias.grad
        previous_w, previous_b = self._previous[id(p)]
        norms = {
            "weight_norm": _channel_norm(p.weight, weight, bias),
            "grad_norm": nan if grad_w is None else _channel_norm(p.weight, grad_w, grad_b),
        }
        if previous_w.shape == weight.shape:
            norms["update_norm"] = _channel_norm(
                p.weight, weight - previous_w, None if bias is None else bias - previous_b
            )
            previous_w.copy_(weight)
            if bias is not None:
                previous_b.copy_(bias)
        else:  # the layer was rebuilt: start over from here
            norms["update_norm"] = nan
            self._previous[id(p)] = _parameters(p.weight)
        return {array_path(p.name, s): v for s, v in norms.items()}


def summed_weight(layer: nn.Module, in_channels: int) -> torch.Tensor:
    """The weight of a convolution or linear layer summed over kernel positions: [C_out, C_in].

    Entry [j, i] is what input channel i adds to output channel j per unit of i's activation,
    where i is constant over positions (exact for a channel's mean, away from the borders).
    Grouped convolutions give a block-diagonal matrix; a linear layer reading a flattened
    map [C_in, positions] is summed over the positions.
    """
    w = layer.weight.detach().float()
    if isinstance(layer, nn.Linear):
        return w.reshape(w.shape[0], in_channels, -1).sum(2)
    summed = w.flatten(2).sum(2)
    groups = layer.groups
    if isinstance(layer, nn.modules.conv._ConvTransposeNd):
        # weight [C_in, C_out / groups, *kernel]: per group, transpose its [in, out] block
        size = summed.shape[0] // groups
        blocks = [summed[g * size : (g + 1) * size].T for g in range(groups)]
    else:  # weight [C_out, C_in / groups, *kernel]
        size = summed.shape[0] // groups
        blocks = [summed[g * size : (g + 1) * size] for g in range(groups)]
    return blocks[0] if groups == 1 else torch.block_diag(*blocks)


def diversity(output) -> torch.Tensor:
    """Root mean over elements of the variance across the batch, of the model's first
    floating-point output tensor; NaN when there is none."""
    value = first_output(output)
    if value is None:
        return torch.full((1,), float("nan"))
    flat = value.detach().float().reshape(len(value), -1)
    return flat.var(0, correction=0).mean().sqrt().reshape(1)


def _parameters(module: nn.Module, clone: bool = True):
    weight = module.weight
    bias = getattr(module, "bias", None)
    if not clone:
        return weight, bias
    return weight.detach().clone(), None if bias is None else bias.detach().clone()


def _channel_norm(
    module: nn.Module, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """L2 norm per output channel of a weight-shaped tensor and a bias-shaped one."""
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        # weight [in, out / groups, *kernel]: output channel g * (out / groups) + j
        groups = module.groups
        w = weight.reshape(groups, weight.shape[0] // groups, weight.shape[1], -1)
        squares = w.float().pow(2).sum(dim=(1, 3)).reshape(-1)
    else:
        squares = weight.float().reshape(weight.shape[0], -1).pow(2).sum(dim=1)
    if bias is not None:
        squares = squares + bias.float().pow(2)
    return squares.sqrt()
