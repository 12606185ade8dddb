"""The training case studies (`pathlens train-demo`), healthy and failing: training time, what
the detectors found and where, and the time of `detect` and `credit` on the recorded runs.

Each case trains with the defaults of `pathlens.training.gan_case` / `vae_case` (Fashion-MNIST
train split, torch's default thread count) into a temporary run folder; then `detect` over the
whole run and `credit` for the worst neuron (depth 2, top 4) are timed (median of 5).

Run: .venv/bin/python benchmarks/case_studies.py   (prints a Markdown table for BENCHMARKS.md)
Options: --cases gan,gan-fail,vae,vae-fail
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

from pathlens.data import fashion_mnist
from pathlens.training import credit, detect, gan_case, open_run, vae_case


def timed(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default="gan,gan-fail,vae,vae-fail")
    args = parser.parse_args()
    images = fashion_mnist("train").images
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases.split(","):
            model, fail = name.split("-")[0], name.endswith("-fail")
            folder = Path(tmp) / name
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the failing VAE's loss overflows
                if model == "gan":
                    result = gan_case(folder, fail=fail, images=images * 2 - 1)
                else:
                    result = vae_case(folder, fail=fail, images=images)
            run = open_run(folder)
            t_detect = timed(lambda run=run: detect(run))
            worst = result["worst"]
            t_credit = None
            if worst is not None:
                t_credit = timed(
                    lambda run=run, w=worst: credit(run, w["site"], w["neuron"],
                                                    window=(w["snapshot"], None), top=4)
                )  # fmt: skip
            report = result["detect"]
            began = "; ".join(
                f"{flag} at {where['site'] or 'run'} step {where['step']}"
                for flag, where in report["first"].items()
            )
            traced = "-"
            if worst is not None:
                traced = f"{worst['site']}/{worst['neuron']} ({worst['flag']})"
            rows.append(
                (name, result["config"]["steps"], len(run.snapshots()), result["seconds"],
                 began or "nothing", traced, t_detect, t_credit)
            )  # fmt: skip
            run.close()
    print(f"date: {datetime.date.today().isoformat()}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} with {torch.get_num_threads()} thread(s), load average "
        f"{load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    )
    print()
    print(
        "| case | steps | snapshots | training with tracker (s) | began (first site and step "
        "per flag) | credit traced from | detect (ms) | credit (ms) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, steps, snaps, seconds, began, traced, t_detect, t_credit in rows:
        credit_ms = "-" if t_credit is None else f"{1000 * t_credit:.0f}"
        print(
            f"| {name} | {steps} | {snaps} | {seconds:.0f} | {began} | {traced} | "
            f"{1000 * t_detect:.0f} | {credit_ms} |"
        )


if __name__ == "__main__":
    main()
