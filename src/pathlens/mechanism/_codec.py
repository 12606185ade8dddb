"""Mechanism analyses in a run folder: one ``analyses`` row (kind "mechanism", body: the
JSON summary plus ``name``) and the arrays as ``mechanism/{id}/{array name}``, written in
one transaction.

>>> from pathlens.mechanism import load_mechanism, save_mechanism
>>> with RunStore("runs/demo") as run:
...     mechanism_id = save_mechanism(run, result, name="test")
...     summary = mechanism_summary(run, mechanism_id)   # no array loaded
"""

from __future__ import annotations

import json

import torch

from pathlens.mechanism._analyze import Mechanism
from pathlens.store import RunStore

KIND = "mechanism"


def save_mechanism(run: RunStore, mechanism: Mechanism, *, name: str = "") -> int:
    """Store a `Mechanism` (summary and arrays, all or nothing); returns its id.

    Records the network structure (meta "network") when the run has none yet.
    """
    with run.transaction():
        mechanism_id = run.add_analysis(KIND, name, {**mechanism.to_dict(), "name": name})
        prefix = f"mechanism/{mechanism_id}/"
        run.save_arrays({prefix + key: value for key, value in mechanism.arrays.items()})
        if run.meta("network") is None:
            run.set_meta("network", mechanism.network)
    return mechanism_id


def mechanism_summary(run: RunStore, mechanism_id: int) -> dict:
    """The stored JSON summary of a mechanism (what `Mechanism.to_dict` gives, plus its
    ``name``), without loading any array."""
    return run.analysis_body(mechanism_id, KIND)


def mechanism_array(run: RunStore, mechanism_id: int, key: str) -> torch.Tensor:
    """One array of a stored mechanism, e.g. ``"sites/stem.2/patches"``."""
    return run.load_array(f"mechanism/{mechanism_id}/{key}")


def load_mechanism(run: RunStore, mechanism_id: int, *, arrays: bool = True) -> Mechanism:
    """The stored `Mechanism` (with all its arrays, unless ``arrays=False``)."""
    body = mechanism_summary(run, mechanism_id)
    loaded = run.load_arrays(f"mechanism/{mechanism_id}/") if arrays else {}
    return Mechanism.from_dict(body, loaded)


def list_mechanisms(run: RunStore) -> list[dict]:
    """The stored mechanism analyses: id, name, created, number of images and data facts
    (e.g. the split), oldest first."""
    rows = run.query(
        "SELECT id, name, created, json_extract(body, '$.n_images'), "
        "json_extract(body, '$.data') FROM analyses WHERE kind = ? ORDER BY id",
        (KIND,),
    )
    keys = ("id", "name", "created", "n_images", "data")
    return [dict(zip(keys, (*r[:4], json.loads(r[4]) if r[4] else {}), strict=True)) for r in rows]
