"""The image set, its targets and control images, and hard-mask evaluation on them.

Every method (scorer) is judged here the same way: hard 0/1 masks on the real network, one
forward over the set and the control images together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from pathlens.datapath._datapath import Fidelity
from pathlens.model import Network


@dataclass
class Problem:
    net: Network
    images: torch.Tensor  # [N, ...] the set
    targets: torch.Tensor  # [N] class to preserve per image
    control: torch.Tensor | None  # [M, ...] images of other classes, or None
    ablation: str = "zero"
    reference: dict[str, torch.Tensor] | None = None
    agreement: float = 1.0  # required sufficiency
    specificity: float = 0.9  # required specificity (when control images exist)
    max_necessity: float | None = None  # when set, removing the datapath must break the set
    batch_size: int = 512
    images_pushed: int = 0  # images through the model, for the benchmark
    _control_other: torch.Tensor | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.set_classes = torch.unique(self.targets)
        if self.control is not None:
            _, control_top1 = self.net.predict(self.control, self.batch_size)
            self.images_pushed += len(self.control)
            # Only control images the model itself puts outside the set's classes count.
            other = ~torch.isin(control_top1, self.set_classes)
            self._control_other = self.control[other]
            if len(self._control_other) == 0:
                self._control_other = None
        self.inputs = (
            self.images
            if self._control_other is None
            else torch.cat([self.images, self._control_other])
        )

    @property
    def sites(self):
        return self.net.sites

    @property
    def n_control(self) -> int:
        return 0 if self._control_other is None else len(self._control_other)

    @property
    def total_channels(self) -> int:
        return sum(s.channels for s in self.sites)

    def logits(self, gates: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits of set + control images under (hard or soft) gates, without gradients."""
        with self.net.gate(gates, ablation=self.ablation, reference=self.reference):
            logits, _ = self.net.predict(self.inputs, self.batch_size)
        self.images_pushed += len(self.inputs)
        return logits

    def split_scores(self, logits: torch.Tensor) -> tuple[float, float | None]:
        """(sufficiency, specificity) from logits of set + control images."""
        n = len(self.images)
        top1 = logits.argmax(1)
        sufficiency = (top1[:n] == self.targets).float().mean().item()
        if self._control_other is None:
            return sufficiency, None
        turned = torch.isin(top1[n:], self.set_classes)
        return sufficiency, 1.0 - turned.float().mean().item()

    def check(self, gates: dict[str, torch.Tensor]) -> tuple[bool, float, float | None]:
        """Whether hard gates meet the targets, with the sufficiency and specificity."""
        sufficiency, specificity = self.split_scores(self.logits(gates))
        ok = sufficiency >= self.agreement - 1e-9 and (
            specificity is None or specificity >= self.specificity - 1e-9
        )
        if ok and self.max_necessity is not None:
            ok = self.necessity(gates) <= self.max_necessity + 1e-9
        return ok, sufficiency, specificity

    def necessity(self, gates: dict[str, torch.Tensor]) -> float:
        """Share of the set that keeps its target when exactly the datapath is removed."""
        complement = {name: 1.0 - g for name, g in gates.items()}
        with self.net.gate(complement, ablation=self.ablation, reference=self.reference):
            _, top1 = self.net.predict(self.images, self.batch_size)
        self.images_pushed += len(self.images)
        return (top1 == self.targets).float().mean().item()

    def fidelity(self, gates: dict[str, torch.Tensor]) -> Fidelity:
        _, sufficiency, specificity = self.check(gates)
        return Fidelity(sufficiency, specificity, self.necessity(gates))


def keep_top(scores: dict[str, torch.Tensor], counts: dict[str, int]) -> dict[str, torch.Tensor]:
    """Hard 0/1 gates keeping the `counts[site]` highest-scoring channels of each site."""
    gates = {}
    for name, s in scores.items():
        g = torch.zeros_like(s)
        g[torch.argsort(s, descending=True, stable=True)[: counts[name]]] = 1.0
        gates[name] = g
    return gates
