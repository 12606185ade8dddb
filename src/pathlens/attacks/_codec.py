"""Adversarial analyses in a run folder: one ``analyses`` row (kind "adversarial", body: the
analysis's JSON plus ``links``), one image set and one datapath row per set (A, B, C) so the
web app can open them like any other, and the neuron arrays as ``analysis/{id}/{name}``.

All of it is written in one transaction: a process killed at any moment leaves the whole
analysis or none of it.

>>> from pathlens.attacks import load_analysis, save_analysis
>>> with RunStore("runs/demo") as run:
...     analysis_id = save_analysis(run, analysis, name="ankle-boot->sneaker")
...     again = load_analysis(run, analysis_id)
"""

from __future__ import annotations

from pathlens.attacks._explain import AdversarialAnalysis
from pathlens.datapath import save_datapath
from pathlens.store import RunStore

KIND = "adversarial"


def save_analysis(run: RunStore, analysis: AdversarialAnalysis, *, name: str = "") -> int:
    """Store an `AdversarialAnalysis` with its image sets, datapaths and neuron arrays, all
    or nothing; returns its id."""
    label = name or "analysis"
    body = analysis.to_dict()
    links = {}
    with run.transaction():
        for key, datapath in analysis.datapaths.items():
            meta = {"set": key, **analysis.sets[key]}
            set_id = run.save_image_set(f"{label} {key}", analysis.set_images[key], None, meta)
            dp_id = save_datapath(run, datapath, name=f"{label} {key}", image_set=set_id)
            links[key] = {"image_set": set_id, "datapath": dp_id}
        analysis_id = run.add_analysis(KIND, name, {**body, "links": links})
        neurons = getattr(analysis, "neurons", None)
        if neurons:
            run.save_arrays({f"{array_prefix(analysis_id)}{k}": v for k, v in neurons.items()})
    return analysis_id


def load_analysis(run: RunStore, analysis_id: int) -> AdversarialAnalysis:
    """The stored `AdversarialAnalysis`, with its set images, neuron arrays and ``links``
    (set key -> {"image_set": id, "datapath": id})."""
    body = run.analysis_body(analysis_id, KIND)
    links = body.pop("links")
    analysis = AdversarialAnalysis.from_dict(body)
    analysis.links = links
    analysis.neurons = run.load_arrays(array_prefix(analysis_id))
    analysis.set_images = {
        key: run.load_image_set(link["image_set"])[0] for key, link in links.items()
    }
    return analysis


def array_prefix(analysis_id: int) -> str:
    """The name prefix of an adversarial analysis's arrays in the run."""
    return f"analysis/{analysis_id}/"
