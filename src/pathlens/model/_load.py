"""A model spec from the command line (``demo:resnet``, ``pkg.mod:factory``) -> a model.

A spec is ``prefix:name``. Registered prefixes (``demo`` is one) build their own models; any
other prefix is a Python module and ``name`` a factory in it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from pathlens.errors import PathlensError

# Packages of pathlens that register a prefix when imported: imported the first time a spec
# names a prefix not registered yet, so that this module depends on none of them.
_BUILT_IN = ("pathlens.demo",)


@dataclass(frozen=True)
class _Prefix:
    build: Callable[..., nn.Module]
    names: tuple[str, ...] | None
    classes: tuple[str, ...] | None


_PREFIXES: dict[str, _Prefix] = {}


def register_model_prefix(
    prefix: str,
    build: Callable[..., nn.Module],
    *,
    names: tuple[str, ...] | None = None,
    classes: tuple[str, ...] | None = None,
) -> None:
    """Make specs ``prefix:name`` build their model with ``build(name, trained=, progress=)``.

    build returns the ``nn.Module``, with its own trained weights when ``trained`` is True
    (the user gave no weights file) and freshly initialised otherwise. names: the names the
    prefix knows (an unknown one is refused with this list); classes: the class names of
    its models' outputs, when known.

    >>> register_model_prefix("zoo", lambda name, trained, progress: ZOO[name](), names=("a",))
    >>> load_model("zoo:a")
    """
    if not prefix.isidentifier():
        raise PathlensError(f"A model spec prefix must be a Python identifier; got {prefix!r}.")
    names = tuple(names) if names is not None else None
    _PREFIXES[prefix] = _Prefix(build, names, tuple(classes) if classes else None)


@dataclass
class LoadedModel:
    model: nn.Module
    example_input: torch.Tensor  # [1, *input_shape]
    classes: tuple[str, ...] | None  # class names when known (the demo models)
    spec: str


def load_model(
    spec: str,
    weights: str | Path | None = None,
    input_shape: tuple[int, ...] | None = None,
    *,
    progress: bool = True,
) -> LoadedModel:
    """Build the model named by `spec`, load `weights` (a state dict) into it, in eval mode.

    spec: ``prefix:name`` for a registered prefix (``demo:cnn``, ``demo:resnet``; see
    `register_model_prefix`), or ``package.module:factory`` where ``factory()`` returns an
    ``nn.Module``. input_shape: one example's shape (default 1x28x28, the demo data).
    """
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise PathlensError(
            f"Unknown model spec {spec!r}. Give 'prefix:name' with a registered prefix ("
            + _known_prefixes()
            + "), or 'package.module:factory' where factory() builds your nn.Module (with "
            "--weights FILE for its state dict)."
        )
    prefix, name = spec.split(":")
    shape = tuple(input_shape) if input_shape is not None else (1, 28, 28)
    if not shape or not all(
        isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape
    ):
        raise PathlensError(
            f"input_shape must be one example's size as positive whole numbers, e.g. (1, 28, "
            f"28), not {input_shape!r}."
        )
    registered = _lookup(prefix)
    if registered is not None:
        if registered.names is not None and name not in registered.names:
            raise PathlensError(
                f"Unknown {prefix} model {name!r} in {spec!r}. The {prefix} models are: "
                + ", ".join(f"{prefix}:{m}" for m in registered.names)
                + "."
            )
        model = registered.build(name, trained=weights is None, progress=progress)
        classes = registered.classes
    else:
        model = _build_from_factory(spec, prefix, name)
        classes = None
    if weights is not None:
        load_weights(model, weights)
    return LoadedModel(model.eval(), torch.zeros(1, *shape), classes, spec)


def is_registered_spec(spec: str) -> bool:
    """Whether `spec` names a registered prefix (``demo:`` ...), so that building it imports
    no module named by the spec itself: only pathlens' own prefix packages are imported."""
    if not isinstance(spec, str) or spec.count(":") != 1:
        return False
    return _lookup(spec.split(":")[0]) is not None


def _lookup(prefix: str) -> _Prefix | None:
    if prefix not in _PREFIXES:
        for module in _BUILT_IN:
            importlib.import_module(module)
    return _PREFIXES.get(prefix)


def _known_prefixes() -> str:
    for module in _BUILT_IN:
        importlib.import_module(module)
    return ", ".join(f"{p}:" for p in _PREFIXES)


def _build_from_factory(spec: str, module_name: str, attr: str) -> nn.Module:
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise PathlensError(
            f"Could not import {module_name!r} for model spec {spec!r}: {type(exc).__name__}: "
            f"{exc}. Make sure the module is installed or on PYTHONPATH, or use a registered "
            f"prefix ({_known_prefixes()})."
        ) from exc
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise PathlensError(
            f"{module_name!r} has no callable {attr!r} (model spec {spec!r}). The part after "
            "':' must name a function or class that builds the model with no arguments."
        )
    try:
        model = factory()
    except Exception as exc:
        raise PathlensError(
            f"{spec} raised {type(exc).__name__}: {exc}. The factory must build the model "
            "with no arguments."
        ) from exc
    if not isinstance(model, nn.Module):
        raise PathlensError(f"{spec} returned a {type(model).__name__}, not a torch.nn.Module.")
    return model


def load_weights(model: nn.Module, path: str | Path) -> None:
    """Load a state dict from `path` into `model`, safely (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise PathlensError(f"The weights file {path} does not exist or is not a file.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many types on files it cannot read
        if "Weights only load failed" in str(exc):
            reason = "it holds Python objects other than tensors"
        else:
            reason = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
        raise PathlensError(
            f"{path} is not a state dict pathlens can load safely ({reason}). pathlens "
            "loads weights with torch.load(weights_only=True) and never unpickles arbitrary "
            "objects: save the weights with torch.save(model.state_dict(), path)."
        ) from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a training checkpoint (e.g. Lightning) holding one
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PathlensError(
            f"{path} holds a {type(state).__name__}, not a state dict (a mapping of parameter "
            "names to tensors). Save it with torch.save(model.state_dict(), path)."
        )
    result = _check_fit(model, state)
    if result:
        raise PathlensError(
            f"The weights in {path} do not fit the model: {result}. Check that the model spec "
            "builds the same architecture the weights were saved from."
        )
    model.load_state_dict(state)


def _check_fit(model: nn.Module, state: dict[str, torch.Tensor]) -> str:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
        if items:
            more = f" and {len(items) - 3} more" if len(items) > 3 else ""
            problems.append(f"{label}: {', '.join(items[:3])}{more}")
    return "; ".join(problems)
