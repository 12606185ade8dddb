"""Why the defaults are what they are: gating residual branches vs post-addition block
outputs, and zero vs mean ablation, on the demo ResNet.

For each choice: sufficiency and specificity when the 30% most activated channels of every
site are kept (the trap: a mask that keeps the set's predictions by turning every input into
the set's class), and the kept fraction `gates` and `activation` need under the same
constraints.

Run: .venv/bin/python benchmarks/datapath_defaults.py
"""

from __future__ import annotations

import os
import warnings
from datetime import date

import torch

from pathlens import Network, PathlensWarning, demo, extract_datapath
from pathlens.data import fashion_mnist, sample_images
from pathlens.datapath._problem import Problem, keep_top
from pathlens.datapath._scorers import activation_scores

SET_CLASS = 7  # sneakers: the class the cut residual stream collapses to (issue 3)


def main() -> None:
    warnings.simplefilter("ignore", PathlensWarning)
    test = fashion_mnist("test")
    model = demo.load("resnet")
    auto = Network(model, torch.zeros(1, 1, 28, 28))
    post_addition = ["stem.2"] + [
        name for i in (1, 2, 3) for j in (0, 1) for name in (f"layer{i}.{j}.relu1", f"layer{i}.{j}")
    ]
    choices = {
        "residual branch (auto)": auto,
        "post-addition block output": Network(model, torch.zeros(1, 1, 28, 28), post_addition),
    }
    images = demo.class_images(auto, test, SET_CLASS, 16)
    control = sample_images(test, 64, exclude=[SET_CLASS], seed=1)
    print(f"date {date.today()}, load average {os.getloadavg()[0]:.2f}; 16 sneakers, "
          "64 control images\n")  # fmt: skip
    print("| sites | ablation | top 30% activation per site: sufficiency / specificity "
          "| gates kept "
          "| activation kept |")  # fmt: skip
    print("|---|---|---|---|---|")
    for label, net in choices.items():
        for ablation in ("zero", "mean"):
            reference = net.channel_means(torch.cat([images, control]))
            problem = Problem(
                net, images, net.predict(images)[1], control, ablation,
                reference if ablation == "mean" else None,
            )  # fmt: skip
            counts = {s.name: max(1, round(0.3 * s.channels)) for s in net.sites}
            one = keep_top(activation_scores(problem), counts)
            _, sufficiency, specificity = problem.check(one)
            kept = {
                method: extract_datapath(
                    net, images, method=method, control=control, ablation=ablation
                ).kept_fraction
                for method in ("gates", "activation")
            }
            print(f"| {label} | {ablation} | {sufficiency:.2f} / {specificity:.2f} | "
                  f"{kept['gates']:.3f} | {kept['activation']:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
