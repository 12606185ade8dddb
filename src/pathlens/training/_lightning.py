"""`TrackerCallback`: a `Tracker` driven by a PyTorch Lightning ``Trainer``."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from pathlens.errors import PathlensError
from pathlens.training._plan import positive_int
from pathlens.training._tracker import Tracker

_CALLBACK_CLASS = None


def lightning_callback_class():
    """`TrackerCallback`, built on first use so that pathlens does not import Lightning."""
    global _CALLBACK_CLASS
    if _CALLBACK_CLASS is not None:
        return _CALLBACK_CLASS
    try:
        from lightning.pytorch import Callback
    except ImportError:
        try:
            from pytorch_lightning import Callback
        except ImportError:
            raise ImportError(
                "pathlens.training.TrackerCallback needs PyTorch Lightning: "
                "pip install 'pathlens[lightning]' (or lightning>=2)."
            ) from None

    class TrackerCallback(Callback):
        """A `Tracker` driven by a Lightning ``Trainer``: one tracker step per training batch.

        Args:
            run_dir, every, probe, sites, probe_mode, chunk: as for `Tracker`.
            models: ``None`` tracks the LightningModule itself (site names without prefix);
                a list of attribute names (``["generator", "discriminator"]``) tracks those
                submodules as a dict of models, prefixed by the attribute name.
            scalars: names of ``trainer.callback_metrics`` to record each step (what the
                module logs with ``self.log``); ``None`` records every one-number metric.
                The training step's loss is recorded as ``loss`` when the step returns it.

        The tracker starts at ``on_fit_start`` (on the global-zero process only) and closes
        at the end of fit, or marks the run failed on an exception. Gradients are read at
        ``on_train_batch_end``: with automatic optimisation Lightning zeroes them just before
        the next backward, so they are the last batch's.

        >>> trainer = lightning.Trainer(callbacks=[TrackerCallback("runs/l", probe=x[:64])])
        """

        def __init__(
            self,
            run_dir: str | Path,
            every: int = 50,
            *,
            probe,
            models: Sequence[str] | None = None,
            sites="auto",
            probe_mode: str = "eval",
            chunk: int = 64,
            scalars: Sequence[str] | None = None,
        ):
            super().__init__()
            positive_int(every, "every", "take a snapshot every that many steps")
            if isinstance(models, str):
                models = [models]
            self.run_dir, self.every, self.probe = run_dir, every, probe
            self.models, self.sites, self.probe_mode, self.chunk = models, sites, probe_mode, chunk
            self.scalars = None if scalars is None else list(scalars)
            self.tracker: Tracker | None = None

        def on_fit_start(self, trainer, pl_module) -> None:
            if not trainer.is_global_zero:
                return
            if self.models is None:
                models = pl_module
            else:
                missing = [n for n in self.models if not isinstance(getattr(pl_module, n, None),
                                                                    nn.Module)]  # fmt: skip
                if missing:
                    raise PathlensError(
                        f"The LightningModule has no submodules named {missing}; models= "
                        "takes attribute names of its submodules."
                    )
                models = {n: getattr(pl_module, n) for n in self.models}
            self.tracker = Tracker(
                models,
                self.run_dir,
                self.every,
                probe=self.probe,
                sites=self.sites,
                probe_mode=self.probe_mode,
                chunk=self.chunk,
            )

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            if self.tracker is None:
                return
            values = {}
            for name, value in trainer.callback_metrics.items():
                if self.scalars is not None and name not in self.scalars:
                    continue
                one_number = isinstance(value, torch.Tensor) and value.numel() == 1
                if one_number or isinstance(value, numbers.Real):
                    values[name] = value
            loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
            if isinstance(loss, torch.Tensor) and loss.numel() == 1:
                values.setdefault("loss", loss.detach())
            self.tracker.step(**values)

        def _close(self, error=None) -> None:
            if self.tracker is not None:
                self.tracker.close(error)
                self.tracker = None

        def on_fit_end(self, trainer, pl_module) -> None:
            self._close()

        def on_exception(self, trainer, pl_module, exception) -> None:
            self._close(exception)

    TrackerCallback.__qualname__ = "TrackerCallback"
    TrackerCallback.__module__ = "pathlens.training"
    _CALLBACK_CLASS = TrackerCallback
    return TrackerCallback
