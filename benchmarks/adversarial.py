"""End-to-end adversarial analysis on the demo ResNet, per stage.

Run: .venv/bin/python benchmarks/adversarial.py [--n 32] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from datetime import date

import torch

from pathlens import Network, PathlensWarning, demo
from pathlens.attacks import explain_adversarial
from pathlens.data import fashion_mnist

PAIRS = ((9, 7), (7, 5), (0, 6))  # ankle boot -> sneaker, sneaker -> sandal, t-shirt -> shirt


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=32)
    args = parser.parse_args()
    warnings.simplefilter("ignore", PathlensWarning)
    test = fashion_mnist("test")
    net = Network(demo.load("resnet"), torch.zeros(1, 1, 28, 28))
    print(f"date {date.today()}, {platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, load average at start {os.getloadavg()[0]:.2f}\n")  # fmt: skip
    rows = []
    for source, target in PAIRS:
        start = time.perf_counter()
        analysis = explain_adversarial(
            net, test.images, test.labels, source, target, attack="pgd", eps=0.1, n=args.n
        )
        wall = time.perf_counter() - start
        rows.append((source, target, analysis, wall))
    stages = list(rows[0][2].timing)
    names = test.classes
    print("| pair | A / B / C | success | divergence | merge | "
          + " | ".join(f"{s} (s)" for s in stages) + " | wall (s) |")  # fmt: skip
    print("|---" * (6 + len(stages)) + "|")
    for source, target, a, wall in rows:
        sizes = "/".join(str(a.sets[k]["size"]) for k in ("A", "B", "C"))
        times = " | ".join(f"{a.timing[s]:.2f}" for s in stages)
        print(f"| {names[source]} -> {names[target]} | {sizes} | "
              f"{a.attack['success_rate']:.2f} | {a.divergence} | {a.merge} | {times} | "
              f"{wall:.2f} |")  # fmt: skip
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
