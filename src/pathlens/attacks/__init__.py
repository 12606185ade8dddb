"""Adversarial examples through the Adversarial Robustness Toolbox, in [0, 1] pixel space.

>>> from pathlens.attacks import attack
>>> result = attack(net, images, labels, method="pgd", eps=0.1, target=7)
"""

from pathlens.attacks._attack import METHODS, AttackMethod, AttackResult, attack
from pathlens.attacks._codec import load_analysis, save_analysis
from pathlens.attacks._explain import (
    SETS,
    AdversarialAnalysis,
    ErrorChannel,
    divergence_and_merge,
    explain_adversarial,
    neuron_arrays,
    neuron_view,
    progress_to_target,
)

__all__ = [
    "METHODS",
    "SETS",
    "AdversarialAnalysis",
    "AttackMethod",
    "AttackResult",
    "ErrorChannel",
    "attack",
    "divergence_and_merge",
    "explain_adversarial",
    "load_analysis",
    "neuron_arrays",
    "neuron_view",
    "progress_to_target",
    "save_analysis",
]
