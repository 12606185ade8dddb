"""Cost of building a Network and of masked inference, against plain inference in the same run.

Run: .venv/bin/python benchmarks/network.py   (prints a Markdown table for BENCHMARKS.md)
"""

from __future__ import annotations

import os
import platform
import time

import torch

from pathlens import Network, demo
from pathlens.data import fashion_mnist


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    images = fashion_mnist("test").images[:1000]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, load average {os.getloadavg()[0]:.2f}"
    )
    print()
    print(
        "| model | sites | build Network (s) | plain predict 1000 (s) | "
        "masked predict, all sites (s) | masked / plain |"
    )
    print("|---|---|---|---|---|---|")
    for name in demo.MODELS:
        model = demo.load(name)
        build = best_of(lambda model=model: Network(model, torch.zeros(1, 1, 28, 28)), 3)
        net = Network(model, torch.zeros(1, 1, 28, 28))
        keep = {s.name: list(range(0, s.channels, 2)) for s in net.sites}

        def plain(net=net):
            net.predict(images)

        def masked(net=net, keep=keep):
            with net.mask(keep):
                net.predict(images)

        t_plain, t_masked = best_of(plain), best_of(masked)
        print(
            f"| demo:{name} | {len(net.sites)} | {build:.3f} | {t_plain:.3f} | "
            f"{t_masked:.3f} | {t_masked / t_plain:.2f} |"
        )


if __name__ == "__main__":
    main()
