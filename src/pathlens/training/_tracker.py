"""Neuron-level recording of a training run: `Tracker`.

The tracker never hooks the training forward passes. Every `every` steps it runs its own
forward pass of the fixed probe batch (no gradients, RNG state, module modes and buffers
saved and restored around it), reads the parameters and their ``.grad``, and appends one row
per site and statistic to the run folder (see `pathlens.training._recording`).
"""

from __future__ import annotations

import math
import numbers
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pathlens.errors import PathlensError, PathlensWarning
from pathlens.store import RunStore
from pathlens.training._recording import (
    EDGE_WEIGHT,
    OUTPUT_DIVERSITY,
    STATS,
    ArrayWriter,
    array_path,
    model_array_path,
)

SINGLE = "model"
"""Name of the model when the tracker is given one module rather than a dict."""

_PROBE_MODES = ("eval", "train")
MAX_EDGE_ENTRIES = 2**20
"""Largest kernel-summed weight matrix (C_out x C_in) recorded per site and snapshot."""
EDGE_CHUNK_ENTRIES = 2**16


@dataclass
class _SitePlan:
    name: str  # as recorded: "main.2", or "generator/main.2" for a dict of models
    model: str
    module_name: str
    module: nn.Module
    channels: int
    kind: str
    weight_name: str | None
    weight: nn.Module | None
    activation: str = ""  # class name of the site's module ("ReLU", "Tanh", ...)
    input_site: str | None = None  # recorded name of the site feeding `weight`, if any
    input_channels: int = 0
    edge: bool = False  # whether its kernel-summed weight matrix is recorded


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
        self.every = _positive_int(every, "every", "take a snapshot every that many steps")
        self.chunk = _positive_int(chunk, "chunk", "snapshots per Zarr chunk")
        self.flush_rows = _positive_int(flush_rows, "flush_rows", "scalar rows per commit")
        if not (isinstance(flush_seconds, numbers.Real) and flush_seconds >= 0):
            raise PathlensError(f"flush_seconds must be a number >= 0, got {flush_seconds!r}.")
        self.flush_seconds = float(flush_seconds)
        if probe_mode not in _PROBE_MODES:
            raise PathlensError(f"probe_mode must be 'eval' or 'train', got {probe_mode!r}.")
        self.probe_mode = probe_mode
        self.models = _models_dict(models)
        self._prefixed = not isinstance(models, nn.Module)
        self.probes = _probes_dict(probe, self.models)
        site_choice = _sites_dict(sites, self.models)
        run_path = Path(run_dir)
        if run_path.exists() and not run_path.is_dir():
            raise PathlensError(f"{run_path} is a file, not a run folder: give a folder path.")

        self.networks = {}
        self._output_shapes: dict[str, list[int] | None] = {}
        self._plans: list[_SitePlan] = []
        for name, model in self.models.items():
            net = self._network(name, model, site_choice[name])
            self.networks[name] = net
            self._plans += _plan_sites(net, name, f"{name}/" if self._prefixed else "")
        for p in self._plans:
            p.edge = (
                bool(edge_weights)
                and p.input_site is not None
                and (p.channels * p.input_channels <= MAX_EDGE_ENTRIES)
            )

        store = RunStore(run_path)
        try:
            if store.meta("training") is not None or store.snapshot_count() > 0:
                raise PathlensError(
                    f"{run_path} already holds a training run; record a new run in a new "
                    "folder (or delete this one)."
                )
            columns = {array_path(p.name, stat): p.channels for p in self._plans for stat in STATS}
            chunks = {}
            for p in self._plans:
                if p.edge:
                    width = p.channels * p.input_channels
                    columns[array_path(p.name, EDGE_WEIGHT)] = width
                    # the writer rewrites a whole chunk per snapshot: keep these ones small
                    chunks[array_path(p.name, EDGE_WEIGHT)] = max(
                        1, min(self.chunk, EDGE_CHUNK_ENTRIES // width)
                    )
            for name in self.models:
                columns[model_array_path(name, OUTPUT_DIVERSITY)] = 1
            self._writer = ArrayWriter(run_path, columns, self.chunk, chunks)
            self._record_structure(store)
        except BaseException:
            store.close()
            raise
        self._store = store
        self.path = run_path
        self._previous = {id(p): _parameters(p.weight) for p in self._plans if p.weight}
        self._probe_on: dict[str, torch.Tensor] = {}
        self._pending: list[tuple[str, int, float, float]] = []
        self._last_flush = time.monotonic()
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
        return self._writer.rows

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
        self._pending += rows
        if step % self.every == 0:
            self._snapshot(step, now)
        elif (
            len(self._pending) >= self.flush_rows
            or time.monotonic() - self._last_flush >= self.flush_seconds
        ):
            self._flush()
        self._step += 1

    def close(self, error: BaseException | None = None) -> None:
        """Commit what is pending and mark the run finished (or failed, given an error)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._flush()
            status = {
                "status": "finished" if error is None else "failed",
                "pid": os.getpid(),
                "steps": self._step,
                "snapshots": self._writer.rows,
                "ended": time.time(),
            }
            if error is not None:
                status["error"] = f"{type(error).__name__}: {error}"
            self._store.set_meta("training_status", status)
        finally:
            self._store.close()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(exc)

    def __repr__(self) -> str:
        return (
            f"Tracker({', '.join(self.models)}, {str(self.path)!r}, every={self.every}, "
            f"{len(self._plans)} sites, step {self._step}, {self._writer.rows} snapshots)"
        )

    # ------------------------------------------------------------------ setup
    def _network(self, name: str, model: nn.Module, sites):
        from pathlens.model import Network

        probe = self.probes[name]
        what = "The probe" if not self._prefixed else f"The probe for model {name!r}"
        try:
            with _undisturbed(model, "eval"), warnings.catch_warnings():
                warnings.simplefilter("ignore", PathlensWarning)  # "model in training mode"
                net = Network(model, probe[:1], sites=sites)
                # the whole batch must run, not only one item
                output = model(probe.to(_device(model)))
        except PathlensError as exc:
            hint = ""
            if self._prefixed:
                hint = (
                    " Give one probe per model, e.g. probe={'generator': latents, "
                    "'discriminator': images}."
                )
            raise PathlensError(
                f"{what} (shape {tuple(probe.shape)}) does not fit the model: {exc}{hint}"
            ) from exc
        except Exception as exc:
            raise PathlensError(
                f"{what} (shape {tuple(probe.shape)}) makes the model fail: "
                f"{type(exc).__name__}: {exc}. Give a batch of the inputs the model takes."
            ) from exc
        self._output_shapes[name] = _output_shape(output)
        return net

    def _record_structure(self, store: RunStore) -> None:
        sites = []
        for p in self._plans:
            arrays = {stat: array_path(p.name, stat) for stat in STATS}
            if p.edge:
                arrays[EDGE_WEIGHT] = array_path(p.name, EDGE_WEIGHT)
            sites.append(
                {
                    "name": p.name,
                    "model": p.model,
                    "module": p.module_name,
                    "channels": p.channels,
                    "kind": p.kind,
                    "weights": p.weight_name,
                    "activation": p.activation,
                    "input_site": p.input_site,
                    "arrays": arrays,
                }
            )
        models = {
            name: {
                "class": type(model).__name__,
                "probe_shape": list(self.probes[name].shape),
                "prefix": f"{name}/" if self._prefixed else "",
                "network": self.networks[name].describe(),
                "output_shape": self._output_shapes.get(name),
                "arrays": {OUTPUT_DIVERSITY: model_array_path(name, OUTPUT_DIVERSITY)},
            }
            for name, model in self.models.items()
        }
        store.save_arrays({f"training/probe/{name}": p for name, p in self.probes.items()})
        if store.meta("kind") is None:
            store.set_meta("kind", "training")
        store.set_meta(
            "training",
            {
                "format": 1,
                "every": self.every,
                "chunk": self.chunk,
                "probe_mode": self.probe_mode,
                "stats": list(STATS),
                "edge_weights": bool(any(p.edge for p in self._plans)),
                "models": models,
                "sites": sites,
                "started": time.time(),
            },
        )
        store.set_meta(
            "training_status", {"status": "running", "pid": os.getpid(), "started": time.time()}
        )

    # ------------------------------------------------------------------ recording
    def _flush(self, snapshot: tuple[int, int, float] | None = None) -> None:
        if self._pending or snapshot is not None:
            self._store.add_training_records(self._pending, snapshot)
            self._pending = []
        self._last_flush = time.monotonic()

    def _snapshot(self, step: int, now: float) -> None:
        values = self._measure()
        self._writer.append(values)  # the data first: a snapshot exists once its row does
        self._flush((self._writer.rows - 1, step, now))

    def _measure(self) -> dict[str, np.ndarray]:
        out: dict[str, torch.Tensor] = {}
        for name, model in self.models.items():
            plans = [p for p in self._plans if p.model == name]
            out.update(self._activation_stats(name, model, plans))
        with torch.no_grad():
            for p in self._plans:
                out.update(self._parameter_stats(p))
                if p.edge:
                    matrix = summed_weight(p.weight, p.input_channels)
                    out[array_path(p.name, EDGE_WEIGHT)] = matrix.reshape(-1)
        return {path: t.detach().float().cpu().numpy() for path, t in out.items()}

    def _activation_stats(self, name: str, model: nn.Module, plans: list[_SitePlan]):
        stats: dict[str, torch.Tensor] = {}

        def hook_for(p: _SitePlan):
            def hook(module, args, output):
                x = output.detach()
                if x.dim() < 2 or x.shape[1] != p.channels:
                    raise PathlensError(
                        f"Site {p.name!r} returned shape {tuple(x.shape)} on the probe; it "
                        f"was recorded with {p.channels} channels on dim 1."
                    )
                dims = (0, *range(2, x.dim()))
                std, mean = torch.std_mean(x.float(), dim=dims, correction=0)
                stats[array_path(p.name, "act_mean")] = mean
                stats[array_path(p.name, "act_std")] = std

            return hook

        device = _device(model)
        probe = self._probe_on.get(name)
        if probe is None or probe.device != device:
            probe = self._probe_on[name] = self.probes[name].to(device)
        handles = [p.module.register_forward_hook(hook_for(p)) for p in plans]
        try:
            with _undisturbed(model, self.probe_mode):
                output = model(probe)
                stats[model_array_path(name, OUTPUT_DIVERSITY)] = _diversity(output)
        finally:
            for h in handles:
                h.remove()
        missing = [p.name for p in plans if array_path(p.name, "act_mean") not in stats]
        if missing:
            raise PathlensError(
                f"Sites {missing} did not run on the probe batch; the model's forward changed "
                "since the tracker was created."
            )
        return stats

    def _parameter_stats(self, p: _SitePlan) -> dict[str, torch.Tensor]:
        nan = torch.full((p.channels,), float("nan"))
        if p.weight is None:
            return {array_path(p.name, s): nan for s in ("grad_norm", "weight_norm",
                                                         "update_norm")}  # fmt: skip
        weight, bias = _parameters(p.weight, clone=False)
        grad_w = weight.grad
        grad_b = None if bias is None else bias.grad
        previous_w, previous_b = self._previous[id(p)]
        norms = {
            "weight_norm": _channel_norm(p.weight, weight, bias),
            "grad_norm": nan if grad_w is None else _channel_norm(p.weight, grad_w, grad_b),
        }
        if previous_w.shape == weight.shape:
            norms["update_norm"] = _channel_norm(
                p.weight, weight - previous_w, None if bias is None else bias - previous_b
            )
            previous_w.copy_(weight)
            if bias is not None:
                previous_b.copy_(bias)
        else:  # the layer was rebuilt: start over from here
            norms["update_norm"] = nan
            self._previous[id(p)] = _parameters(p.weight)
        return {array_path(p.name, s): v for s, v in norms.items()}


# ---------------------------------------------------------------------- helpers
def _positive_int(value, name: str, meaning: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise PathlensError(f"{name} must be a whole number >= 1 ({meaning}); got {value!r}.")
    return int(value)


def _models_dict(models) -> dict[str, nn.Module]:
    if isinstance(models, nn.Module):
        return {SINGLE: models}
    if not isinstance(models, Mapping):
        raise PathlensError(
            f"models must be an nn.Module or a dict of them, got {type(models).__name__}."
        )
    if not models:
        raise PathlensError("models is an empty dict: give at least one model to track.")
    out = {}
    for name, model in models.items():
        if not isinstance(name, str) or not name or "/" in name or name != name.strip():
            raise PathlensError(
                f"Model names must be non-empty strings without '/' or surrounding spaces "
                f"(they prefix site names); got {name!r}."
            )
        if not isinstance(model, nn.Module):
            raise PathlensError(
                f"models[{name!r}] must be an nn.Module, got {type(model).__name__}."
            )
        out[name] = model
    return out


def _check_probe(probe, what: str) -> torch.Tensor:
    if not isinstance(probe, torch.Tensor):
        raise PathlensError(
            f"{what} must be a torch.Tensor batch [N, ...], got {type(probe).__name__}."
        )
    if probe.dim() < 1 or len(probe) == 0:
        raise PathlensError(f"{what} is empty (shape {tuple(probe.shape)}); give a batch.")
    if probe.is_floating_point() and not torch.isfinite(probe).all():
        raise PathlensError(f"{what} contains NaN or infinite values; give a clean batch.")
    return probe.detach()


def _probes_dict(probe, models: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    if probe is None:
        raise PathlensError(
            "The tracker needs a probe: a fixed input batch it runs at every snapshot, e.g. "
            "probe=images[:64] (for a generator, a fixed latent batch)."
        )
    if isinstance(probe, Mapping):
        missing = [n for n in models if n not in probe]
        extra = [n for n in probe if n not in models]
        if missing or extra:
            raise PathlensError(
                f"The probe dict must have exactly one batch per model ({', '.join(models)}); "
                f"missing: {missing or 'none'}, unknown: {extra or 'none'}."
            )
        return {n: _check_probe(probe[n], f"The probe for model {n!r}") for n in models}
    batch = _check_probe(probe, "The probe")
    return dict.fromkeys(models, batch)


def _sites_dict(sites, models: dict[str, nn.Module]) -> dict[str, object]:
    if isinstance(sites, str):
        return dict.fromkeys(models, sites)
    if isinstance(sites, Mapping):
        unknown = [n for n in sites if n not in models]
        if unknown:
            raise PathlensError(f"sites names unknown models {unknown}; models: {list(models)}.")
        return {n: sites.get(n, "auto") for n in models}
    if len(models) != 1:
        raise PathlensError(
            "With a dict of models, sites must be 'auto' or a dict model name -> 'auto' or "
            "a list of module names."
        )
    return {next(iter(models)): list(sites)}


def _device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


@contextmanager
def _undisturbed(model: nn.Module, mode: str):
    """Run the model without a trace on training: no gradients; module modes, buffers and the
    torch RNG (CPU and CUDA) as they were before."""
    modes = [(m, m.training) for m in model.modules()]
    buffers = [
        (module, key, tensor, tensor.clone())
        for module in model.modules()
        for key, tensor in module._buffers.items()
        if tensor is not None
    ]
    cpu_rng = torch.get_rng_state()
    cuda_rng = (
        torch.cuda.get_rng_state_all()
        if torch.cuda.is_available() and torch.cuda.is_initialized()
        else None
    )
    try:
        if mode == "eval":
            for m, _ in modes:
                m.training = False
        with torch.no_grad():
            yield
    finally:
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        for m, flag in modes:
            m.training = flag
        with torch.no_grad():
            for module, key, tensor, saved in buffers:
                if module._buffers.get(key) is not tensor:
                    module._buffers[key] = tensor
                # Copy only what changed: an in-place write bumps the version counter, which
                # autograd would report if the loop calls step() before backward().
                if not torch.equal(tensor, saved):
                    tensor.copy_(saved)


def _plan_sites(net, model_name: str, prefix: str) -> list[_SitePlan]:
    from pathlens.model._sites import _walk_back_to_producer

    graph = net.graph
    modules = dict(net.model.named_modules())
    by_name = {site.name: site for site in net.sites}
    node_site: dict[int, str] = {}
    for site in net.sites:  # in forward order: of two sites on one tensor, the later one
        node_site[graph.module_outputs[site.name]] = site.name
    plans = []
    for site in net.sites:
        node = graph.nodes[graph.module_outputs[site.name]]
        producer = node
        if node.category not in ("conv", "linear"):
            producer, _ = _walk_back_to_producer(graph, node)
        weight_name, weight = None, None
        if producer.op == "module" and producer.category in ("conv", "linear"):
            module = modules.get(producer.name)
            if module is not None and _out_channels(module) == site.channels:
                weight_name, weight = producer.name, module
        input_site, input_channels = None, 0
        if weight is not None:
            source = _input_site(graph, graph.module_outputs[weight_name], node_site)
            if source is not None and _takes(weight, by_name[source]):
                input_site, input_channels = prefix + source, by_name[source].channels
        plans.append(
            _SitePlan(
                name=prefix + site.name,
                model=model_name,
                module_name=site.name,
                module=modules[site.name],
                channels=site.channels,
                kind=site.kind,
                weight_name=weight_name,
                weight=weight,
                activation=type(modules[site.name]).__name__,
                input_site=input_site,
                input_channels=input_channels,
            )
        )
    return plans


def _input_site(graph, producer: int, node_site: dict[int, str]) -> str | None:
    """The site whose output feeds node `producer` through single-input operations only."""
    node = graph.nodes[producer]
    if not node.inputs:
        return None
    index = node.inputs[0]
    while True:
        if index in node_site:
            return node_site[index]
        node = graph.nodes[index]
        if node.category in ("conv", "linear", "add", "cat") or len(node.inputs) != 1:
            return None
        index = node.inputs[0]


def _takes(layer: nn.Module, source) -> bool:
    """Whether `layer`'s input has exactly the channels (and positions) of site `source`."""
    if isinstance(layer, nn.Linear):
        return layer.in_features == math.prod(source.shape)
    return getattr(layer, "in_channels", None) == source.channels


def summed_weight(layer: nn.Module, in_channels: int) -> torch.Tensor:
    """The weight of a convolution or linear layer summed over kernel positions: [C_out, C_in].

    Entry [j, i] is what input channel i adds to output channel j per unit of i's activation,
    where i is constant over positions (exact for a channel's mean, away from the borders).
    Grouped convolutions give a block-diagonal matrix; a linear layer reading a flattened
    map [C_in, positions] is summed over the positions.
    """
    w = layer.weight.detach().float()
    if isinstance(layer, nn.Linear):
        return w.reshape(w.shape[0], in_channels, -1).sum(2)
    summed = w.flatten(2).sum(2)
    groups = layer.groups
    if isinstance(layer, nn.modules.conv._ConvTransposeNd):
        # weight [C_in, C_out / groups, *kernel]: per group, transpose its [in, out] block
        size = summed.shape[0] // groups
        blocks = [summed[g * size : (g + 1) * size].T for g in range(groups)]
    else:  # weight [C_out, C_in / groups, *kernel]
        size = summed.shape[0] // groups
        blocks = [summed[g * size : (g + 1) * size] for g in range(groups)]
    return blocks[0] if groups == 1 else torch.block_diag(*blocks)


def _first_output(output) -> torch.Tensor | None:
    """The model's first floating-point output tensor with a batch dimension."""
    from torch.utils._pytree import tree_flatten

    for value in tree_flatten(output)[0]:
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.dim() >= 1:
            return value
    return None


def _output_shape(output) -> list[int] | None:
    value = _first_output(output)
    return None if value is None else list(value.shape[1:])


def _diversity(output) -> torch.Tensor:
    """Root mean over elements of the variance across the batch, of the model's first
    floating-point output tensor; NaN when there is none."""
    value = _first_output(output)
    if value is None:
        return torch.full((1,), float("nan"))
    flat = value.detach().float().reshape(len(value), -1)
    return flat.var(0, correction=0).mean().sqrt().reshape(1)


def _out_channels(module: nn.Module) -> int | None:
    if isinstance(module, nn.Linear):
        return module.out_features
    if isinstance(module, nn.modules.conv._ConvNd):
        return module.out_channels
    return None


def _parameters(module: nn.Module, clone: bool = True):
    weight = module.weight
    bias = getattr(module, "bias", None)
    if not clone:
        return weight, bias
    return weight.detach().clone(), None if bias is None else bias.detach().clone()


def _channel_norm(
    module: nn.Module, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """L2 norm per output channel of a weight-shaped tensor and a bias-shaped one."""
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        # weight [in, out / groups, *kernel]: output channel g * (out / groups) + j
        groups = module.groups
        w = weight.reshape(groups, weight.shape[0] // groups, weight.shape[1], -1)
        squares = w.float().pow(2).sum(dim=(1, 3)).reshape(-1)
    else:
        squares = weight.float().reshape(weight.shape[0], -1).pow(2).sum(dim=1)
    if bias is not None:
        squares = squares + bias.float().pow(2)
    return squares.sqrt()


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


# ---------------------------------------------------------------------- PyTorch Lightning
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
            _positive_int(every, "every", "take a snapshot every that many steps")
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
