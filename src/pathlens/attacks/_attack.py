from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from pathlens.errors import PathlensError

METHODS = ("fgsm", "pgd", "pgd-l2", "mifgsm", "cw", "deepfool")


@dataclass
class AttackResult:
    """Adversarial images [N, ...] in [0, 1], with per-image facts.

    success: the attack reached its goal (the target class when targeted, any wrong class
    otherwise); prediction and confidence: the model's top-1 and its softmax probability on
    the adversarial image; linf, l2: perturbation norms in [0, 1] pixel space.
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

    @property
    def success_rate(self) -> float:
        return self.success.float().mean().item()


def attack(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    method: str = "pgd",
    eps: float = 0.1,
    target: int | None = None,
    *,
    steps: int = 20,
    step_size: float | None = None,
    decay: float = 1.0,
    normalization: tuple[list[float], list[float]] | None = None,
    batch_size: int = 64,
    seed: int = 0,
) -> AttackResult:
    """Adversarial examples through the Adversarial Robustness Toolbox (ART).

    Args:
        model: a classifier taking images in [0, 1] (normalisation inside its forward), or
            give `normalization=(mean, std)` when it expects normalised input: eps is then
            still measured in [0, 1] pixel space.
        images: [N, C, H, W] in [0, 1]; labels: [N] true classes.
        method: "fgsm", "pgd" (L-inf), "pgd-l2", "mifgsm" (momentum iterative, PGD with
            `decay` and no random start), "cw" (Carlini-Wagner L2; eps unused), "deepfool"
            (untargeted only; eps unused).
        eps: perturbation budget in [0, 1] pixels (L-inf, or L2 for "pgd-l2").
        target: a class to push every image to (targeted), or None (untargeted).
        steps, step_size: iterations and step of iterative attacks (default 2.5 * eps / steps).

    >>> result = attack(model, boots, labels, method="pgd", eps=0.1, target=7)
    >>> result.success_rate
    0.97
    """
    from art.attacks.evasion import (
        CarliniL2Method,
        DeepFool,
        FastGradientMethod,
        ProjectedGradientDescent,
    )
    from art.estimators.classification import PyTorchClassifier

    if method not in METHODS:
        raise PathlensError(f"Unknown attack {method!r}. Attacks: {', '.join(METHODS)}.")
    if not isinstance(images, torch.Tensor) or images.dim() < 2 or len(images) == 0:
        raise PathlensError("attack needs a non-empty image tensor [N, C, H, W].")
    if not torch.isfinite(images).all():
        raise PathlensError("The images contain NaN or infinite values: clean them first.")
    if images.min() < 0 or images.max() > 1:
        raise PathlensError(
            f"The images have values in [{images.min():.3g}, {images.max():.3g}], outside "
            "[0, 1]. Give pixels in [0, 1]; if the model expects normalised input, pass "
            "normalization=(mean, std) so that eps stays in pixel space."
        )
    if method == "deepfool" and target is not None:
        raise PathlensError("DeepFool is untargeted: use target=None, or another attack.")
    if eps <= 0 and method not in ("cw", "deepfool"):
        raise PathlensError(f"eps must be positive; got {eps}.")
    labels = torch.as_tensor(labels).long()
    was_training = model.training
    model.eval()
    preprocessing = None
    if normalization is not None:
        mean, std = (np.asarray(v, np.float32).reshape(-1, 1, 1) for v in normalization)
        preprocessing = (mean, std)

    def model_input(x: torch.Tensor) -> torch.Tensor:
        """What the model takes: pixels, normalised when the model expects that."""
        if preprocessing is None:
            return x
        return (x - torch.from_numpy(mean)) / torch.from_numpy(std)

    with torch.no_grad():
        n_classes = model(model_input(images[:1])).shape[1]
    classifier = PyTorchClassifier(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=tuple(images.shape[1:]),
        nb_classes=n_classes,
        clip_values=(0.0, 1.0),
        preprocessing=preprocessing,
        device_type="cpu",
    )
    step = step_size if step_size is not None else 2.5 * eps / steps
    common = {"batch_size": batch_size, "verbose": False}
    if method == "fgsm":
        art = FastGradientMethod(classifier, norm=np.inf, eps=eps, targeted=target is not None,
                                 batch_size=batch_size)  # fmt: skip
    elif method in ("pgd", "pgd-l2"):
        art = ProjectedGradientDescent(
            classifier, norm=np.inf if method == "pgd" else 2, eps=eps, eps_step=step,
            max_iter=steps, targeted=target is not None, num_random_init=1, **common,
        )  # fmt: skip
    elif method == "mifgsm":
        art = ProjectedGradientDescent(
            classifier, norm=np.inf, eps=eps, eps_step=eps / steps, decay=decay,
            max_iter=steps, targeted=target is not None, num_random_init=0, **common,
        )  # fmt: skip
    elif method == "cw":
        art = CarliniL2Method(classifier, targeted=target is not None, max_iter=steps,
                              binary_search_steps=5, learning_rate=0.05, **common)  # fmt: skip
    else:
        art = DeepFool(classifier, max_iter=steps, **common)
    x = images.detach().cpu().numpy().astype(np.float32)
    goal = labels if target is None else torch.full_like(labels, int(target))
    y = np.eye(n_classes, dtype=np.float32)[goal.numpy()]
    np.random.seed(seed)
    torch.manual_seed(seed)
    logging.getLogger("art").setLevel(logging.WARNING)
    adversarial = torch.from_numpy(art.generate(x=x, y=None if method == "deepfool" else y))
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
    )
