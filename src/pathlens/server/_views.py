"""The read side of a run folder for the web app: one function per API answer, JSON-ready.

`pathlens serve` answers requests with these, and `pathlens report` embeds the same answers in
one HTML file, so the browser sees identical data either way. The JSON shapes are declared as
pydantic models in `_models.py`; the front end's types are generated from them.

Answers never write to the run: what a view needs and the run lacks (the order of a layer's
channels, an activation-maximisation image) is computed on request and kept in a bounded
in-memory cache.
"""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from pathlens.attacks import METHODS, SETS, load_analysis
from pathlens.datapath import list_datapaths, load_datapath
from pathlens.errors import NotFoundError, PathlensError
from pathlens.mechanism import (
    activation_maximization,
    arrange_channels,
    list_mechanisms,
    mechanism_array,
    mechanism_summary,
)
from pathlens.store import RunStore
from pathlens.workflows import RunModel, load_run_model, run_model_problem

# Targeted attacks only: an analysis needs images pushed to its target class (DeepFool is not).
ATTACKS = [name for name, spec in METHODS.items() if spec.targeted]
MAX_LINKS = 300  # per site pair in the layer view: the strongest by |weight|
CACHED_ARRANGEMENTS = 256  # layer views' channel orders; small (a few KB each)
CACHED_MAXIMIZATIONS = 64  # activation-maximisation images made on request ([C_in, H, W] each)


def byte_array(values: torch.Tensor | np.ndarray) -> dict:
    """Values quantised to 0..255 over their [min, max], as base64 (ByteArray in types.ts)."""
    array = np.asarray(values, dtype=np.float32)
    finite = array[np.isfinite(array)]
    low = float(finite.min()) if finite.size else 0.0
    high = float(finite.max()) if finite.size else 0.0
    scale = 255.0 / (high - low) if high > low else 0.0
    quantised = np.clip(np.nan_to_num((array - low) * scale), 0, 255).round().astype(np.uint8)
    return {
        "shape": list(array.shape),
        "min": low,
        "max": high,
        "data": base64.b64encode(quantised.tobytes()).decode("ascii"),
    }


class RunView:
    """Answers about one run folder. Thread-safe: each thread gets its own database connection;
    loaded analyses (with their neuron arrays) are cached, as is the model once loaded."""

    def __init__(
        self,
        path: str | Path,
        *,
        jobs: bool = True,
        cached_analyses: int = 4,
        model: str | None = None,
        weights: str | Path | None = None,
    ):
        """model, weights: the spec and weights file the user names to build the run's model
        when it is not a built-in demo (never taken from the run itself); refused now when
        they do not match what the run records."""
        self.path = Path(path)
        self.model_spec, self.weights = model, weights
        with RunStore(self.path, create=False) as store:  # fails now for a wrong folder
            problem = None if model is None else run_model_problem(store, model=model,
                                                                   weights=weights)  # fmt: skip
        if problem is not None:
            raise PathlensError(f"--model {model} cannot serve {self.path}: {problem}")
        self.jobs_enabled = jobs
        self._local = threading.local()
        self._lock = threading.Lock()
        self._analyses: OrderedDict[int, object] = OrderedDict()
        self._cached_analyses = cached_analyses
        self._model: RunModel | None = None
        self._arrangements = _LRU(CACHED_ARRANGEMENTS)
        self._maximizations = _LRU(CACHED_MAXIMIZATIONS)
        # hashing a weights file on every /api/run is wasteful: the answer is kept briefly
        self._problems = _Expiring(seconds=5.0)

    # ------------------------------------------------------------------ plumbing
    def store(self) -> RunStore:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = RunStore(self.path, create=False)
        return store

    def model(self) -> RunModel:
        """The run's model and data, loaded on first use (a clear error when impossible)."""
        with self._lock:
            if self._model is None:
                self._model = load_run_model(
                    self.store(), model=self.model_spec, weights=self.weights
                )
            return self._model

    def model_problem(self) -> str | None:
        """Why nothing new can be computed in this run, or None when it can."""
        if not self.jobs_enabled:
            return "This is a read-only view of the run."
        if self._model is not None:
            return None
        return self._problems.get(
            "model",
            lambda: run_model_problem(self.store(), model=self.model_spec, weights=self.weights),
        )

    def classes(self) -> list[str] | None:
        facts = self.store().meta("model")
        return None if facts is None else facts["classes"]

    def _analysis(self, analysis_id: int):
        with self._lock:
            if analysis_id in self._analyses:
                self._analyses.move_to_end(analysis_id)
                return self._analyses[analysis_id]
        kinds = {a["id"]: a["kind"] for a in self.store().analyses()}
        if kinds.get(analysis_id) not in (None, "adversarial"):
            raise NotFoundError(f"Analysis {analysis_id} is a {kinds[analysis_id]} analysis.")
        analysis = load_analysis(self.store(), analysis_id)
        with self._lock:
            self._analyses[analysis_id] = analysis
            while len(self._analyses) > self._cached_analyses:
                self._analyses.popitem(last=False)
        return analysis

    # ------------------------------------------------------------------ answers
    def run_info(self) -> dict:
        store = self.store()
        facts = store.meta("model")
        rows = store.analyses()
        return {
            "name": self.path.resolve().name,
            "model": None
            if facts is None
            else {
                "spec": facts["spec"],
                "classes": facts["classes"],
                "input_shape": facts["input_shape"],
            },
            "network": store.meta("network"),
            "analyses": [a for a in rows if a["kind"] == "adversarial"],
            "mechanisms": list_mechanisms(store),
            "datapaths": list_datapaths(store),
            "image_sets": store.image_sets(),
            "can_run_jobs": self.model_problem() is None,
            "attacks": ATTACKS,
            "training": store.meta("training") is not None,
        }

    def analysis(self, analysis_id: int) -> dict:
        a = self._analysis(analysis_id)
        classes = self.classes() or []

        def name(c: int) -> str:
            return classes[c] if c < len(classes) else str(c)

        body = a.to_dict()
        datapaths = {}
        for key, dp in body["datapaths"].items():
            dp.pop("reference", None)
            dp.pop("settings", None)
            datapaths[key] = {**dp, "id": a.links[key]["datapath"]}
        sets = {k: {**v, **a.links[k]} for k, v in body["sets"].items()}
        row = next((r for r in self.store().analyses() if r["id"] == analysis_id), {})
        return {
            "id": analysis_id,
            "name": row.get("name", ""),
            "source": a.source,
            "target": a.target,
            "source_name": name(a.source),
            "target_name": name(a.target),
            "sites": a.sites,
            "sets": sets,
            "datapaths": datapaths,
            "comparisons": body["comparisons"],
            "progress": a.progress,
            "divergence": a.divergence,
            "merge": a.merge,
            "error_channels": body["error_channels"],
            "attack": a.attack,
            "timing": a.timing,
        }

    def _check_site(self, analysis, site: str) -> None:
        if site not in analysis.sites:
            raise NotFoundError(
                f"The model has no site {site!r}. Its sites are: {', '.join(analysis.sites)}."
            )

    def layer(self, analysis_id: int, site: str) -> dict:
        a = self._analysis(analysis_id)
        self._check_site(a, site)
        kept = {k: a.datapaths[k].channels[site] for k in SETS}
        per_image = {k: _per_image_means(a.neurons[f"acts/{k}/{site}"]) for k in SETS}
        mean = {k: per_image[k].mean(0) for k in SETS}
        union = sorted(set().union(*kept.values()))
        arrangement = self._arrangements.get((analysis_id, site))
        if arrangement is None:
            profiles = torch.cat([per_image[k] for k in SETS], dim=0).T[union]  # [kept, images]
            arrangement = arrange_channels(profiles.numpy(), union)
            self._arrangements.put((analysis_id, site), arrangement)
        order, position = arrangement
        following = [t for s, t in _edges(self.store(), a.sites) if s == site]
        following.sort(key=a.sites.index)
        next_sites = []
        for target in following:
            matrix = a.contributions.get(f"{site}->{target}")
            if matrix is None:
                continue
            m = np.asarray(matrix, dtype=np.float32)
            rows, cols = a.datapaths["A"].channels[site], a.datapaths["A"].channels[target]
            flat = np.argsort(-np.abs(m), axis=None)[:MAX_LINKS]
            links = [
                {"from": rows[i], "to": cols[j], "weight": round(float(m[i, j]), 6)}
                for i, j in zip(*np.unravel_index(flat, m.shape), strict=True)
                if m[i, j] != 0
            ]
            next_sites.append({"site": target, "kept": cols, "links": links})
        spec = a.datapaths["A"].site_channels[site]
        shape = list(a.neurons[f"acts/A/{site}"].shape[1:])
        return {
            "site": site,
            "channels": spec,
            "shape": shape,
            "kept": kept,
            "mean": {k: [round(float(v), 5) for v in mean[k]] for k in SETS},
            "order": order,
            "position": position,
            "next": next_sites,
            "error_channels": [
                {
                    "site": e.site,
                    "channel": e.channel,
                    "side": e.side,
                    "contribution": e.contribution,
                }
                for e in a.error_channels
                if e.site == site
            ],
        }

    def neuron(self, analysis_id: int, site: str, channel: int, *, compute: bool = True) -> dict:
        """The neuron view of one channel. Its activation-maximisation image, when the run lacks
        it, is made on request (if `compute` and the model can be loaded) and kept in memory,
        never written to the run."""
        a = self._analysis(analysis_id)
        self._check_site(a, site)
        channels = a.datapaths["A"].site_channels[site]
        if not 0 <= channel < channels:
            raise NotFoundError(f"Site {site!r} has channels 0..{channels - 1}, not {channel}.")
        maps, means = {}, {}
        for k in SETS:
            acts = a.neurons[f"acts/{k}/{site}"][:, channel].float()
            means[k] = [round(float(v), 5) for v in _per_image_means(acts[:, None])[:, 0]]
            maps[k] = byte_array(acts if acts.dim() == 3 else acts[:, None, None])
        maximization = a.neurons.get(f"maximize/{site}/{channel}")
        if maximization is None:
            maximization = self._maximizations.get((site, channel))
        if maximization is None and compute and self.model_problem() is None:
            maximization = activation_maximization(self.model().net, site, channel)
            self._maximizations.put((site, channel), maximization)
        patches = f"patches/{site}/"
        return {
            "site": site,
            "channel": channel,
            "maps": maps,
            "mean": means,
            "in_datapath": {k: channel in a.datapaths[k].channels[site] for k in SETS},
            "score": {k: round(float(a.datapaths[k].scores[site][channel]), 5) for k in SETS},
            "patches": byte_array(a.neurons[patches + "patches"][channel].float()),
            "patch_values": [round(float(v), 5) for v in a.neurons[patches + "value"][channel]],
            "patch_images": [int(v) for v in a.neurons[patches + "image_index"][channel]],
            "maximization": None if maximization is None else byte_array(maximization),
        }

    def image_set(self, set_id: int) -> dict:
        store = self.store()
        row = next((r for r in store.image_sets() if r["id"] == set_id), None)
        if row is None:
            raise NotFoundError(f"There is no image set {set_id} in {self.path}.")
        images, labels, meta = store.load_image_set(set_id)
        pixels = images.float().clamp(0, 1)
        if pixels.dim() == 3:
            pixels = pixels[:, None]
        encoded = byte_array(pixels)
        # pixels are shown on their own scale (0..1), not stretched to the set's range
        quantised = (pixels.numpy() * 255).round().astype(np.uint8)
        encoded.update(min=0.0, max=1.0, data=base64.b64encode(quantised.tobytes()).decode())
        meta = {k: v for k, v in meta.items() if k != "indices"}
        return {"id": set_id, "name": row["name"], "n": row["n"], "labels": labels,
                "meta": meta, "images": encoded}  # fmt: skip

    def mechanism(self, mechanism_id: int) -> dict:
        """The stored summary of a mechanism analysis (clusters, class matrices, bundles)."""
        return {**mechanism_summary(self.store(), mechanism_id), "id": mechanism_id}

    def mechanism_patches(self, mechanism_id: int, site: str) -> dict:
        """Every channel's top-activating patches at a site: [C, k, C_in, ph, pw] (pixels) and
        their activation values [C][k]."""
        summary = mechanism_summary(self.store(), mechanism_id)
        names = [s["name"] for s in summary["sites"]]
        if site not in names:
            raise NotFoundError(
                f"The mechanism has no site {site!r}. Its sites: {', '.join(names)}."
            )
        store = self.store()
        patches = mechanism_array(store, mechanism_id, f"sites/{site}/patches").float()
        values = mechanism_array(store, mechanism_id, f"sites/{site}/patch_value").float()
        return {
            "site": site,
            "patches": byte_array(patches),
            "values": [[round(float(v), 5) for v in row] for row in values],
        }

    def datapath(self, datapath_id: int) -> dict:
        store = self.store()
        row = next((r for r in list_datapaths(store) if r["id"] == datapath_id), None)
        if row is None:
            raise NotFoundError(f"There is no datapath {datapath_id} in {self.path}.")
        body = load_datapath(store, datapath_id).to_dict()
        body.pop("reference", None)
        return {**body, "id": datapath_id, "name": row["name"], "image_set": row["image_set"],
                "n_images": row["n_images"]}  # fmt: skip


def _per_image_means(acts: torch.Tensor) -> torch.Tensor:
    """[N, C, ...] activations -> [N, C] mean over positions."""
    acts = acts.float()
    return acts.flatten(2).mean(2) if acts.dim() > 2 else acts


def _edges(store: RunStore, sites: list[str]) -> list[tuple[str, str]]:
    network = store.meta("network")
    if network is not None:
        return [tuple(e) for e in network["edges"]]
    return list(itertools.pairwise(sites))


class _Expiring:
    """Values computed on request and kept for `seconds` (thread-safe)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._items: dict = {}
        self._lock = threading.Lock()

    def get(self, key, compute):
        now = time.monotonic()
        with self._lock:
            if key in self._items and now - self._items[key][0] < self.seconds:
                return self._items[key][1]
        value = compute()
        with self._lock:
            self._items[key] = (now, value)
        return value


class _LRU:
    """A thread-safe mapping that keeps its `size` most recently used entries."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
