"""Web app speed: API latency on stored results, first render of the network view, and a
ResNet-50-sized network (expand/collapse), measured in Debian's chromium via Playwright.

1. API: the demo run (`pathlens demo --no-serve --out RUN` first; default runs/demo) served by
   `pathlens serve` in its own process on 127.0.0.1; every endpoint the views use, each answer
   requested 20 times after one warm-up request (the warm-up makes missing
   activation-maximisation images, which are then stored).
2. First render: page load to the front end's `pathlens:network-rendered` mark, 5 loads.
3. ResNet-50: a bottleneck ResNet-50 (layers 3-4-6-3, random weights, 3x64x64 input) is turned
   into sites by `Network`; a page with that network and synthetic datapaths (30% of channels
   per set) is loaded from a report-style file; then each stage is expanded and collapsed by a
   click, timed from the click to the next painted frame.

Run: .venv/bin/python benchmarks/web.py [RUN_DIR]   (prints Markdown tables for BENCHMARKS.md)
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import torch
from playwright.sync_api import sync_playwright
from torch import nn

from pathlens import Network
from pathlens.server._app import STATIC
from pathlens.server._report import _inline

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# ---------------------------------------------------------------------- API
@contextmanager
def served(run_dir: Path):
    """`pathlens serve RUN` in its own process, as a user runs it: its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "pathlens", "serve", str(run_dir), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{url}/api/health")
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait()


def api_latency(run_dir: Path) -> list[tuple[str, int, float, float]]:
    rows = []
    with served(run_dir) as url, httpx.Client(base_url=url, timeout=120) as client:
        run = client.get("/api/run").json()
        aid = run["analyses"][0]["id"]
        analysis = client.get(f"/api/analyses/{aid}").json()
        groups: dict[str, list[str]] = {
            "/api/run": ["/api/run"],
            "/api/analyses/{id}": [f"/api/analyses/{aid}"],
            "/api/analyses/{id}/sites/{site}": [
                f"/api/analyses/{aid}/sites/{s}" for s in analysis["sites"]
            ],
            "/api/analyses/{id}/neurons/{site}/{channel}": [
                f"/api/analyses/{aid}/neurons/{s}/{c}"
                for s in analysis["sites"]
                for c in analysis["datapaths"]["A"]["channels"][s][:3]
            ],
            "/api/image_sets/{id}": [
                f"/api/image_sets/{analysis['sets'][k]['image_set']}" for k in "ABC"
            ],
            "/api/datapaths/{id}": [f"/api/datapaths/{analysis['sets']['A']['datapath']}"],
        }
        for name, paths in groups.items():
            for path in paths:
                assert client.get(path).status_code == 200, path  # warm-up
            times = []
            for _ in range(20):
                for path in paths:
                    start = time.perf_counter()
                    client.get(path).raise_for_status()
                    times.append(1000 * (time.perf_counter() - start))
            rows.append(
                (name, len(times), float(np.median(times)), float(np.percentile(times, 95)))
            )
    return rows


# ---------------------------------------------------------------------- first render
def first_render(browser, url: str, loads: int = 5) -> list[float]:
    times = []
    for _ in range(loads):
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url)
        page.wait_for_function(
            "performance.getEntriesByName('pathlens:network-rendered').length > 0",
            timeout=30_000,
        )
        times.append(
            page.evaluate("performance.getEntriesByName('pathlens:network-rendered')[0].startTime")
        )
        page.close()
    return times


# ---------------------------------------------------------------------- ResNet-50
class Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        cout = 4 * width
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + (x if self.down is None else self.down(x)))


class ResNet50(nn.Module):
    def __init__(self, classes: int = 1000):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, 2, 3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, 1),
        )
        layers, cin = [], 64
        for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            stage = []
            for b in range(blocks):
                stage.append(Bottleneck(cin, width, stride if b == 0 else 1))
                cin = 4 * width
            layers.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.head = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.head(x.mean((2, 3)))


def synthetic_answers(network: dict, seed: int = 0) -> dict:
    """/api/run and /api/analyses/1 for `network`, with random 30% datapaths per set."""
    rng = np.random.default_rng(seed)
    sites = [s["name"] for s in network["sites"]]
    channels = {s["name"]: s["channels"] for s in network["sites"]}
    datapaths = {}
    for key in "ABC":
        kept = {
            s: sorted(rng.choice(c, max(1, int(0.3 * c)), replace=False).tolist())
            for s, c in channels.items()
        }
        datapaths[key] = {
            "channels": kept,
            "scores": {s: [] for s in sites},
            "site_channels": channels,
            "method": "gates",
            "targets": [0] * 8,
            "kept_fraction": 0.3,
            "n_control": 64,
            "timing": {},
            "fidelity": {"sufficiency": 1, "specificity": 1, "necessity": 0},
        }

    def comparison(a, b):
        out = []
        for s in sites:
            x, y = set(datapaths[a]["channels"][s]), set(datapaths[b]["channels"][s])
            out.append(
                {
                    "site": s,
                    "jaccard": len(x & y) / len(x | y),
                    "similarity": float(rng.uniform(0.5, 1)),
                    "shared": sorted(x & y),
                    "only_a": sorted(x - y),
                    "only_b": sorted(y - x),
                }
            )
        return out

    progress = np.clip(np.linspace(0, 1, len(sites)) + rng.normal(0, 0.05, len(sites)), 0, 1)
    set_info = {
        "size": 8,
        "description": "",
        "image_set": 1,
        "datapath": 1,
        "indices": list(range(8)),
        "predictions": [0] * 8,
        "confidence": [0.9] * 8,
    }
    analysis = {
        "id": 1,
        "name": "synthetic",
        "source": 0,
        "target": 1,
        "source_name": "class 0",
        "target_name": "class 1",
        "sites": sites,
        "sets": {k: set_info for k in "ABC"},
        "datapaths": datapaths,
        "comparisons": {"AB": comparison("A", "B"), "AC": comparison("A", "C")},
        "progress": progress.round(3).tolist(),
        "divergence": sites[len(sites) // 3],
        "merge": sites[2 * len(sites) // 3],
        "error_channels": [],
        "attack": {},
        "timing": {},
    }
    run = {
        "name": "resnet50",
        "model": {"spec": "benchmark:resnet50", "classes": None, "input_shape": [3, 64, 64]},
        "network": network,
        "analyses": [
            {
                "id": 1,
                "name": "synthetic",
                "created": 0,
                "kind": "adversarial",
                "source": 0,
                "target": 1,
            }
        ],
        "datapaths": [],
        "image_sets": [],
        "can_run_jobs": False,
        "attacks": [],
    }
    return {"/api/run": run, "/api/analyses/1": analysis}


def resnet50_page(folder: Path) -> tuple[Path, dict]:
    net = Network(ResNet50().eval(), torch.zeros(1, 3, 64, 64))
    network = net.describe()
    data = json.dumps(synthetic_answers(network)).replace("</", "<\\/")
    page = _inline((STATIC / "index.html").read_text())
    page = page.replace("</head>", f"<script>window.__PATHLENS_EMBED__={data};</script></head>")
    path = folder / "resnet50.html"
    path.write_text(page)
    return path, network


def live_latency(browser, samples: int = 10) -> list[float]:
    """Seconds from a snapshot's commit by a training subprocess to its count on the page."""
    import re

    from pathlens import open_run
    from pathlens.server import create_app, running

    worker = Path(__file__).parents[1] / "tests" / "training" / "tracker_worker.py"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "live"
        command = [sys.executable, str(worker), str(path), "--every", "5", "--sleep", "0.1"]
        writer = subprocess.Popen(command)
        try:
            while True:
                try:
                    if len(open_run(path).snapshots()):
                        break
                except Exception:
                    time.sleep(0.1)
            latencies = []
            with running(create_app(path, jobs=False)) as url:
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.goto(url)
                status = page.get_by_test_id("training-status")
                status.wait_for()
                run = open_run(path)
                for _ in range(samples):
                    target = len(run.snapshots()) + 1
                    page.wait_for_function(
                        """n => { const e = document.querySelector('[data-testid=training-status]');
                                  const m = e && e.textContent.match(/(\\d+) snapshots/);
                                  return m && Number(m[1]) >= n; }""",
                        arg=target,
                        polling=20,
                        timeout=30_000,
                    )
                    seen = time.time()
                    latencies.append(seen - run.snapshot_times()[target - 1])
                    assert re.search(r"\d+ snapshots", status.inner_text())
                page.close()
            return latencies
        finally:
            writer.kill()
            writer.wait()


def mechanism_render(browser, url: str, loads: int = 5) -> list[float]:
    """Milliseconds from page load to the Mechanism page showing every cluster's tiles (the
    first mechanism of the run; every site's patches fetched and drawn)."""
    times = []
    for _ in range(loads):
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url)
        page.get_by_test_id("tab-mechanism").click()
        page.wait_for_function(
            """() => { const sel = '[data-testid=mech-cluster] canvas';
                       const p = [...document.querySelectorAll(sel)];
                       return p.length > 0 && p.every(c => c.width > 1 &&
                         c.getContext('2d').getImageData(1, 1, 1, 1).data[3] > 0); }""",
            polling=10,
            timeout=30_000,
        )
        times.append(page.evaluate("performance.now()"))
        page.close()
    return times


CLICK_TO_PAINT = """async (name) => {
  const node = document.querySelector(`[data-testid=segment][data-name="${name}"]`);
  const start = performance.now();
  node.dispatchEvent(new MouseEvent('click', {bubbles: true}));
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return performance.now() - start;
}"""


def expand_collapse(browser, path: Path, network: dict) -> dict:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(path.as_uri())
    page.wait_for_function(
        "performance.getEntriesByName('pathlens:network-rendered').length > 0", timeout=60_000
    )
    load = page.evaluate("performance.getEntriesByName('pathlens:network-rendered')[0].startTime")
    stages = list(dict.fromkeys(s["segment"][0] for s in network["sites"]))
    times = []
    for _ in range(3):
        for stage in stages:
            times.append(page.evaluate(CLICK_TO_PAINT, stage))  # expand (or collapse)
            times.append(page.evaluate(CLICK_TO_PAINT, stage))  # and back
    # everything expanded: stages then blocks
    for stage in stages:
        if (
            page.get_attribute(f'[data-testid=segment][data-name="{stage}"]', "data-expanded")
            != "true"
        ):
            page.evaluate(CLICK_TO_PAINT, stage)
    blocks = list(dict.fromkeys(s["segment"][1] for s in network["sites"] if len(s["segment"]) > 1))
    full = [page.evaluate(CLICK_TO_PAINT, b) for b in blocks]
    shown = page.locator("[data-testid=site]").count()
    page.close()
    return {"load": load, "toggle": times, "expand_all": full, "sites_shown": shown}


def main() -> None:
    run_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/demo")
    if not (run_dir / "run.sqlite").exists():
        sys.exit(
            f"{run_dir} is not a run folder: make one with "
            f"`pathlens demo --no-serve --out {run_dir}`"
        )
    machine = platform.processor() or platform.machine()
    print(
        f"# web benchmarks, {datetime.date.today()}, {machine}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}\n"
    )
    print("## API latency on stored results (demo run), 20 rounds\n")
    print("| endpoint | requests | median ms | p95 ms |\n|---|---:|---:|---:|")
    for name, count, median, p95 in api_latency(run_dir):
        print(f"| `{name}` | {count} | {median:.1f} | {p95:.1f} |")
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        with served(run_dir) as url:
            loads = first_render(browser, url)
            has_mechanism = bool(httpx.get(f"{url}/api/run").json()["mechanisms"])
            mech = mechanism_render(browser, url) if has_mechanism else []
        print("\n## First render of the network view (demo run), page load to mark, 5 loads\n")
        print(f"median {statistics.median(loads):.0f} ms, max {max(loads):.0f} ms")
        if mech:
            print("\n## Mechanism page (the run's first mechanism), load to every cluster drawn\n")
            print(f"median {statistics.median(mech):.0f} ms, max {max(mech):.0f} ms")
        path, network = resnet50_page(Path(tmp))
        big = expand_collapse(browser, path, network)
        channels = sum(s["channels"] for s in network["sites"])
        stages = len({s["segment"][0] for s in network["sites"]})
        blocks = len({tuple(s["segment"][:2]) for s in network["sites"]})
        print(
            f"\n## ResNet-50-sized network: {len(network['sites'])} sites, {blocks} blocks in "
            f"{stages} stages, {channels} channels, {len(network['edges'])} edges\n"
        )
        t = big["toggle"]
        print(f"- first render: {big['load']:.0f} ms")
        print(
            f"- expand/collapse a stage, click to painted frame ({len(t)} clicks): median "
            f"{statistics.median(t):.1f} ms, p95 {np.percentile(t, 95):.1f} ms, "
            f"max {max(t):.1f} ms"
        )
        f = big["expand_all"]
        print(
            f"- expanding every block one by one up to all {big['sites_shown']} sites shown: "
            f"median {statistics.median(f):.1f} ms, max {max(f):.1f} ms"
        )
        live = live_latency(browser)
        print(
            "\n## Live training run: snapshot committed by the trainer to its count on the page\n"
        )
        print(
            f"{len(live)} snapshots: median {statistics.median(live):.2f} s, max {max(live):.2f} s"
        )
        browser.close()


if __name__ == "__main__":
    main()
