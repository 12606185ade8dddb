"""Adversarial examples through the Adversarial Robustness Toolbox, each attack declared once.

`METHODS` maps each attack's name to its `AttackMethod`: whether it can aim at a target class,
what its eps measures, and its typed options, which `attack()` checks by name.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from pathlens._options import Option, check_options
from pathlens.errors import PathlensError
from pathlens.model import Network


@dataclass(frozen=True)
class AttackMethod:
    """An attack: targeted (it can push images to a chosen class), norm (what eps bounds:
    "linf" or "l2" in [0, 1] pixel space, None when eps is unused), and its options."""

    name: str
    build: Callable[..., Any]  # (classifier, eps, targeted, batch_size, **options) -> ART attack
    targeted: bool
    norm: Literal["linf", "l2"] | None
    help: str
    options: tuple[Option, ...]

    def check(self, options: dict[str, Any]) -> dict[str, Any]:
        """Every option with its given (checked) or default value; PathlensError if wrong."""
        return check_options(self.options, options, f"Attack {self.name!r}")


METHODS: dict[str, AttackMethod] = {}

_STEPS = Option("steps", int, 20, "iterations", low=1)


def _register(
    name: str,
    *,
    targeted: bool,
    norm: Literal["linf", "l2"] | None,
    help: str,
    options: tuple[Option, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(build: Callable[..., Any]) -> Callable[..., Any]:
        METHODS[name] = AttackMethod(name, build, targeted, norm, help, options)
        return build

    return register


@_register("fgsm", targeted=True, norm="linf", help="fast gradient sign method, one step")
def _fgsm(classifier, eps, targeted, batch_size):
    from art.attacks.evasion import FastGradientMethod

    return FastGradientMethod(
        classifier, norm=np.inf, eps=eps, targeted=targeted, batch_size=batch_size
    )


def _pgd(norm: float, classifier, eps, targeted, batch_size, steps, step_size):
    from art.attacks.evasion import ProjectedGradientDescent

    return ProjectedGradientDescent(
        classifier, norm=norm, eps=eps, max_iter=steps, targeted=targeted, num_random_init=1,
        eps_step=step_size if step_size is not None else 2.5 * eps / steps,
        batch_size=batch_size, verbose=False,
    )  # fmt: skip


_PGD_OPTIONS = (
    _STEPS,
    Option("step_size", float, None, "step per iteration (default 2.5 * eps / steps)",
           low=0, low_open=True, optional=True),
)  # fmt: skip


@_register("pgd", targeted=True, norm="linf", help="projected gradient descent, L-inf ball",
           options=_PGD_OPTIONS)  # fmt: skip
def _pgd_linf(classifier, eps, targeted, batch_size, steps, step_size):
    return _pgd(np.inf, classifier, eps, targeted, batch_size, steps, step_size)


@_register("pgd-l2", targeted=True, norm="l2", help="projected gradient descent, L2 ball",
           options=_PGD_OPTIONS)  # fmt: skip
def _pgd_l2(classifier, eps, targeted, batch_size, steps, step_size):
    return _pgd(2, classifier, eps, targeted, batch_size, steps, step_size)


@_register(
    "mifgsm", targeted=True, norm="linf",
    help="momentum iterative FGSM (PGD with momentum, no random start)",
    options=(_STEPS, Option("decay", float, 1.0, "momentum decay factor", low=0)),
)  # fmt: skip
def _mifgsm(classifier, eps, targeted, batch_size, steps, decay):
    from art.attacks.evasion import ProjectedGradientDescent

    return ProjectedGradientDescent(
        classifier, norm=np.inf, eps=eps, eps_step=eps / steps, decay=decay, max_iter=steps,
        targeted=targeted, num_random_init=0, batch_size=batch_size, verbose=False,
    )  # fmt: skip


@_register(
    "cw", targeted=True, norm=None, help="Carlini-Wagner L2 (minimal perturbation; no eps)",
    options=(
        _STEPS,
        Option("binary_search_steps", int, 5, "searches for the constant c", low=1),
        Option("learning_rate", float, 0.05, "optimiser step", low=0, low_open=True),
    ),
)  # fmt: skip
def _cw(classifier, eps, targeted, batch_size, steps, binary_search_steps, learning_rate):
    from art.attacks.evasion import CarliniL2Method

    return CarliniL2Method(
        classifier, targeted=targeted, max_iter=steps, binary_search_steps=binary_search_steps,
        learning_rate=learning_rate, batch_size=batch_size, verbose=False,
    )  # fmt: skip


@_register(
    "deepfool", targeted=False, norm=None, help="DeepFool (untargeted, minimal perturbation)",
    options=(_STEPS,),
)  # fmt: skip
def _deepfool(classifier, eps, targeted, batch_size, steps):
    from art.attacks.evasion import DeepFool

    return DeepFool(classifier, max_iter=steps, batch_size=batch_size, verbose=False)


@dataclass
class AttackResult:
    """Adversarial images [N, ...] in [0, 1], with per-image facts.

    success: the attack reached its goal (the target class when targeted, any wrong class
    otherwise); prediction and confidence: the model's top-1 and its softmax probability on
    the adversarial image; linf, l2: perturbation norms in [0, 1] pixel space; settings: the
    attack's options as run, defaults filled in.
    """

    images: torch.Tensor
    success: torch.Tensor
    prediction: torch.Tensor
    confidence: torch.Tensor
    linf: torch.Tensor
    l2: torch.Tensor
    method: str
    eps: float
    target: int | None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def success_rate(self) -> float:
        return self.success.float().mean().item()


def attack(
    net: Network,
    images: torch.Tensor,
    labels: torch.Tensor,
    method: str = "pgd",
    eps: float = 0.1,
    target: int | None = None,
    *,
    normalization: tuple[list[float], list[float]] | None = None,
    batch_size: int = 64,
    seed: int = 0,
    **options,
) -> AttackResult:
    """Adversarial examples through the Adversarial Robustness Toolbox (ART).

    Args:
        net: the classifier as a `Network`; its model takes images in [0, 1] (normalisation
            inside its forward), or give `normalization=(mean, std)` when it expects
            normalised input: eps is then still measured in [0, 1] pixel space.
        images: [N, C, H, W] in [0, 1]; labels: [N] true classes.
        method: a name in `METHODS`: "fgsm", "pgd" (L-inf), "pgd-l2", "mifgsm" (momentum
            iterative), "cw" (Carlini-Wagner L2; eps unused), "deepfool" (untargeted only;
            eps unused).
        eps: perturbation budget in [0, 1] pixels: in (0, 1] for L-inf attacks, > 0 for L2.
        target: a class to push every image to (targeted), or None (untargeted).
        options: the method's options, `METHODS[method].options` (steps; step_size for
            pgd and pgd-l2; decay for mifgsm; ...). Unknown or out-of-bounds ones are refused.

    >>> result = attack(net, boots, labels, method="pgd", eps=0.1, target=7)
    >>> result.success_rate
    0.97
    """
    from art.estimators.classification import PyTorchClassifier

    if not isinstance(net, Network):
        raise PathlensError(
            f"attack takes a pathlens Network, not a {type(net).__name__}: wrap the model "
            "first, e.g. attack(Network(model, example_input), images, labels)."
        )
    if method not in METHODS:
        raise PathlensError(f"Unknown attack {method!r}. Attacks: {', '.join(METHODS)}.")
    spec = METHODS[method]
    settings = spec.check(options)
    images = net.check_inputs(images)
    if images.min() < 0 or images.max() > 1:
        raise PathlensError(
            f"The images have values in [{images.min():.3g}, {images.max():.3g}], outside "
            "[0, 1]. Give pixels in [0, 1]; if the model expects normalised input, pass "
            "normalization=(mean, std) so that eps stays in pixel space."
        )
    if target is not None and not spec.targeted:
        raise PathlensError(
            f"{method} is untargeted: use target=None, or one of the targeted attacks "
            f"({', '.join(n for n, m in METHODS.items() if m.targeted)})."
        )
    if spec.norm is not None:
        _check_eps(eps, spec.norm)
    if not isinstance(batch_size, Integral) or isinstance(batch_size, bool) or batch_size < 1:
        raise PathlensError(f"batch_size must be an integer >= 1; got {batch_size!r}.")
    model = net.model
    preprocessing = None
    if normalization is not None:
        mean, std = (np.asarray(v, np.float32).reshape(-1, 1, 1) for v in normalization)
        preprocessing = (mean, std)

    def model_input(x: torch.Tensor) -> torch.Tensor:
        """What the model takes: pixels, normalised when the model expects that."""
        if preprocessing is None:
            return x
        return (x - torch.from_numpy(mean)) / torch.from_numpy(std)

    was_training = model.training
    model.eval()
    with torch.no_grad():
        n_classes = model(model_input(images[:1])).shape[1]
    labels = _check_labels(labels, len(images), n_classes)
    if target is not None:
        target = _check_class(target, n_classes, "target")
    classifier = PyTorchClassifier(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=tuple(images.shape[1:]),
        nb_classes=n_classes,
        clip_values=(0.0, 1.0),
        preprocessing=preprocessing,
        device_type="cpu",
    )
    art = spec.build(classifier, eps, target is not None, int(batch_size), **settings)
    x = images.detach().cpu().numpy().astype(np.float32)
    goal = labels if target is None else torch.full_like(labels, target)
    y = np.eye(n_classes, dtype=np.float32)[goal.numpy()]
    np.random.seed(seed)
    torch.manual_seed(seed)
    logging.getLogger("art").setLevel(logging.WARNING)
    adversarial = torch.from_numpy(art.generate(x=x, y=y if spec.targeted else None))
    adversarial = adversarial.clamp(0, 1)
    with torch.no_grad():
        logits = [model(model_input(b)) for b in adversarial.split(256)]
        probs = torch.softmax(torch.cat(logits), 1)
    if was_training:
        model.train()
    prediction = probs.argmax(1)
    success = prediction == goal if target is not None else prediction != labels
    delta = (adversarial - images).flatten(1)
    return AttackResult(
        images=adversarial,
        success=success,
        prediction=prediction,
        confidence=probs.max(1).values,
        linf=delta.abs().max(1).values,
        l2=delta.norm(dim=1),
        method=method,
        eps=eps,
        target=target,
        settings=settings,
    )


def _check_eps(eps: Any, norm: str) -> None:
    ok = isinstance(eps, Real) and not isinstance(eps, bool) and math.isfinite(float(eps))
    if not ok or eps <= 0 or (norm == "linf" and eps > 1):
        bounds = "in (0, 1] (an L-inf budget in [0, 1] pixels)" if norm == "linf" else "> 0"
        raise PathlensError(f"eps must be a finite number {bounds}; got {eps!r}.")


def _check_class(value: Any, n_classes: int, what: str) -> int:
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = int(value)
    if not isinstance(value, Integral) or isinstance(value, bool) or not 0 <= value < n_classes:
        raise PathlensError(f"{what} must be a class index in 0..{n_classes - 1}; got {value!r}.")
    return int(value)


def _check_labels(labels: Any, n_images: int, n_classes: int) -> torch.Tensor:
    labels = torch.as_tensor(labels)
    if labels.is_floating_point() or labels.dim() != 1 or len(labels) != n_images:
        raise PathlensError(
            f"labels must be a 1-d tensor of {n_images} class indices, one per image; got "
            f"shape {tuple(labels.shape)} and dtype {labels.dtype}."
        )
    labels = labels.long()
    if labels.min() < 0 or labels.max() >= n_classes:
        raise PathlensError(
            f"labels must be class indices in 0..{n_classes - 1}; got values from "
            f"{int(labels.min())} to {int(labels.max())}."
        )
    return labels
