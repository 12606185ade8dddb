"""The web app in a real browser: Playwright driving Debian's chromium against a real server.

Screenshots go to $PATHLENS_SCREENSHOTS (default: a pytest temporary folder); look at them.
"""

import os
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from pathlens.server import write_report

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
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


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Debian chromium is missing: run `make setup`"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = os.environ.get("PATHLENS_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="module")
def run_info(demo_server):
    return httpx.get(f"{demo_server}/api/run").json()


@pytest.fixture(scope="module")
def analysis(demo_server, run_info):
    return httpx.get(f"{demo_server}/api/analyses/{run_info['analyses'][0]['id']}").json()


def stages(run_info) -> list[str]:
    return list(dict.fromkeys(s["segment"][0] for s in run_info["network"]["sites"]))


def open_app(page, url):
    page.goto(url)
    expect(page.get_by_test_id("network-view")).to_be_visible()
    expect(page.get_by_test_id("band").first).to_be_visible()


def ensure_expanded(page, segment: str) -> None:
    node = page.locator(f'[data-testid=segment][data-name="{segment}"]')
    if node.get_attribute("data-expanded") != "true":
        node.click()
    expect(node).to_have_attribute("data-expanded", "true")


def test_demo_run_loads_with_every_segment_and_the_bands(page, demo_server, run_info, shots):
    open_app(page, demo_server)
    for stage in stages(run_info):
        expect(page.locator(f'[data-testid=segment][data-name="{stage}"]')).to_be_visible()
    for key in "ABC":
        expect(page.locator(f"[data-testid=band][data-set={key}]").first).to_be_visible()
    strip = page.get_by_test_id("similarity-strip")
    expect(strip).to_be_visible()
    page.screenshot(path=shots / "network.png")


def test_strip_marks_divergence_and_merge(page, demo_server, analysis):
    open_app(page, demo_server)
    for mark in ("divergence", "merge"):
        if analysis[mark] is not None:
            expect(page.get_by_test_id(mark)).to_be_visible()


def test_expanding_a_segment_shows_its_sites(page, demo_server, run_info, shots):
    open_app(page, demo_server)
    stage = stages(run_info)[2]
    node = page.locator(f'[data-testid=segment][data-name="{stage}"]')
    if node.get_attribute("data-expanded") == "true":
        node.click()  # collapse first, so that expanding is what the test sees
        expect(node).to_have_attribute("data-expanded", "false")
        site = next(s for s in run_info["network"]["sites"] if s["segment"][0] == stage)
        expect(page.locator(f'[data-testid=site][data-name="{site["name"]}"]')).to_have_count(0)
    node.click()
    expect(node).to_have_attribute("data-expanded", "true")
    for segment in {s["segment"][1] for s in run_info["network"]["sites"]
                    if s["segment"][0] == stage and len(s["segment"]) > 1}:  # fmt: skip
        ensure_expanded(page, segment)
    for site in (s for s in run_info["network"]["sites"] if s["segment"][0] == stage):
        expect(page.locator(f'[data-testid=site][data-name="{site["name"]}"]')).to_be_visible()
    page.screenshot(path=shots / "expanded.png")


def show_site(page, run_info, name: str) -> None:
    site = next(s for s in run_info["network"]["sites"] if s["name"] == name)
    for depth in range(1, len(site["segment"]) + 1):
        ensure_expanded(page, site["segment"][depth - 1])
    page.locator(f'[data-testid=site][data-name="{name}"]').click()


def test_clicking_a_site_opens_its_layer_view(page, demo_server, run_info, analysis, shots):
    open_app(page, demo_server)
    site = analysis["sites"][6]
    show_site(page, run_info, site)
    layer = page.locator(f'[data-testid=layer-view][data-site="{site}"]')
    expect(layer).to_be_visible()
    kept = set()
    for key in "ABC":
        kept |= set(analysis["datapaths"][key]["channels"][site])
    expect(layer.get_by_test_id("channel")).to_have_count(len(kept))
    shown = {int(c) for c in layer.get_by_test_id("channel").evaluate_all(
        "nodes => nodes.map(n => n.dataset.channel)")}  # fmt: skip
    assert shown == kept
    expect(layer.get_by_test_id("link").first).to_be_attached()
    page.screenshot(path=shots / "layer.png")


def test_clicking_a_channel_shows_its_heat_maps(page, demo_server, run_info, analysis, shots):
    open_app(page, demo_server)
    site = analysis["sites"][3]
    show_site(page, run_info, site)
    channel = (
        page.locator(f'[data-testid=layer-view][data-site="{site}"]')
        .get_by_test_id("channel")
        .first
    )
    number = channel.get_attribute("data-channel")
    channel.click()
    neuron = page.locator(f'[data-testid=neuron-view][data-site="{site}"][data-channel="{number}"]')
    expect(neuron).to_be_visible()
    maps = neuron.locator("canvas[data-testid=heatmap]")
    total = sum(analysis["sets"][k]["size"] for k in "ABC")
    expect(maps).to_have_count(total)
    # a heat map is drawn, not blank: its pixels vary
    spread = maps.first.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let lo = 255, hi = 0;
                  for (let i = 0; i < d.length; i += 4) {
                    lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); }
                  return hi - lo; }"""
    )
    assert spread > 20
    expect(neuron.get_by_test_id("patches")).to_be_visible()
    expect(neuron.get_by_test_id("distribution")).to_be_visible()
    page.screenshot(path=shots / "neuron.png")


def test_launched_analysis_reports_progress_and_appears(page, demo_server, run_info, shots):
    open_app(page, demo_server)
    before = len(run_info["analyses"])
    page.get_by_test_id("new-analysis").click()
    page.locator("select[name=source]").select_option("9")
    page.locator("select[name=target]").select_option("7")
    page.locator("select[name=attack]").select_option("pgd")
    page.locator("input[name=eps]").fill("0.1")
    page.locator("input[name=n]").fill("6")
    page.screenshot(path=shots / "new-analysis.png")
    page.get_by_test_id("launch").click()
    progress = page.get_by_test_id("job-progress")
    expect(progress).to_be_visible()
    expect(progress).to_contain_text("datapath of", timeout=120_000)
    page.screenshot(path=shots / "job-running.png")
    expect(progress).to_be_hidden(timeout=240_000)
    expect(page.get_by_test_id("job-error")).to_have_count(0)
    runs = httpx.get(f"{demo_server}/api/run").json()["analyses"]
    assert len(runs) == before + 1
    new = runs[-1]
    expect(page.locator("select[aria-label=analysis]")).to_have_value(str(new["id"]))
    expect(page.get_by_test_id("band").first).to_be_visible()
    page.screenshot(path=shots / "job-done.png")


def test_subset_datapath_job_from_the_images_view(page, demo_server, analysis, shots):
    open_app(page, demo_server)
    page.get_by_role("button", name="Images").click()
    view = page.get_by_test_id("images-view")
    expect(view).to_be_visible()
    for index in (0, 1):
        view.locator(f"[data-testid=image][data-set=A][data-index='{index}']").click()
    expect(view.locator("[data-testid=image][data-selected=true]")).to_have_count(2)
    view.get_by_test_id("subset-datapath").click()
    expect(view.get_by_test_id("subset-result")).to_be_visible(timeout=120_000)
    page.screenshot(path=shots / "subset.png")


def test_report_opens_from_disk_and_shows_the_network(page, demo_run, run_info, tmp_path, shots):
    report = tmp_path / "report.html"
    write_report(demo_run, report)
    page.goto(report.as_uri())
    expect(page.get_by_test_id("network-view")).to_be_visible()
    for stage in stages(run_info):
        expect(page.locator(f'[data-testid=segment][data-name="{stage}"]')).to_be_visible()
    expect(page.get_by_test_id("band").first).to_be_visible()
    expect(page.get_by_test_id("new-analysis")).to_be_disabled()
    site = run_info["network"]["sites"][4]["name"]
    show_site(page, run_info, site)
    expect(page.locator(f'[data-testid=layer-view][data-site="{site}"]')).to_be_visible()
    page.screenshot(path=shots / "report.png")


def test_live_training_run_grows_on_screen(page, tmp_path, shots):
    """A training subprocess writes snapshots; the open page's count and timeline follow."""
    import re
    import subprocess
    import sys
    import time

    from pathlens import open_run
    from pathlens.server import create_app, running

    worker = Path(__file__).parents[1] / "training" / "tracker_worker.py"
    path = tmp_path / "live"
    writer = subprocess.Popen(
        [
            sys.executable,
            str(worker),
            str(path),
            "--every",
            "2",
            "--sleep",
            "0.05",
            "--steps",
            "100000",
        ]
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                if len(open_run(path).snapshots()) > 0:
                    break
            except Exception:
                pass
            assert time.time() < deadline, "the training subprocess did not start"
            time.sleep(0.1)
        with running(create_app(path, jobs=False)) as url:
            page.goto(url)
            status = page.get_by_test_id("training-status")
            expect(status).to_contain_text("snapshots")
            expect(page.get_by_test_id("timeline")).to_be_visible()

            def shown() -> int:
                return int(re.search(r"(\d+) snapshots", status.inner_text()).group(1))

            first = shown()
            page.screenshot(path=shots / "training-live-1.png")
            page.wait_for_timeout(2500)
            second = shown()
            assert second > first, (first, second)
            # the page keeps within 2 s of what the run holds
            assert len(open_run(path).snapshots()) - second <= int(2 / (2 * 0.05)) + 5
            site = open_run(path).sites()[0]
            page.locator(f'[data-testid=training-site][data-name="{site}"]').first.click()
            expect(page.get_by_test_id("polyline").first).to_be_attached()
            page.screenshot(path=shots / "training-live-2.png")
    finally:
        writer.kill()
        writer.wait()


def test_mechanism_view_draws_clusters_bundles_and_details(
    page, cnn_net, test_set, tmp_path, shots
):
    from pathlens.mechanism import analyze, list_mechanisms, mechanism_summary, save_mechanism
    from pathlens.server import create_app, running
    from pathlens.store import RunStore

    path = tmp_path / "mech"
    images, labels = test_set.images[:400], test_set.labels[:400]
    with RunStore(path) as run:
        for name in ("early", "late"):
            save_mechanism(run, analyze(cnn_net, images, labels, k_max=4), name=name)
        summary = mechanism_summary(run, list_mechanisms(run)[0]["id"])
    with running(create_app(path, jobs=False)) as url:
        page.goto(url)
        page.get_by_test_id("tab-mechanism").click()
        view = page.get_by_test_id("mechanism-view")
        expect(view).to_be_visible()
        expect(view.get_by_test_id("mech-site")).to_have_count(len(summary["sites"]))
        clusters = sum(s["n_clusters"] for s in summary["sites"])
        expect(view.get_by_test_id("mech-cluster")).to_have_count(clusters)
        expect(view.get_by_test_id("mech-bundle").first).to_be_attached()
        site = summary["sites"][1]
        view.locator(
            f'[data-testid=mech-cluster][data-site="{site["name"]}"][data-cluster="0"]'
        ).first.click()
        detail = page.get_by_test_id("cluster-detail")
        expect(detail).to_contain_text(site["name"])
        expect(detail.get_by_test_id("class-matrix")).to_be_visible()
        page.screenshot(path=shots / "mechanism.png")
        page.get_by_test_id("compare-select").select_option(index=1)
        expect(view.get_by_test_id("mech-cluster")).to_have_count(2 * clusters)
        page.screenshot(path=shots / "mechanism-compare.png")
