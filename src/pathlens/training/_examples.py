"""Small generative models for Fashion-MNIST that train on 2 CPU cores: the DCGAN used by the
tracker benchmark and the training case studies, and the convolutional VAE of the VAE case
study (`ConvVAE`, `train_vae`).

`DCGANGenerator` maps a latent batch [N, nz, 1, 1] to images [N, 1, 28, 28] in [-1, 1];
`DCGANDiscriminator` maps images [N, 1, 28, 28] to one logit per image [N, 1]. Both follow
Radford et al. (2016): transposed convolutions with batch norm and ReLU in the generator,
strided convolutions with batch norm and LeakyReLU(0.2) in the discriminator, no pooling, weights
drawn from N(0, 0.02) (batch-norm scales from N(1, 0.02)). `train_dcgan` is the plain
alternating loop (Adam, lr 2e-4, betas (0.5, 0.999), non-saturating generator loss), with an
optional `pathlens.Tracker` stepped once per iteration.

>>> from pathlens.data import fashion_mnist
>>> G, D = DCGANGenerator(), DCGANDiscriminator()
>>> images = fashion_mnist("train").images * 2 - 1          # [-1, 1], like the generator
>>> history = train_dcgan(G, D, images, steps=200)
>>> G(torch.randn(16, G.nz, 1, 1)).shape
torch.Size([16, 1, 28, 28])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "ConvVAE",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "dcgan_init",
    "train_dcgan",
    "train_vae",
]


class DCGANGenerator(nn.Module):
    """Latent [N, nz, 1, 1] -> image [N, 1, 28, 28] in [-1, 1].

    Layers: ConvT(nz, 2w, 7) 7x7 -> BN -> ReLU -> ConvT(2w, w, 4, s2) 14x14 -> BN -> ReLU ->
    ConvT(w, 1, 4, s2) 28x28 -> Tanh. Its pathlens sites (auto) are the two ReLUs,
    ``main.2`` (2w channels) and ``main.5`` (w channels).
    """

    def __init__(self, nz: int = 64, width: int = 64):
        super().__init__()
        self.nz = nz
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, 2 * width, 7, 1, 0, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, 2, 1, bias=False),
            nn.Tanh(),
        )
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class DCGANDiscriminator(nn.Module):
    """Image [N, 1, 28, 28] -> logit [N, 1] (real > 0).

    Layers: Conv(1, w, 4, s2) 14x14 -> LeakyReLU -> Conv(w, 2w, 4, s2) 7x7 -> BN -> LeakyReLU
    -> Conv(2w, 1, 7) -> flatten. Its pathlens sites (auto) are the two LeakyReLUs, ``main.1``
    (w channels) and ``main.4`` (2w channels).
    """

    def __init__(self, width: int = 64):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 1, 7, 1, 0),
            nn.Flatten(),
        )
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


def dcgan_init(model: nn.Module, std: float = 0.02) -> None:
    """The DCGAN initialisation, in place: conv weights ~ N(0, std), BN scales ~ N(1, std),
    biases 0. A larger `std` is the classic bad initialisation that blows a GAN up."""
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd | nn.Linear):
            nn.init.normal_(module.weight, 0.0, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            nn.init.normal_(module.weight, 1.0, std)
            nn.init.zeros_(module.bias)


def train_dcgan(
    generator: nn.Module,
    discriminator: nn.Module,
    images: torch.Tensor,
    *,
    steps: int,
    batch_size: int = 64,
    lr_g: float = 2e-4,
    lr_d: float = 2e-4,
    seed: int = 0,
    tracker=None,
) -> dict[str, list[float]]:
    """Train a GAN for `steps` iterations on `images` [N, 1, 28, 28] scaled to [-1, 1].

    Each iteration: one discriminator step on a real and a generated batch (binary cross
    entropy on logits), then one generator step with the non-saturating loss. Batches and
    latents come from a ``torch.Generator`` seeded with `seed`, so two calls with the same
    seed and the same initial weights train identically. With a `tracker`, calls
    ``tracker.step(loss_d=..., loss_g=..., d_real=..., d_fake=...)`` after both updates.

    Returns the per-step losses and the mean discriminator probabilities on real and fake.
    """
    rng = torch.Generator().manual_seed(seed)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr_g, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr_d, betas=(0.5, 0.999))
    nz = generator.nz
    history: dict[str, list[float]] = {"loss_d": [], "loss_g": [], "d_real": [], "d_fake": []}
    generator.train()
    discriminator.train()
    ones = torch.ones(batch_size, 1)
    zeros = torch.zeros(batch_size, 1)
    for _ in range(steps):
        index = torch.randint(len(images), (batch_size,), generator=rng)
        real = images[index]
        z = torch.randn(batch_size, nz, 1, 1, generator=rng)
        fake = generator(z)

        opt_d.zero_grad(set_to_none=True)
        logit_real = discriminator(real)
        logit_fake = discriminator(fake.detach())
        loss_d = F.binary_cross_entropy_with_logits(
            logit_real, ones
        ) + F.binary_cross_entropy_with_logits(logit_fake, zeros)
        loss_d.backward()
        opt_d.step()

        # The discriminator is frozen for the generator step, so that the gradients it holds
        # afterwards are those of its own step (what a tracker records), and none are wasted.
        discriminator.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        loss_g = F.binary_cross_entropy_with_logits(discriminator(fake), ones)
        loss_g.backward()
        opt_g.step()
        discriminator.requires_grad_(True)

        row = {
            "loss_d": loss_d.item(),
            "loss_g": loss_g.item(),
            "d_real": torch.sigmoid(logit_real).mean().item(),
            "d_fake": torch.sigmoid(logit_fake).mean().item(),
        }
        for key, value in row.items():
            history[key].append(value)
        if tracker is not None:
            tracker.step(**row)
    return history


class ConvVAE(nn.Module):
    """Variational autoencoder: image [N, 1, 28, 28] in [0, 1] -> (logits [N, 1, 28, 28],
    mu [N, nz, 1, 1], logvar [N, nz, 1, 1]).

    Encoder Conv(1, w, 4, s2) 14x14 -> LeakyReLU -> Conv(w, 2w, 4, s2) 7x7 -> LeakyReLU;
    then ``mu`` and ``logvar``, each Conv(2w, nz, 7) 1x1; decoder ConvT(nz, 2w, 7) 7x7 ->
    LeakyReLU -> ConvT(2w, w, 4, s2) 14x14 -> LeakyReLU -> ConvT(w, 1, 4, s2) 28x28 logits.
    LeakyReLU(0.2) as in the DCGAN discriminator: with plain ReLUs a quarter of ``encoder.3``
    dies in the first updates even at a sound learning rate. In training mode
    z = mu + exp(logvar / 2) * noise; in eval mode z = mu, so a tracker's probe sees a
    deterministic model whose decoder reads ``mu`` directly (``mu`` is then the input site of
    ``decoder.1``, and credit assignment crosses from the decoder into the encoder). `SITES`
    are the sites the case study records.
    """

    SITES = ("encoder.1", "encoder.3", "mu", "logvar", "decoder.1", "decoder.3")

    def __init__(self, nz: int = 16, width: int = 32):
        super().__init__()
        self.nz = nz
        self.encoder = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1),
            nn.LeakyReLU(0.2),
        )
        self.mu = nn.Conv2d(2 * width, nz, 7)
        self.logvar = nn.Conv2d(2 * width, nz, 7)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(nz, 2 * width, 7),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(width, 1, 4, 2, 1),
        )

    def forward(self, x: torch.Tensor):
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu
        if self.training:
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.decoder(z), mu, logvar


def train_vae(
    model: ConvVAE,
    images: torch.Tensor,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float | Callable[[int], float] = 1e-3,
    seed: int = 0,
    tracker=None,
) -> dict[str, list[float]]:
    """Train a VAE for `steps` iterations on `images` [N, 1, 28, 28] in [0, 1] (Adam).

    Loss per image: binary cross entropy of the reconstruction (summed over pixels) plus the
    KL divergence of N(mu, exp(logvar)) from N(0, 1). `lr` is a number or a function of the
    step (a schedule). Batches and the sampling noise come from seeded generators, so a run
    is repeatable. With a `tracker`, calls ``tracker.step(loss=..., recon=..., kl=...,
    lr=...)`` after each update.
    """
    rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the reparameterisation noise
    schedule = lr if callable(lr) else (lambda step: lr)
    opt = torch.optim.Adam(model.parameters(), lr=schedule(0))
    history: dict[str, list[float]] = {"loss": [], "recon": [], "kl": [], "lr": []}
    model.train()
    for step in range(steps):
        rate = float(schedule(step))
        for group in opt.param_groups:
            group["lr"] = rate
        x = images[torch.randint(len(images), (batch_size,), generator=rng)]
        logits, mu, logvar = model(x)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum() / len(x)
        loss = recon + kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        row = {"loss": loss.item(), "recon": recon.item(), "kl": kl.item(), "lr": rate}
        for key, value in row.items():
            history[key].append(value)
        if tracker is not None:
            tracker.step(**row)
    return history
