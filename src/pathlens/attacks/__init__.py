"""Adversarial examples through the Adversarial Robustness Toolbox, in [0, 1] pixel space.

>>> from pathlens.attacks import attack
>>> result = attack(model, images, labels, method="pgd", eps=0.1, target=7)
"""

from pathlens.attacks._attack import METHODS, AttackResult, attack

__all__ = ["METHODS", "AttackResult", "attack"]
