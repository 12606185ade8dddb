"""Every datapath method under the same constraints, on both demo models.

Sets: 1, 16 and 64 correctly classified test images of one class, and 16 adversarial images
(PGD, L-inf, eps = 0.1, targeted). Constraints for every method: sufficiency 1.0 and
specificity >= 0.9 on 64 control images of other classes, smallest kept fraction by search.

Run: .venv/bin/python benchmarks/datapath.py [--models cnn,resnet] > results.md
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from datetime import date

import torch

from pathlens import Network, PathlensWarning, demo, extract_datapath
from pathlens.attacks import attack
from pathlens.data import CLASS_NAMES, fashion_mnist, sample_images
from pathlens.datapath import METHODS

SOURCE, TARGET = 9, 7  # ankle boot, pushed to sneaker by the attack


def image_sets(net: Network, test) -> dict[str, tuple[torch.Tensor, int]]:
    _, top1 = net.predict(test.images)
    correct = torch.nonzero((test.labels == SOURCE) & (top1 == SOURCE)).flatten()
    sets = {f"{n} {CLASS_NAMES[SOURCE]}": (test.images[correct[:n]], SOURCE) for n in (1, 16, 64)}
    pool = correct[64:192]
    result = attack(net, test.images[pool], test.labels[pool], "pgd", eps=0.1, target=TARGET)
    adversarial = result.images[result.success][:16]
    sets[f"{len(adversarial)} adversarial {CLASS_NAMES[SOURCE]}->{CLASS_NAMES[TARGET]}"] = (
        adversarial,
        TARGET,
    )
    return sets


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="cnn,resnet")
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    warnings.simplefilter("ignore", PathlensWarning)
    test = fashion_mnist("test")
    print(f"date {date.today()}, {platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads, load average at start "
          f"{os.getloadavg()[0]:.2f}")  # fmt: skip
    summary = []
    for name in args.models.split(","):
        net = Network(demo.load(name), torch.zeros(1, 1, 28, 28))
        print(f"\n### demo:{name} ({len(net.sites)} sites, "
              f"{sum(s.channels for s in net.sites)} channels)\n")  # fmt: skip
        print("| set | method | kept fraction | sufficiency | specificity | necessity | "
              "time (s) | images pushed |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        for set_name, (images, cls) in image_sets(net, test).items():
            control = sample_images(test, 64, exclude=[cls], seed=1)
            results = {}
            for method in args.methods.split(","):
                start = time.perf_counter()
                dp = extract_datapath(net, images, method=method, control=control)
                seconds = time.perf_counter() - start
                results[method] = (dp, seconds)
                f = dp.fidelity
                print(f"| {set_name} | {method} | {dp.kept_fraction:.3f} | "
                      f"{f.sufficiency:.2f} | {f.specificity:.2f} | {f.necessity:.2f} | "
                      f"{seconds:.2f} | {dp.timing['images_pushed']} |", flush=True)  # fmt: skip
            summary.append((name, set_name, results))
    print("\n### Targets, measured in this run\n")
    print("| model | set | gates / activation kept | gates < gradxact, conductance | "
          "cdrp time / gates time | gates kept <= cdrp | gates necessity |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, set_name, r in summary:
        if not {"gates", "activation", "gradxact", "conductance", "cdrp"} <= set(r):
            continue
        g, gt = r["gates"]
        ratio = g.kept_fraction / r["activation"][0].kept_fraction
        beats = g.kept_fraction < min(r[m][0].kept_fraction for m in ("gradxact", "conductance"))
        cdrp, cdrp_time = r["cdrp"]
        sparser = g.kept_fraction <= cdrp.kept_fraction
        print(f"| demo:{name} | {set_name} | {ratio:.2f} | {beats} | {cdrp_time / gt:.1f} | "
              f"{sparser} | {g.fidelity.necessity:.2f} |")  # fmt: skip
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
