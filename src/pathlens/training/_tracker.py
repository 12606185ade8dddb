"""Neuron-level recording of a training run: `Tracker`.

The tracker never hooks the training forward passes. Every `every` steps it runs its own
forward pass of the fixed probe batch (no gradients, RNG state, module modes and buffers
saved and restored around it), reads the parameters and their ``.grad``, and appends one row
per site and statistic to the run folder. The work is split by topic: ``_plan`` (what to
record), ``_measure`` (a snapshot's values), ``_write`` (the run folder) and ``_schema`` (its
layout, shared with the reader ``_recording``).
"""

from __future__ import annotations

import math
import numbers
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pathlens.errors import PathlensError, PathlensWarning
from pathlens.training._measure import Measurer
from pathlens.training._plan import (
    SitePlan,
    models_dict,
    plan_model,
    plan_sites,
    positive_int,
    probes_dict,
    sites_dict,
)
from pathlens.training._write import RunWriter

_PROBE_MODES = ("eval", "train")


class Tracker:
    """Record a training run at neuron level, in any training loop.

    Args:
        models: one ``nn.Module``, or a dict of them (``{"generator": G, "discriminator":
            D}``); with a dict, site names are prefixed by the model's name
            (``"generator/main.2"``).
        run_dir: a run folder (created if missing) that holds no training run yet.
        every: snapshot interval in steps; a snapshot is taken at steps 0, every, 2 every, ...
            (the step counts ``step()`` calls from 0).
        probe: the fixed input batch [N, ...] run at every snapshot. For a dict of models,
            either a dict with one batch per model (a generator's probe is its latent batch,
            e.g. ``torch.randn(64, nz, 1, 1)``; a discriminator's, real images), or one batch
            that every model accepts.
        sites: ``"auto"`` (as in `pathlens.Network`), a list of module names (one model), or
            a dict model name -> ``"auto"`` or list.
        probe_mode: ``"eval"`` (default) runs the probe with every module in eval mode (batch
            norm uses its running statistics, dropout is off); ``"train"`` leaves modules in
            the mode the loop left them (batch norm normalises with the probe's own batch
            statistics). Either way the training loop is not disturbed: module modes,
            buffers (batch-norm running statistics) and the torch RNG state are restored
            after the probe, so a run with the tracker trains exactly like one without it.
        chunk: snapshots per Zarr chunk.
        edge_weights: also record, per site fed by another site (see below), the layer's
            kernel-summed weight matrix [C_out, C_in] at every snapshot: what
            `pathlens.training.credit` needs. Sites whose matrix has more than 2**20 entries
            are skipped.
        flush_seconds, flush_rows: scalars are committed to the database at every snapshot
            and otherwise when this much time has passed or this many rows wait, and at close.

    Per snapshot and per site it records, for every neuron (output channel), the statistics
    in `pathlens.training.STATS`: activation mean and std on the probe, gradient norm, weight
    norm and weight-update norm of the layer that makes the channel. Gradients are read from
    ``.grad`` when ``step()`` is called: call it after ``backward()`` (and the optimizer
    step) and before the next ``zero_grad()``.

    The *input site* of a site B is the site A whose output reaches the weight layer of B
    (the convolution or linear layer making B's channels) through single-input operations
    only (norms, activations, pooling, dropout, flatten, reshape), with no other weight layer
    and no join (addition, concatenation) in between, and whose channels match the layer's
    input: a convolution's ``in_channels`` or a linear layer's ``in_features`` (A's channels
    times its positions, for a flattened feature map). For such a site the tracker records
    ``edge_weight``: the layer's weight summed over kernel positions (and over the positions
    of a flattened map), as a matrix [C_out, C_in] flattened row-major, output channels as
    rows for convolutions and transposed convolutions alike. A site fed by the model input, a
    residual sum or a concatenation has no input site. For every model, the tracker also
    records the sample diversity of its output on the probe: the root mean over output
    elements of their variance across the probe batch (the RMS distance between two outputs,
    divided by sqrt(2 x elements)), which `pathlens.training.detect` reads to spot a
    collapsing generator.

    Scalars given to ``step()`` must be real numbers (Python, numpy, or one-element tensors;
    a tensor costs a device sync). A NaN or infinite scalar is recorded as it is (NaN reads
    back as NaN) and raises one `PathlensWarning` per scalar name, since that is usually the
    moment a run diverged.

    >>> with pathlens.Tracker({"generator": G, "discriminator": D}, "runs/gan", every=50,
    ...                       probe={"generator": z, "discriminator": real[:64]}) as tracker:
    ...     for batch in loader:
    ...         ...  # update D, then G
    ...         tracker.step(loss_d=loss_d.item(), loss_g=loss_g.item())
    >>> run = pathlens.open_run("runs/gan")
    """

    def __init__(
        self,
        models: nn.Module | Mapping[str, nn.Module],
        run_dir: str | Path,
        every: int = 50,
        *,
        probe,
        sites: str | Sequence[str] | Mapping[str, str | Sequence[str]] = "auto",
        probe_mode: str = "eval",
        chunk: int = 64,
        edge_weights: bool = True,
        flush_seconds: float = 1.0,
        flush_rows: int = 1000,
    ):
        self.every = positive_int(every, "every", "take a snapshot every that many steps")
        self.chunk = positive_int(chunk, "chunk", "snapshots per Zarr chunk")
        self.flush_rows = positive_int(flush_rows, "flush_rows", "scalar rows per commit")
        if not (isinstance(flush_seconds, numbers.Real) and flush_seconds >= 0):
            raise PathlensError(f"flush_seconds must be a number >= 0, got {flush_seconds!r}.")
        self.flush_seconds = float(flush_seconds)
        if probe_mode not in _PROBE_MODES:
            raise PathlensError(f"probe_mode must be 'eval' or 'train', got {probe_mode!r}.")
        self.probe_mode = probe_mode
        self.models = models_dict(models)
        self._prefixed = not isinstance(models, nn.Module)
        self.probes = probes_dict(probe, self.models)
        site_choice = sites_dict(sites, self.models)
        if not isinstance(run_dir, str | os.PathLike) or not str(run_dir).strip():
            raise PathlensError(
                f"run_dir must name a folder for the run, got {run_dir!r}: give a path such as "
                "'runs/train'."
            )
        run_path = Path(run_dir)
        if run_path.exists() and not run_path.is_dir():
            raise PathlensError(f"{run_path} is a file, not a run folder: give a folder path.")

        self.networks = {}
        self._plans: list[SitePlan] = []
        facts = {}
        for name, model in self.models.items():
            net, output_shape = plan_model(
                name, model, self.probes[name], site_choice[name], self._prefixed
            )
            prefix = f"{name}/" if self._prefixed else ""
            self.networks[name] = net
            self._plans += plan_sites(net, name, prefix, edge_weights)
            facts[name] = {
                "class": type(model).__name__,
                "probe_shape": list(self.probes[name].shape),
                "prefix": prefix,
                "network": net.describe(),
                "output_shape": output_shape,
            }
        settings = {
            "every": self.every,
            "chunk": self.chunk,
            "probe_mode": probe_mode,
            "flush_seconds": self.flush_seconds,
            "flush_rows": self.flush_rows,
        }
        self._writer = RunWriter(run_path, self._plans, facts, self.probes, settings)
        if self._writer.took_over is not None:
            warnings.warn(
                f"{run_path} held a training run that ended before its first snapshot "
                f"(status {self._writer.took_over.get('status')!r}, pid "
                f"{self._writer.took_over.get('pid')}); this tracker records over it.",
                PathlensWarning,
                stacklevel=2,
            )
        self.path = run_path
        self._measurer = Measurer(self.models, self.probes, self._plans, probe_mode)
        self._warned: set[str] = set()
        self._step = 0
        self._closed = False

    # ------------------------------------------------------------------ public
    @property
    def steps(self) -> int:
        """How many times `step` has been called."""
        return self._step

    @property
    def snapshots(self) -> int:
        """How many snapshots have been written."""
        return self._writer.snapshots

    @property
    def sites(self) -> list[str]:
        """Recorded site names, in recording order."""
        return [p.name for p in self._plans]

    def step(self, **scalars) -> None:
        """Mark the end of one training iteration, with its scalars (losses, metrics).

        Takes a snapshot when the step (counted from 0) is a multiple of `every`.
        """
        if self._closed:
            raise PathlensError("This tracker is closed; start a new Tracker in a new folder.")
        step = self._step
        now = time.time()
        rows = [(name, step, _scalar(name, value), now) for name, value in scalars.items()]
        for name, _, value, _ in rows:
            if not math.isfinite(value) and name not in self._warned:
                self._warned.add(name)
                warnings.warn(
                    f"The scalar {name!r} is {value} at step {step}; it is recorded as it is "
                    "(and warned about only once).",
                    PathlensWarning,
                    stacklevel=2,
                )
        self._writer.add_scalars(rows)
        if step % self.every == 0:
            self._writer.snapshot(self._measurer.measure(), step, now)
        else:
            self._writer.flush_if_due()
        self._step += 1

    def close(self, error: BaseException | None = None) -> None:
        """Commit what is pending and mark the run finished (or failed, given an error)."""
        if self._closed:
            return
        self._closed = True
        status = {
            "status": "finished" if error is None else "failed",
            "pid": os.getpid(),
            "steps": self._step,
            "snapshots": self._writer.snapshots,
            "ended": time.time(),
        }
        if error is not None:
            status["error"] = f"{type(error).__name__}: {error}"
        self._writer.close(status)

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(exc)

    def __repr__(self) -> str:
        return (
            f"Tracker({', '.join(self.models)}, {str(self.path)!r}, every={self.every}, "
            f"{len(self._plans)} sites, step {self._step}, {self._writer.snapshots} snapshots)"
        )


def _scalar(name: str, value) -> float:
    if isinstance(value, torch.Tensor | np.ndarray):
        if (value.size if isinstance(value, np.ndarray) else value.numel()) != 1:
            raise PathlensError(
                f"The scalar {name!r} has shape {tuple(value.shape)}; give one number (for "
                "example loss.item())."
            )
        value = value.item()
    elif isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, numbers.Real):
        raise PathlensError(
            f"The scalar {name!r} must be a real number, got {type(value).__name__} "
            f"({value!r:.60}); pass a float such as loss.item()."
        )
    return float(value)
