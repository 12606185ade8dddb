"""Training analysis: record a training run at neuron level, and read it back.

>>> from pathlens.training import Tracker, open_run, sample_polylines
>>> with Tracker(model, "runs/train", every=50, probe=images[:64]) as tracker:
...     for x, y in loader:
...         ...  # forward, backward, optimizer step
...         tracker.step(loss=loss.item())
>>> run = open_run("runs/train")
>>> series = run.neuron_series(run.sites()[0], "act_mean")  # [snapshots, neurons]
>>> rows = sample_polylines(series.T, 500)  # series: [neurons, snapshots]
>>> report = detect(run)                     # dead, saturated, exploding, vanishing; GANs
>>> report["first"]                          # where and when each failure began
>>> graph = credit(run, "main.5", 7, window=(10, None), depth=2)   # who fed neuron 7

With PyTorch Lightning (``pip install 'pathlens[lightning]'``), ``TrackerCallback(run_dir,
probe=...)`` does the same from a ``Trainer``.
"""

from pathlens.training._cases import explain, gan_case, vae_case, worst_neuron
from pathlens.training._credit import credit
from pathlens.training._detect import NEURON_FLAGS, RUN_FLAGS, detect
from pathlens.training._examples import (
    ConvVAE,
    DCGANDiscriminator,
    DCGANGenerator,
    dcgan_init,
    train_dcgan,
    train_vae,
)
from pathlens.training._lightning import lightning_callback_class
from pathlens.training._recording import TrainingRun, open_run
from pathlens.training._sampling import reduce_series, sample_polylines
from pathlens.training._schema import STATS
from pathlens.training._tracker import Tracker


def __getattr__(name: str):
    # TrackerCallback subclasses Lightning's Callback: built on first use, so that pathlens
    # never imports Lightning unless asked (pip install 'pathlens[lightning]').
    if name == "TrackerCallback":
        return lightning_callback_class()
    raise AttributeError(f"module 'pathlens.training' has no attribute {name!r}")


__all__ = [
    "NEURON_FLAGS",
    "RUN_FLAGS",
    "STATS",
    "ConvVAE",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "Tracker",
    "TrainingRun",
    "credit",
    "dcgan_init",
    "detect",
    "explain",
    "gan_case",
    "open_run",
    "reduce_series",
    "sample_polylines",
    "train_dcgan",
    "train_vae",
    "vae_case",
    "worst_neuron",
]
