"""Tracker overhead on the DCGAN example: the same training with and without the tracker.

A DCGAN (pathlens.training.DCGANGenerator / DCGANDiscriminator) trains on Fashion-MNIST
(train split, scaled to [-1, 1]) for --steps iterations, batch 64, same seed and same initial
weights, once plain and once with `pathlens.Tracker` (both models, every=50, probes of 64
latents and 64 real images). Runs alternate (plain, tracked, tracked, plain, ...) so that load
changes hit both; the table gives the median of --repeats runs each. Timed: from the first
iteration to the last, with the tracker's construction (network tracing, array creation) and
close inside the tracked time. Also reported: the time spent inside the tracker itself
(construction + every step() call + close), a less noisy view of the same overhead, and
whether the tracked training ended with exactly the same weights as the plain one.

Run: .venv/bin/python benchmarks/tracker.py   (prints a Markdown table for BENCHMARKS.md)
Options: --steps 300 --repeats 3 --every 50 --width 32 --threads 1
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from pathlens import Tracker
from pathlens.data import fashion_mnist
from pathlens.training import DCGANDiscriminator, DCGANGenerator, train_dcgan

NZ, BATCH = 64, 64


class TimedTracker(Tracker):
    """A Tracker that adds up the wall time spent in its step() calls."""

    inside = 0.0

    def step(self, **scalars) -> None:
        start = time.perf_counter()
        super().step(**scalars)
        self.inside += time.perf_counter() - start

    def close(self, error=None) -> None:
        start = time.perf_counter()
        super().close(error)
        self.inside += time.perf_counter() - start


def run_once(images, args, tracked: bool, folder: Path) -> dict:
    torch.manual_seed(0)
    G, D = DCGANGenerator(nz=NZ, width=args.width), DCGANDiscriminator(width=args.width)
    probe_g = torch.randn(64, NZ, 1, 1, generator=torch.Generator().manual_seed(1))
    probe_d = images[:64]
    start = time.perf_counter()
    inside = 0.0
    if tracked:
        tracker = TimedTracker(
            {"generator": G, "discriminator": D},
            folder,
            every=args.every,
            probe={"generator": probe_g, "discriminator": probe_d},
        )
        inside = time.perf_counter() - start
        with tracker:
            train_dcgan(G, D, images, steps=args.steps, batch_size=BATCH, seed=1,
                        tracker=tracker)  # fmt: skip
        inside += tracker.inside
    else:
        train_dcgan(G, D, images, steps=args.steps, batch_size=BATCH, seed=1)
    elapsed = time.perf_counter() - start
    return {"time": elapsed, "inside": inside, "weights": [p.detach().clone() for p in
                                                           G.parameters()]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = fashion_mnist("train").images * 2 - 1

    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(1_000_000))

        def folder() -> Path:
            return Path(tmp) / f"run{next(counter)}"

        # Warm-up: imports (zarr), allocator, first-call costs, for both variants.
        warm = argparse.Namespace(**{**vars(args), "steps": 10})
        run_once(images, warm, False, folder())
        run_once(images, warm, True, folder())

        load_start = os.getloadavg()[0]
        plain, tracked = [], []
        for r in range(args.repeats):
            order = (False, True) if r % 2 == 0 else (True, False)
            for with_tracker in order:
                result = run_once(images, args, with_tracker, folder())
                (tracked if with_tracker else plain).append(result)
        load_end = os.getloadavg()[0]

    same = all(
        torch.equal(a, b)
        for run in tracked
        for a, b in zip(plain[0]["weights"], run["weights"], strict=True)
    )
    t_plain = statistics.median(r["time"] for r in plain)
    t_tracked = statistics.median(r["time"] for r in tracked)
    t_inside = statistics.median(r["inside"] for r in tracked)
    snapshots = len(range(0, args.steps, args.every))
    print(f"date: {datetime.date.today().isoformat()}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} with {args.threads} thread(s), load average "
        f"{load_start:.2f} at the start, {load_end:.2f} at the end"
    )
    print(
        f"DCGAN width {args.width}, batch {BATCH}, {args.steps} iterations, every={args.every} "
        f"({snapshots} snapshots, {4} sites), median of {args.repeats} alternating runs each"
    )
    print("plain times (s):", ", ".join(f"{r['time']:.2f}" for r in plain))
    print("tracked times (s):", ", ".join(f"{r['time']:.2f}" for r in tracked))
    print()
    print(
        "| iterations | every | without tracker (s) | with tracker (s) | overhead | "
        "time inside the tracker (s) | inside / without | same final weights |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.steps} | {args.every} | {t_plain:.2f} | {t_tracked:.2f} | "
        f"{100 * (t_tracked - t_plain) / t_plain:+.1f} % | {t_inside:.3f} | "
        f"{100 * t_inside / t_plain:.1f} % | {'yes' if same else 'NO'} |"
    )


if __name__ == "__main__":
    main()
