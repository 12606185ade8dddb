"""TrackerCallback: the tracker driven by a real Lightning Trainer (lightning is a dev extra)."""

import lightning as L
import numpy as np
import pytest
import torch
from torch import nn
from tracker_worker import SmallCNN

from pathlens import PathlensError, open_run
from pathlens.training import STATS, DCGANDiscriminator, DCGANGenerator, TrackerCallback

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*LeafSpec.*")]  # 2.6 + 2.13

TRAINER = dict(accelerator="cpu", logger=False, enable_checkpointing=False,
               enable_progress_bar=False, enable_model_summary=False)  # fmt: skip


class Classifier(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = SmallCNN()

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


class GAN(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.automatic_optimization = False
        self.generator = DCGANGenerator(nz=8, width=8)
        self.discriminator = DCGANDiscriminator(width=8)

    def training_step(self, batch, batch_idx):
        (real,) = batch
        opt_g, opt_d = self.optimizers()
        bce = nn.functional.binary_cross_entropy_with_logits
        fake = self.generator(torch.randn(len(real), 8, 1, 1))
        ones, zeros = torch.ones(len(real), 1), torch.zeros(len(real), 1)
        opt_d.zero_grad()
        loss_d = bce(self.discriminator(real), ones) + bce(self.discriminator(fake.detach()), zeros)
        self.manual_backward(loss_d)
        opt_d.step()
        opt_g.zero_grad()
        loss_g = bce(self.discriminator(fake), ones)
        self.manual_backward(loss_g)
        opt_g.step()
        self.log_dict({"loss_d": loss_d, "loss_g": loss_g})

    def configure_optimizers(self):
        return (torch.optim.Adam(self.generator.parameters(), lr=2e-4),
                torch.optim.Adam(self.discriminator.parameters(), lr=2e-4))  # fmt: skip


def loader(*tensors, batch_size=16):
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*tensors),
                                       batch_size=batch_size)  # fmt: skip


def test_callback_records_a_lightning_classifier(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(96, 1, 12, 12), torch.randint(0, 3, (96,))
    callback = TrackerCallback(tmp_path / "run", every=2, probe=x[:8])
    L.Trainer(max_steps=5, callbacks=[callback], **TRAINER).fit(Classifier(), loader(x, y))
    run = open_run(tmp_path / "run")
    assert run.sites() == ["net.relu1", "net.relu2", "net.relu3"]
    np.testing.assert_array_equal(run.snapshots(), [0, 2, 4])
    assert {"loss", "train_loss"} <= set(run.scalar_names())
    steps, loss = run.scalars("loss")
    np.testing.assert_array_equal(steps, np.arange(5))
    np.testing.assert_allclose(run.scalars("train_loss")[1], loss, rtol=1e-6)
    for stat in STATS:
        assert np.isfinite(run.neuron_series("net.relu2", stat)).all()
    assert run.status()["status"] == "finished"


def test_callback_tracks_named_submodules_of_a_manual_gan(tmp_path):
    torch.manual_seed(0)
    real = torch.rand(64, 1, 28, 28) * 2 - 1
    callback = TrackerCallback(tmp_path / "gan", every=1, models=["generator", "discriminator"],
                               probe={"generator": torch.randn(8, 8, 1, 1),
                                      "discriminator": real[:8]})  # fmt: skip
    L.Trainer(max_epochs=1, callbacks=[callback], **TRAINER).fit(GAN(), loader(real))
    run = open_run(tmp_path / "gan")
    assert run.sites()[0] == "generator/main.2" and run.sites()[-1] == "discriminator/main.4"
    assert len(run.snapshots()) == 4  # 64 images / 16 a batch
    assert set(run.scalar_names()) == {"loss_d", "loss_g"}
    assert np.isfinite(run.neuron_series("discriminator/main.1", "grad_norm")).all()


def test_callback_names_missing_submodules(tmp_path):
    x, y = torch.randn(32, 1, 12, 12), torch.randint(0, 3, (32,))
    callback = TrackerCallback(tmp_path / "run", probe=x[:8], models=["generator"])
    with pytest.raises(PathlensError, match=r"no submodules named \['generator'\]"):
        L.Trainer(max_steps=2, callbacks=[callback], **TRAINER).fit(Classifier(), loader(x, y))
