"""What a tracker records: the models, their probes, and per site the layer that makes it.

Everything here runs once, when a `Tracker` is created, and checks the user's arguments.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from pathlens._torch import frozen
from pathlens.errors import PathlensError, PathlensWarning
from pathlens.model import Network

SINGLE = "model"
"""Name of the model when the tracker is given one module rather than a dict."""
MAX_EDGE_ENTRIES = 2**20
"""Largest kernel-summed weight matrix (C_out x C_in) recorded per site and snapshot."""


@dataclass
class SitePlan:
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


def plan_model(
    name: str, model: nn.Module, probe: torch.Tensor, sites, prefixed: bool
) -> tuple[Network, list[int] | None]:
    """The model's `Network` and the shape of its output on the whole probe (no batch)."""
    what = "The probe" if not prefixed else f"The probe for model {name!r}"
    try:
        with (
            frozen(model, weights=False, mode="eval", rng=True, buffers=True),
            torch.no_grad(),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore", PathlensWarning)  # "model in training mode"
            net = Network(model, probe[:1], sites=sites)
            # the whole batch must run, not only one item
            output = model(probe.to(device_of(model)))
    except PathlensError as exc:
        hint = ""
        if prefixed:
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
    value = first_output(output)
    return net, None if value is None else list(value.shape[1:])


def plan_sites(net: Network, model_name: str, prefix: str, edge_weights: bool) -> list[SitePlan]:
    """One plan per site of `net`: the layer making its channels and the site feeding that."""
    graph = net.graph
    modules = dict(net.model.named_modules())
    by_name = {site.name: site for site in net.sites}
    node_site: dict[int, str] = {}
    for site in net.sites:  # in forward order: of two sites on one tensor, the later one
        node_site[graph.module_outputs[site.name]] = site.name
    plans = []
    for site in net.sites:
        weight_name = net.producer(site.name)
        weight = None if weight_name is None else modules[weight_name]
        input_site, input_channels = None, 0
        if weight is not None:
            source = _input_site(graph, graph.module_outputs[weight_name], node_site)
            if source is not None and _takes(weight, by_name[source]):
                input_site, input_channels = prefix + source, by_name[source].channels
        plans.append(
            SitePlan(
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
                edge=bool(edge_weights)
                and input_site is not None
                and site.channels * input_channels <= MAX_EDGE_ENTRIES,
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


def first_output(output) -> torch.Tensor | None:
    """The model's first floating-point output tensor with a batch dimension."""
    from torch.utils._pytree import tree_flatten

    for value in tree_flatten(output)[0]:
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.dim() >= 1:
            return value
    return None


def device_of(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


# ------------------------------------------------------------------ the user's arguments
def positive_int(value, name: str, meaning: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise PathlensError(f"{name} must be a whole number >= 1 ({meaning}); got {value!r}.")
    return int(value)


def models_dict(models) -> dict[str, nn.Module]:
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


def probes_dict(probe, models: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
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


def sites_dict(sites, models: dict[str, nn.Module]) -> dict[str, object]:
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
