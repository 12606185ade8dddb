"""Memory of a real `pathlens serve` process over many jobs: does it return near its
baseline once the jobs have ended (bounded job events and view caches)?

A run with one small adversarial analysis of a demo model (the CNN by default: the
2-core machine runs 20 jobs of it in minutes) is made in a temporary folder;
the server then runs `--jobs` datapath-subset jobs (2 images each) one after another, and
the server process's resident memory (VmRSS, peak VmHWM, from /proc) is printed.

Run: .venv/bin/python -u benchmarks/server_memory.py [--jobs 20] [--model resnet]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import httpx
import torch

from pathlens import Network, PathlensWarning, demo
from pathlens.attacks import explain_adversarial, save_analysis
from pathlens.data import CLASS_NAMES, fashion_mnist
from pathlens.store import RunStore
from pathlens.workflows import remember_model


def make_run(path: Path, model: str) -> tuple[int, int]:
    """The run folder and its analysis: (analysis id, images in set A)."""
    net = Network(demo.load(model), torch.zeros(1, 1, 28, 28))
    test = fashion_mnist("test")
    analysis = explain_adversarial(
        net, test.images, test.labels, 9, 7, n=8, patch_images=300, n_maximize=2
    )
    with RunStore(path) as run:
        remember_model(run, net, spec=f"demo:{model}", weights=None, classes=CLASS_NAMES,
                       data=None)  # fmt: skip
        analysis_id = save_analysis(run, analysis, name="ankle-boot->sneaker")
    return analysis_id, analysis.sets["A"]["size"]


def memory_mb(pid: int) -> dict[str, float]:
    """Resident (VmRSS) and peak resident (VmHWM) memory of a process, in MB."""
    facts = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            facts[key] = int(value.split()[0]) / 1024
    return facts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_done(url: str, job_id: int, pid: int, peak: list[float]) -> dict:
    while True:
        record = httpx.get(f"{url}/api/jobs/{job_id}").json()
        peak[0] = max(peak[0], memory_mb(pid)["VmRSS"])
        if record["status"] not in ("queued", "running"):
            return record
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--model", choices=("cnn", "resnet"), default="cnn")
    args = parser.parse_args()
    warnings.simplefilter("ignore", PathlensWarning)
    print(f"date {date.today()}, {platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, load average at start {os.getloadavg()[0]:.2f}\n")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        analysis_id, size = make_run(run_dir, args.model)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "pathlens", "serve", str(run_dir), "--port", str(port)],
            stdout=subprocess.DEVNULL,
        )
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{url}/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            httpx.get(f"{url}/api/run").raise_for_status()
            baseline = memory_mb(server.pid)["VmRSS"]
            rows, peak, started = [], [baseline], time.perf_counter()
            for i in range(args.jobs):
                body = {"kind": "datapath", "analysis": analysis_id, "set": "A",
                        "images": [i % size, (i + 1) % size]}  # fmt: skip
                job = httpx.post(f"{url}/api/jobs", json=body).raise_for_status().json()
                record = wait_done(url, job["id"], server.pid, peak)
                if record["status"] != "done":
                    raise SystemExit(f"job {job['id']} {record['status']}: {record['error']}")
                rows.append((i + 1, memory_mb(server.pid)["VmRSS"]))
            seconds = time.perf_counter() - started
            time.sleep(2.0)
            after = memory_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"{args.jobs} datapath-subset jobs (2 images of set A each, demo:{args.model}) in "
          f"{seconds:.0f} s\n")  # fmt: skip
    print("| when | server RSS (MB) |")
    print("|---|---:|")
    print(f"| baseline (served, before any job) | {baseline:.0f} |")
    for done, rss in rows:
        if done in (1, 2, 5) or done % 5 == 0:
            print(f"| after job {done} | {rss:.0f} |")
    print(f"| peak while jobs ran (sampled every 0.2 s) | {peak[0]:.0f} |")
    print(f"| peak (VmHWM) | {after['VmHWM']:.0f} |")
    print(f"| 2 s after the last job | {after['VmRSS']:.0f} |")
    settled = rows[-1][1] - rows[min(4, len(rows) - 1)][1]
    print(f"\ngrowth after the jobs: {after['VmRSS'] - baseline:+.0f} MB over the baseline; "
          f"between job 5 and job {args.jobs}: {settled:+.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
