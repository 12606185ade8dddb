from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict

import torch
from torch import nn

from pathlens.errors import PathlensError, PathlensWarning
from pathlens.model._graph import OpGraph, graph_from_fx, record_graph
from pathlens.model._sites import (
    Site,
    auto_sites,
    name_top_level,
    producing_module,
    segment_of,
    site_edges,
)

Channels = Sequence[int] | torch.Tensor


class Network:
    """A PyTorch model seen as gating sites: modules whose output channels (dim 1) can be masked.

    Args:
        model: any ``nn.Module``; put it in eval mode first for analysis.
        example_input: one batch the model accepts, e.g. a tensor [1, 1, 28, 28].
        sites: ``"auto"`` (activations after convolutions, residual and concatenating block
            outputs, hidden linear layers) or a list of module qualified names.

    >>> net = Network(model, torch.zeros(1, 1, 28, 28))
    >>> [s.name for s in net.sites][:2]
    ['stem.2', 'layer1.0.relu1']
    >>> with net.mask({"stem.2": [0, 3]}):
    ...     logits, top1 = net.predict(images)
    """

    def __init__(self, model: nn.Module, example_input, sites: str | Sequence[str] = "auto"):
        if not isinstance(model, nn.Module):
            raise PathlensError(
                f"Network needs a torch.nn.Module, got {type(model).__name__}. Pass the model "
                "object itself (for a saved state dict, build the model and load it first)."
            )
        self.model = model
        self.example_input = _check_tensor(example_input, "example input")
        if model.training:
            warnings.warn(
                "The model is in training mode: batch norm and dropout make masked predictions "
                "vary. Call model.eval() before building a Network for analysis.",
                PathlensWarning,
                stacklevel=2,
            )
        try:
            with torch.no_grad():
                recording = record_graph(model, self.example_input)
        except Exception as exc:
            raise PathlensError(
                f"The model failed on the example input of shape "
                f"{tuple(self.example_input.shape)}: {type(exc).__name__}: {exc}. Give an example "
                "input of the shape the model expects (batch first, e.g. [1, 1, 28, 28])."
            ) from exc
        self._output = recording.output
        graph: OpGraph
        try:
            graph = graph_from_fx(model)
        except Exception as exc:  # fx raises many types for untraceable code
            graph = recording.graph
            self.fx_error = f"{type(exc).__name__}: {exc}"
        else:
            self.fx_error = None
        self.graph = graph
        self.graph_source: str = graph.source
        """``"fx"`` when torch.fx traced the model, ``"hooks"`` for the recorded execution."""
        self._call_counts = recording.call_counts
        self._shapes = recording.output_shapes
        modules = dict(model.named_modules())
        if isinstance(sites, str):
            if sites != "auto":
                raise PathlensError(
                    f"sites must be 'auto' or a list of module names, not {sites!r}."
                )
            kinds = auto_sites(graph, self._call_counts)
            kinds = {n: k for n, k in kinds.items() if self._channel_shape(n) is not None}
        else:
            kinds = {name: "module" for name in self._check_site_names(list(sites), modules)}
        if not kinds:
            raise PathlensError(
                "No gating sites were found in this model: pathlens looks for activations after "
                "convolutions, residual blocks and hidden linear layers. Name the sites by hand "
                "with sites=[...] (module names from model.named_modules())."
            )
        order = sorted(kinds, key=lambda n: graph.module_outputs[n])
        segments = name_top_level(
            [segment_of(n, next(iter(modules[n].children()), None) is not None) for n in order],
            type(model).__name__,
        )
        self.sites: list[Site] = [
            Site(
                name=n,
                channels=self._channel_shape(n)[0],
                kind=kinds[n],
                segment=segments[i],
                shape=self._channel_shape(n),
                index=i,
            )
            for i, n in enumerate(order)
        ]
        self._by_name = {s.name: s for s in self.sites}
        self.edges: list[tuple[str, str]] = site_edges(graph, order)
        self._modules = {s.name: modules[s.name] for s in self.sites}

    # ------------------------------------------------------------------ structure
    def __repr__(self) -> str:
        return (
            f"Network({type(self.model).__name__}, {len(self.sites)} sites, "
            f"{sum(s.channels for s in self.sites)} channels, graph from {self.graph_source})"
        )

    def describe(self) -> dict:
        """The structure as JSON (sites, edges, graph source): what a run stores and the web
        app draws, without the model."""
        return {
            "sites": [
                {**asdict(s), "segment": list(s.segment), "shape": list(s.shape)}
                for s in self.sites
            ],
            "edges": [list(e) for e in self.edges],
            "graph_source": self.graph_source,
        }

    def site(self, name: str) -> Site:
        """The site called `name`; a clear error for an unknown name."""
        try:
            return self._by_name[name]
        except KeyError:
            raise PathlensError(_unknown_name(name, list(self._by_name), "site")) from None

    def producer(self, site: str) -> str | None:
        """Qualified name of the convolution or linear module that makes `site`'s channels,
        reaching it through norms, activations and dropout only; None when the channels come
        from a join (a residual sum, a concatenation), a function or the model input.

        >>> net.producer("layer1.0.relu1")
        'layer1.0.conv1'
        """
        spec = self.site(site)
        name = producing_module(self.graph, self.graph.nodes[self.graph.module_outputs[spec.name]])
        if name is None:
            return None
        module = dict(self.model.named_modules()).get(name)
        if isinstance(module, nn.Linear):
            out = module.out_features
        else:
            out = getattr(module, "out_channels", None)
        # a layer whose outputs were reshaped into other channels does not make these ones
        return name if out == spec.channels else None

    @property
    def site_names(self) -> list[str]:
        return [s.name for s in self.sites]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example, without the batch dimension."""
        return tuple(self.example_input.shape[1:])

    def _channel_shape(self, name: str) -> tuple[int, ...] | None:
        shape = self._shapes.get(name)
        if shape is None or len(shape) < 2:
            return None
        return tuple(shape[1:])

    def _check_site_names(self, names: list[str], modules: dict[str, nn.Module]) -> list[str]:
        if not names:
            raise PathlensError("The site list is empty: name at least one module, or use 'auto'.")
        for name in names:
            if name not in modules or name == "":
                raise PathlensError(_unknown_name(name, [n for n in modules if n], "module"))
            calls = self._call_counts.get(name, 0)
            if calls == 0:
                raise PathlensError(
                    f"Module {name!r} does not run in the model's forward on the example input, "
                    "so it cannot be a site. Pick a module that runs."
                )
            if calls > 1:
                raise PathlensError(
                    f"Module {name!r} runs {calls} times in one forward (it is shared, like one "
                    "ReLU used after several layers). A site must run once, or masking it would "
                    "mask every use at once. Pick a module that runs once, or give each use its "
                    "own module in the model."
                )
            if self._channel_shape(name) is None:
                raise PathlensError(
                    f"Module {name!r} does not return one tensor with a batch and a channel "
                    f"dimension (its output: {self._shapes.get(name)}), so its channels cannot "
                    "be masked. Pick a module whose output is [batch, channels, ...]."
                )
        return list(dict.fromkeys(names))

    # ------------------------------------------------------------------ masking
    @contextmanager
    def mask(
        self,
        keep: Mapping[str, Channels],
        *,
        ablation: str = "zero",
        reference: Mapping[str, torch.Tensor] | None = None,
    ) -> Iterator[None]:
        """Keep only the given channels at each listed site, all sites at once.

        keep: site name -> kept channel indices (or a boolean tensor [C]). Removed channels are
        multiplied by 0 (``ablation="zero"``) or set to ``reference[site]`` [C] (``"mean"``).
        Sites not listed are untouched.
        """
        gates = {}
        for name, channels in keep.items():
            site = self.site(name)
            gates[name] = _channels_to_gate(channels, site)
        with self.gate(gates, ablation=ablation, reference=reference):
            yield

    @contextmanager
    def gate(
        self,
        gates: Mapping[str, torch.Tensor],
        *,
        ablation: str = "zero",
        reference: Mapping[str, torch.Tensor] | None = None,
    ) -> Iterator[None]:
        """Multiply each listed site's output by a gate: [C] shared, or [N, C] per image.

        Gates may require grad; gradients flow into them. With ``ablation="mean"`` the output
        is ``gate * out + (1 - gate) * reference[site]``.
        """
        if ablation not in ("zero", "mean"):
            raise PathlensError(f"Unknown ablation {ablation!r}: use 'zero' or 'mean'.")
        handles = []
        try:
            for name, gate in gates.items():
                site = self.site(name)
                if gate.shape[-1] != site.channels or gate.dim() not in (1, 2):
                    raise PathlensError(
                        f"The gate for site {name!r} has shape {tuple(gate.shape)}; the site "
                        f"has {site.channels} channels: use [{site.channels}] or "
                        f"[N, {site.channels}]."
                    )
                ref = None
                if ablation == "mean":
                    if reference is None or name not in reference:
                        raise PathlensError(
                            f"Mean ablation needs a reference value per channel for site {name!r}: "
                            "pass reference=net.channel_means(images)."
                        )
                    ref = reference[name]
                    if ref.shape != (site.channels,):
                        raise PathlensError(
                            f"The reference for site {name!r} has shape {tuple(ref.shape)}; "
                            f"expected [{site.channels}]."
                        )
                hook = _gate_hook(gate, ref)
                handles.append(self._modules[name].register_forward_hook(hook))
            yield
        finally:
            for h in handles:
                h.remove()

    # ------------------------------------------------------------------ running
    def check_inputs(self, x, what: str = "images") -> torch.Tensor:
        """`x` as a float tensor with the example input's shape per item; clear errors if not."""
        x = _check_tensor(x, what)
        if tuple(x.shape[1:]) != self.input_shape:
            raise PathlensError(
                f"The {what} have shape {tuple(x.shape)}, but the model takes "
                f"[N, {', '.join(map(str, self.input_shape))}] (from the example input). "
                "Resize or convert them (channel count included) to that shape."
            )
        return x

    def _batches(self, x: torch.Tensor, batch_size: int):
        for start in range(0, len(x), batch_size):
            yield x[start : start + batch_size]

    def predict(self, x, batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits [N, K] and top-1 classes [N] of a classifier, in batches, without gradients."""
        x = self.check_inputs(x)
        if not (isinstance(self._output, torch.Tensor) and self._output.dim() == 2):
            raise PathlensError(
                "predict is for classifiers returning logits [N, classes]; this model returns "
                f"{_describe(self._output)}. Use net.model(x) directly."
            )
        with torch.inference_mode():
            logits = torch.cat([self.model(b) for b in self._batches(x, batch_size)])
        return logits, logits.argmax(1)

    def activations(
        self, x, sites: Sequence[str] | None = None, batch_size: int = 512
    ) -> dict[str, torch.Tensor]:
        """Outputs of the given sites (all by default) for `x`: site -> [N, C, ...]."""
        x = self.check_inputs(x)
        names = list(sites) if sites is not None else self.site_names
        store: dict[str, list[torch.Tensor]] = {n: [] for n in names}
        handles = [
            self._modules[self.site(n).name].register_forward_hook(
                lambda m, a, out, n=n: store[n].append(out.detach().clone())
            )
            for n in names
        ]
        try:
            with torch.inference_mode():
                for b in self._batches(x, batch_size):
                    self.model(b)
        finally:
            for h in handles:
                h.remove()
        return {n: torch.cat(v) for n, v in store.items()}

    def channel_means(self, x, batch_size: int = 512) -> dict[str, torch.Tensor]:
        """Mean of each channel over images and positions: site -> [C] (for mean ablation)."""
        acts = self.activations(x, batch_size=batch_size)
        return {n: a.transpose(0, 1).reshape(a.shape[1], -1).mean(1) for n, a in acts.items()}


def _gate_hook(gate: torch.Tensor, reference: torch.Tensor | None):
    def hook(module, args, output):
        shape = [gate.shape[0] if gate.dim() == 2 else 1, gate.shape[-1]]
        shape += [1] * (output.dim() - 2)
        g = gate.reshape(shape).to(output.dtype)
        if reference is None:
            return output * g
        r = reference.reshape([1, gate.shape[-1]] + [1] * (output.dim() - 2)).to(output.dtype)
        return output * g + r * (1 - g)

    return hook


def _channels_to_gate(channels: Channels, site: Site) -> torch.Tensor:
    if isinstance(channels, torch.Tensor) and channels.dtype == torch.bool:
        if channels.shape != (site.channels,):
            raise PathlensError(
                f"The boolean mask for site {site.name!r} has shape {tuple(channels.shape)}; "
                f"expected [{site.channels}]."
            )
        return channels.float()
    index = torch.as_tensor(list(channels) if not isinstance(channels, torch.Tensor) else channels)
    index = index.long().flatten()
    if len(index) and (index.min() < 0 or index.max() >= site.channels):
        raise PathlensError(
            f"Channel indices for site {site.name!r} must be in 0..{site.channels - 1}; got "
            f"{index.min().item()}..{index.max().item()}."
        )
    gate = torch.zeros(site.channels)
    gate[index] = 1.0
    return gate


def _check_tensor(x, what: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise PathlensError(f"The {what} must be a torch.Tensor, got {type(x).__name__}.")
    if x.dim() < 1 or len(x) == 0:
        raise PathlensError(f"The {what} are empty (shape {tuple(x.shape)}): give at least one.")
    if x.is_floating_point() and not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).sum().item()
        raise PathlensError(
            f"The {what} contain {bad} NaN or infinite values. Clean or re-normalise them "
            "before analysis (pathlens never silently replaces values)."
        )
    if not x.is_floating_point():
        raise PathlensError(
            f"The {what} have dtype {x.dtype}; pathlens expects floating-point inputs "
            "(e.g. images scaled to [0, 1])."
        )
    return x


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return type(value).__name__


def _unknown_name(name: str, known: list[str], what: str) -> str:
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    listed = ", ".join(known[:12]) + (" ..." if len(known) > 12 else "")
    return f"There is no {what} named {name!r}.{hint} Known {what}s: {listed}."
