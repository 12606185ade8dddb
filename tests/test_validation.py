"""Every public function refuses bad arguments before any work, with a PathlensError that
names the argument: never a raw library exception, never a silent acceptance.

Each case is (name, call, argument): the call gets the demo CNN's Network and a few test
images and makes one bad call; the message must mention `argument`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import pathlens
from pathlens import workflows as wf
from pathlens.attacks import attack, explain_adversarial
from pathlens.datapath import channel_contributions, extract_datapath, target_contributions
from pathlens.errors import PathlensError
from pathlens.mechanism import (
    activation_maps,
    activation_maximization,
    analyze,
    direct_contributions,
    receptive_field,
    top_patches,
)
from pathlens.training import reduce_series, sample_polylines


class Ctx:
    def __init__(self, net, test_set, tmp):
        self.net = net
        self.images = test_set.images[:16]
        self.labels = test_set.labels[:16]
        self.tmp = tmp
        self.npz = tmp / "x.npz"
        np.savez(self.npz, images=self.images.numpy(), labels=self.labels.numpy())
        self.series = np.random.default_rng(0).standard_normal((50, 8))


def _explain(c, **kw):
    return explain_adversarial(c.net, c.images, c.labels, 9, 7, **kw)


def _analyze(c, **kw):
    return analyze(c.net, c.images, c.labels, **kw)


def _attack(c, **kw):
    args = {"method": "pgd", "eps": 0.1, "target": 7} | kw
    return attack(c.net, c.images[:4], c.labels[:4], **args)


def _extract(c, **kw):
    return extract_datapath(c.net, c.images[:2], **kw)


def _extract_req(c, **kw):
    return wf.ExtractRequest(images=c.npz, out=c.tmp / "run", **kw)


def _explain_req(c, **kw):
    args = {"source": 9, "target": 7, "out": c.tmp / "run"} | kw
    return wf.ExplainRequest(**args)


def _mechanism_req(c, **kw):
    return wf.MechanismRequest(out=c.tmp / "run", **kw)


def _subset_req(c, **kw):
    args = {"run": c.tmp / "run", "analysis": 1, "set": "A", "images": (0,)} | kw
    return wf.SubsetRequest(**args)


def _train_req(c, **kw):
    return wf.TrainCaseRequest(**({"case": "gan", "out": c.tmp / "t"} | kw))


NAN, INF = math.nan, math.inf
SITE = "stage2.2"  # a site of the demo CNN, see `pathlens sites --model demo:cnn`

CASES = [
    # explain_adversarial: counts, budget, classes
    *[("explain n", lambda c, v=v: _explain(c, n=v), "n") for v in (0, -5, 2.5, True)],
    *[("explain eps", lambda c, v=v: _explain(c, eps=v), "eps") for v in (NAN, INF, -1, 0, 50)],
    ("explain patch_images 0", lambda c: _explain(c, patch_images=0), "patch_images"),
    ("explain patch_images -3", lambda c: _explain(c, patch_images=-3), "patch_images"),
    ("explain n_maximize -1", lambda c: _explain(c, n_maximize=-1), "n_maximize"),
    ("explain n_control -5", lambda c: _explain(c, n_control=-5), "n_control"),
    ("explain min_set 0", lambda c: _explain(c, min_set=0), "min_set"),
    (
        "explain source 99",
        lambda c: explain_adversarial(c.net, c.images, c.labels, 99, 7),
        "source",
    ),
    (
        "explain target -1",
        lambda c: explain_adversarial(c.net, c.images, c.labels, 9, -1),
        "target",
    ),
    (
        "explain target 2.5",
        lambda c: explain_adversarial(c.net, c.images, c.labels, 9, 2.5),
        "target",
    ),
    (
        "explain labels short",
        lambda c: explain_adversarial(c.net, c.images, c.labels[:3], 9, 7),
        "labels",
    ),
    ("explain attack", lambda c: _explain(c, attack="magic"), "magic"),
    # attack
    *[("attack eps", lambda c, v=v: _attack(c, eps=v), "eps") for v in (NAN, INF, -1, 50)],
    ("attack target 99", lambda c: _attack(c, target=99), "target"),
    ("attack target -1", lambda c: _attack(c, target=-1), "target"),
    ("attack batch_size 0", lambda c: _attack(c, batch_size=0), "batch_size"),
    ("attack batch_size -1", lambda c: _attack(c, batch_size=-1), "batch_size"),
    ("attack labels short", lambda c: attack(c.net, c.images[:4], c.labels[:3]), "labels"),
    ("attack steps 0", lambda c: _attack(c, steps=0), "steps"),
    ("attack unknown option", lambda c: _attack(c, stepz=3), "stepz"),
    # mechanism.analyze
    ("analyze k_max 1", lambda c: _analyze(c, k_max=1), "k_max"),
    ("analyze k_max -4", lambda c: _analyze(c, k_max=-4), "k_max"),
    ("analyze batch_size 0", lambda c: _analyze(c, batch_size=0), "batch_size"),
    ("analyze batch_size -8", lambda c: _analyze(c, batch_size=-8), "batch_size"),
    ("analyze patches 0", lambda c: _analyze(c, patches=0), "patches"),
    ("analyze patches 2.5", lambda c: _analyze(c, patches=2.5), "patches"),
    (
        "analyze contribution_images -1",
        lambda c: _analyze(c, contribution_images=-1),
        "contribution_images",
    ),
    ("analyze n_clusters 0", lambda c: _analyze(c, n_clusters=0), "n_clusters"),
    ("analyze spatial_weight nan", lambda c: _analyze(c, spatial_weight=NAN), "spatial_weight"),
    ("analyze spatial_weight 2", lambda c: _analyze(c, spatial_weight=2), "spatial_weight"),
    ("analyze maximize_steps -1", lambda c: _analyze(c, maximize_steps=-1), "maximize_steps"),
    ("analyze labels short", lambda c: analyze(c.net, c.images, c.labels[:3]), "labels"),
    # mechanism parts
    ("top_patches k 0", lambda c: top_patches(c.net, SITE, c.images, k=0), "k"),
    (
        "top_patches batch_size 0",
        lambda c: top_patches(c.net, SITE, c.images, batch_size=0),
        "batch_size",
    ),
    ("top_patches site", lambda c: top_patches(c.net, "nowhere", c.images), "nowhere"),
    ("activation_maps channel -1", lambda c: activation_maps(c.net, SITE, -1, c.images), "channel"),
    (
        "activation_maps channel 999",
        lambda c: activation_maps(c.net, SITE, 999, c.images),
        "channel",
    ),
    (
        "activation_maps batch_size 0",
        lambda c: activation_maps(c.net, SITE, 0, c.images, batch_size=0),
        "batch_size",
    ),
    (
        "activation_maximization steps -1",
        lambda c: activation_maximization(c.net, SITE, 0, steps=-1),
        "steps",
    ),
    (
        "activation_maximization lr nan",
        lambda c: activation_maximization(c.net, SITE, 0, lr=NAN),
        "lr",
    ),
    (
        "activation_maximization channel 999",
        lambda c: activation_maximization(c.net, SITE, 999),
        "channel",
    ),
    ("receptive_field site", lambda c: receptive_field(c.net, "nowhere"), "nowhere"),
    (
        "direct_contributions batch_size 0",
        lambda c: direct_contributions(c.net, c.images[:2], batch_size=0),
        "batch_size",
    ),
    # datapath
    ("extract method", lambda c: _extract(c, method="magic"), "magic"),
    ("extract agreement 0", lambda c: _extract(c, agreement=0), "agreement"),
    ("extract agreement nan", lambda c: _extract(c, agreement=NAN), "agreement"),
    ("extract specificity 2", lambda c: _extract(c, specificity=2), "specificity"),
    ("extract specificity -1", lambda c: _extract(c, specificity=-1), "specificity"),
    ("extract max_necessity 5", lambda c: _extract(c, max_necessity=5), "max_necessity"),
    ("extract target 99", lambda c: _extract(c, target=99), "target"),
    ("extract target -1", lambda c: _extract(c, target=-1), "target"),
    ("extract ablation", lambda c: _extract(c, ablation="half"), "ablation"),
    ("extract max_steps 0", lambda c: _extract(c, max_steps=0), "max_steps"),
    ("extract sparsity nan", lambda c: _extract(c, sparsity=NAN), "sparsity"),
    (
        "target_contributions target 99",
        lambda c: target_contributions(c.net, c.images[:2], 99),
        "target",
    ),
    (
        "channel_contributions site",
        lambda c: channel_contributions(c.net, c.images[:2], {"nowhere": [0]}),
        "nowhere",
    ),
    # training
    *[
        ("sample_polylines n", lambda c, v=v: sample_polylines(c.series, v), "n")
        for v in (0, -5, 2.5, True)
    ],
    ("sample_polylines dims 0", lambda c: sample_polylines(c.series, 10, dims=0), "dims"),
    ("sample_polylines k 0", lambda c: sample_polylines(c.series, 10, k=0), "k"),
    ("sample_polylines dims 1.5", lambda c: sample_polylines(c.series, 10, dims=1.5), "dims"),
    (
        "sample_polylines outlier_bias nan",
        lambda c: sample_polylines(c.series, 10, outlier_bias=NAN),
        "outlier_bias",
    ),
    (
        "sample_polylines outlier_bias inf",
        lambda c: sample_polylines(c.series, 10, outlier_bias=INF),
        "outlier_bias",
    ),
    ("reduce_series dims 0", lambda c: reduce_series(c.series, 0), "dims"),
    ("reduce_series dims -2", lambda c: reduce_series(c.series, -2), "dims"),
    # workflow requests
    *[
        ("extract request n_control", lambda c, v=v: _extract_req(c, n_control=v), "n_control")
        for v in (0, -5)
    ],
    ("extract request agreement nan", lambda c: _extract_req(c, agreement=NAN), "agreement"),
    ("extract request specificity inf", lambda c: _extract_req(c, specificity=INF), "specificity"),
    *[("explain request n", lambda c, v=v: _explain_req(c, n=v), "n") for v in (0, -5)],
    *[
        ("explain request eps", lambda c, v=v: _explain_req(c, eps=v), "eps")
        for v in (NAN, INF, -1, 50)
    ],
    ("explain request patch_images 0", lambda c: _explain_req(c, patch_images=0), "patch_images"),
    ("explain request n_maximize -1", lambda c: _explain_req(c, n_maximize=-1), "n_maximize"),
    ("explain request source -1", lambda c: _explain_req(c, source=-1), "source"),
    *[("mechanism request n", lambda c, v=v: _mechanism_req(c, n=v), "n") for v in (0, -5)],
    ("mechanism request batch_size 0", lambda c: _mechanism_req(c, batch_size=0), "batch_size"),
    ("mechanism request k_max 1", lambda c: _mechanism_req(c, k_max=1), "k_max"),
    ("mechanism request patches 0", lambda c: _mechanism_req(c, patches=0), "patches"),
    ("subset request n_control 0", lambda c: _subset_req(c, n_control=0), "n_control"),
    ("subset request images -1", lambda c: _subset_req(c, images=(-1,)), "images"),
    ("train request steps 0", lambda c: _train_req(c, steps=0), "steps"),
    ("train request every -1", lambda c: _train_req(c, every=-1), "every"),
    ("train request top 0", lambda c: _train_req(c, top=0), "top"),
    ("train request out empty", lambda c: _train_req(c, out=""), "out"),
    # model loading
    (
        "load_model input_shape",
        lambda c: pathlens.load_model("demo:cnn", input_shape=(0, 28)),
        "input_shape",
    ),
    (
        "Network sites",
        lambda c: pathlens.Network(c.net.model, c.images[:1], sites=["nowhere"]),
        "nowhere",
    ),
]


@pytest.fixture(scope="module")
def ctx(cnn_net, test_set, tmp_path_factory):
    return Ctx(cnn_net, test_set, tmp_path_factory.mktemp("validation"))


def test_there_are_enough_cases():
    assert len(CASES) >= 60


@pytest.mark.parametrize(("call", "argument"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_argument_is_refused_by_name(ctx, call, argument):
    with pytest.raises(PathlensError) as caught:
        call(ctx)
    assert argument in str(caught.value), str(caught.value)
