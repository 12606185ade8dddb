"""Cost of outlier-biased blue-noise polyline sampling, against numpy.random.choice in the same run.

Random walks [N, 100] with 20 planted abnormal series (exploding or stuck far away); each method
keeps n = 500 series. Reports wall time and how many planted outliers each keeps.

Run: .venv/bin/python benchmarks/sampling.py   (prints a Markdown table for BENCHMARKS.md)
"""

from __future__ import annotations

import datetime
import os
import platform
import time

import numpy as np
import scipy

from pathlens.training import sample_polylines

T, KEEP, PLANTED = 100, 500, 20


def planted_walks(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.standard_normal((n, T)), axis=1)
    rows = rng.choice(n, PLANTED, replace=False)
    steps = np.arange(T)
    for j, row in enumerate(rows):
        sign = 1 if j % 2 else -1
        size = 60 + 25 * j
        if j % 4 < 2:
            x[row] += sign * size * np.exp((steps - T) / (T / 8))
        else:
            x[row] = sign * size * 0.5
    return x, rows


def best_of(fn, repeats: int = 3):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    print(f"date: {datetime.date.today().isoformat()}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print()
    print(
        f"| N series (T = {T}) | n | sample_polylines (s) | numpy.random.choice (s) | "
        f"outliers kept, sample_polylines (of {PLANTED}) | outliers kept, random (of {PLANTED}) "
        "| kept by sample_polylines |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in (10_000, 50_000, 100_000):
        x, planted = planted_walks(n)
        rng = np.random.default_rng(0)
        t_ours, rows = best_of(lambda x=x: sample_polylines(x, KEEP))
        t_rand, uniform = best_of(lambda n=n, rng=rng: rng.choice(n, KEEP, replace=False))
        print(
            f"| {n:,} | {KEEP} | {t_ours:.3f} | {t_rand:.5f} | {np.isin(planted, rows).sum()} | "
            f"{np.isin(planted, uniform).sum()} | {len(rows)} |"
        )


if __name__ == "__main__":
    main()
