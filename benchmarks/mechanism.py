"""The mechanism analysis (clusters, learned features, bundled connections) of the demo ResNet
over the Fashion-MNIST test set, per stage, and storing it in a run folder.

Run: .venv/bin/python benchmarks/mechanism.py [--n 10000] [--repeats 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import warnings
from datetime import date

import torch

from pathlens import Network, PathlensWarning, demo
from pathlens.data import fashion_mnist
from pathlens.mechanism import analyze, load_mechanism, save_mechanism
from pathlens.store import RunStore

STAGES = ("receptive_fields", "pass", "patches", "clustering", "contributions", "bundling")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore", PathlensWarning)
    torch.set_num_threads(args.threads)
    test = fashion_mnist("test")
    images, labels = test.images[: args.n], test.labels[: args.n]
    print(f"date {date.today()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, "
          f"load average at start {os.getloadavg()[0]:.2f}\n")  # fmt: skip
    rows = []
    for repeat in range(args.repeats):
        # A fresh Network each time: receptive fields are measured again, not cached.
        net = Network(demo.load("resnet"), torch.zeros(1, 1, 28, 28))
        start = time.perf_counter()
        result = analyze(net, images, labels, classes=test.classes)
        wall = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as folder, RunStore(folder) as run:
            clock = time.perf_counter()
            mechanism_id = save_mechanism(run, result, name="test")
            save = time.perf_counter() - clock
            clock = time.perf_counter()
            load_mechanism(run, mechanism_id)
            load = time.perf_counter() - clock
            size = os.path.getsize(os.path.join(folder, "run.sqlite"))
        rows.append((repeat + 1, result, wall, save, load, size))
    print("| run | images | " + " | ".join(f"{s} (s)" for s in STAGES)
          + " | analyze total (s) | save (s) | load (s) | run.sqlite (MB) |")  # fmt: skip
    print("|---" * (len(STAGES) + 6) + "|")
    for repeat, result, wall, save, load, size in rows:
        times = " | ".join(f"{result.timing[s]:.2f}" for s in STAGES)
        print(f"| {repeat} | {result.n_images} | {times} | {wall:.2f} | {save:.2f} | "
              f"{load:.2f} | {size / 1e6:.1f} |")  # fmt: skip
    result = rows[-1][1]
    clusters = [s.n_clusters for s in result.sites]
    bundles = [len(e.bundles) for e in result.edges]
    pairs = [e.weight.size for e in result.edges]
    print(
        f"\n{len(result.sites)} sites, {sum(s.channels for s in result.sites)} channels, "
        f"clusters per site {min(clusters)}-{max(clusters)} (total {sum(clusters)}); "
        f"{len(result.edges)} edges: {sum(pairs)} cluster pairs drawn as {sum(bundles)} "
        f"bundles (at most {max(bundles)} per edge); contributions on "
        f"{result.settings['contribution_images']} images"
    )
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
