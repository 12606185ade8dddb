"""`pathlens report`: one self-contained HTML file with the web app and the run's answers.

The page is the built front end with its script and styles inlined, plus every API answer the
views ask for, embedded as `window.__PATHLENS_EMBED__` (API path -> JSON). It needs no server
and no network; jobs are off (the run's model is not in the file).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from pathlens._cache import atomic_write_bytes
from pathlens.attacks import SETS
from pathlens.errors import PathlensError
from pathlens.server._app import STATIC
from pathlens.server._views import RunView


def report_paths(view: RunView) -> list[tuple[str, Callable[[], object]]]:
    """Every API path a read-only page can ask for, with the function that answers it."""
    info = view.run_info()
    paths: list[tuple[str, Callable[[], object]]] = [("/api/run", lambda: info)]
    for a in info["analyses"]:
        aid = a["id"]
        analysis = view.analysis(aid)
        paths.append((f"/api/analyses/{aid}", lambda analysis=analysis: analysis))
        for key in SETS:
            sid = analysis["sets"][key]["image_set"]
            paths.append((f"/api/image_sets/{sid}", lambda sid=sid: view.image_set(sid)))
        for site in analysis["sites"]:
            paths.append((f"/api/analyses/{aid}/sites/{site}",
                          lambda aid=aid, site=site: view.layer(aid, site)))  # fmt: skip
            channels = set().union(*(analysis["datapaths"][k]["channels"][site] for k in SETS))
            for ch in sorted(channels):
                paths.append(
                    (f"/api/analyses/{aid}/neurons/{site}/{ch}",
                     lambda aid=aid, site=site, ch=ch: view.neuron(aid, site, ch, compute=False))
                )  # fmt: skip
    for m in info["mechanisms"]:
        mid = m["id"]
        summary = view.mechanism(mid)
        paths.append((f"/api/mechanisms/{mid}", lambda summary=summary: summary))
        for site in summary["sites"]:
            name = site["name"]
            query = quote(name, safe="-_.!~*'()")  # as the page's encodeURIComponent
            paths.append(
                (f"/api/mechanisms/{mid}/patches?site={query}",
                 lambda mid=mid, name=name: view.mechanism_patches(mid, name))
            )  # fmt: skip
    for d in info["datapaths"]:
        paths.append((f"/api/datapaths/{d['id']}", lambda did=d["id"]: view.datapath(did)))
    unique = dict(paths)  # an image set shared by two analyses is embedded once
    return list(unique.items())


def _inline(page: str) -> str:
    """Replace the page's script and stylesheet links by their contents."""

    def read(ref: str) -> str:
        path = (STATIC / ref.removeprefix("./").removeprefix("/")).resolve()
        if not path.is_relative_to(STATIC.resolve()) or not path.is_file():
            raise PathlensError(
                f"The front-end build is incomplete ({ref} is missing): rebuild it."
            )
        return path.read_text(encoding="utf-8")

    def script(match: re.Match) -> str:
        code = read(match.group(1)).replace("</script", "<\\/script")
        return f'<script type="module">{code}</script>'

    def style(match: re.Match) -> str:
        return f"<style>{read(match.group(1))}</style>"

    page = re.sub(r'<script type="module"[^>]*src="([^"]+)"[^>]*></script>', script, page)
    return re.sub(r'<link rel="stylesheet"[^>]*href="([^"]+)"[^>]*>', style, page)


def write_report(
    run_dir: str | Path,
    out: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Write the report of `run_dir` to `out` (atomically); returns {"bytes", "answers"}."""
    index = STATIC / "index.html"
    if not index.is_file():
        raise PathlensError(
            "The web app is not built in this installation, so no report can be made. Run "
            "`make setup` (or `npm ci && npm run build` in web/)."
        )
    out = Path(out)
    if out.is_dir():
        raise PathlensError(f"{out} is a folder: give a file name such as report.html.")
    view = RunView(run_dir, jobs=False)
    paths = report_paths(view)
    answers = {}
    for i, (path, answer) in enumerate(paths):
        answers[path] = answer()
        if progress is not None:
            progress(i + 1, len(paths))
    data = (
        json.dumps(answers, separators=(",", ":")).replace("</", "<\\/").replace("<!--", "<\\!--")
    )
    page = _inline(index.read_text(encoding="utf-8"))
    embed = f"<script>window.__PATHLENS_EMBED__={data};</script>"
    page = page.replace("</head>", f"{embed}</head>", 1)
    body = page.encode("utf-8")
    atomic_write_bytes(out, body)
    return {"bytes": len(body), "answers": len(answers)}
