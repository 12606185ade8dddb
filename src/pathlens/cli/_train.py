"""`pathlens train-demo`: the training case studies, trained, recorded and explained."""

from __future__ import annotations

import warnings
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from pathlens.cli._app import command, err, out, progress_bar, workflow_bar
from pathlens.errors import PathlensWarning


@command
def train_demo(
    model: str = typer.Argument(..., help="gan (a DCGAN) or vae (a convolutional VAE)."),
    fail: bool = typer.Option(
        False,
        "--fail",
        help="The failing configuration: for gan a generator learning rate 500 times too "
        "high; for vae a learning rate ten times too high from halfway on.",
    ),
    out_dir: Path | None = typer.Option(
        None, "--out", "-o", help="Run folder to write (default runs/train-MODEL[-fail])."
    ),
    steps: int | None = typer.Option(
        None, help="Training iterations (default 600 for gan, 400 for vae)."
    ),
    every: int | None = typer.Option(
        None, help="Snapshot every that many steps (default 20 for gan, 5 for vae)."
    ),
    seed: int | None = typer.Option(
        None, help="Seed of the weights, batches and noise (default 1 for gan, 0 for vae)."
    ),
    depth: int = typer.Option(2, help="Sites the credit trace goes back."),
    top: int = typer.Option(4, help="Inputs the credit trace follows per neuron."),
) -> None:
    """Train a case study on Fashion-MNIST with the tracker, then print what the detectors
    found (where and when it started) and the credit trace of the worst neuron."""
    from pathlens.workflows import TrainCaseRequest, case_defaults, train_case

    request = TrainCaseRequest(case=model, fail=fail, out=out_dir, steps=steps, every=every,
                               seed=seed, depth=depth, top=top)  # fmt: skip
    settings = {**case_defaults(model), **{k: v for k, v in
                (("steps", steps), ("every", every), ("seed", seed)) if v is not None}}  # fmt: skip
    out.print(
        f"[bold]{model} case study, {'failing' if fail else 'healthy'}[/]: "
        f"{settings['steps']} steps, a snapshot every {settings['every']}",
        highlight=False,
    )
    with progress_bar() as bar, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PathlensWarning)
        done = train_case(request, progress=workflow_bar(bar, f"training {model}"))
    for w in caught:
        if issubclass(w.category, PathlensWarning):
            err.print(f"[yellow]warning:[/] {escape(str(w.message))}", highlight=False)
    result, out_dir = done.report, done.run
    shown = ", ".join(f"{k} {v}" for k, v in result["config"].items())
    out.print(f"configuration: {shown}", highlight=False)
    out.print(f"trained in {result['seconds']:.0f} s", highlight=False)
    print_report(result["detect"])
    print_trace(result["worst"], result["credit"])
    if result.get("next"):
        out.print(
            f"{result['worst']['site']} reads the model input, so its trace cannot go back; "
            "the first failure among the sites that can be traced:",
            highlight=False,
        )
        print_trace(result["next"]["worst"], result["next"]["credit"])
    shown = escape(str(out_dir))
    out.print(f"run folder {shown}; see it with `pathlens serve {shown}`", highlight=False)


def print_report(report: dict) -> None:
    """The detector report as a table per site, then the run flags and the onsets."""
    table = Table(title="detectors (score 0..1, flagged at 0.5)", title_justify="left")
    for col in ("site", "score", "flagged neurons", "began at step"):
        table.add_column(col, justify="right" if col == "score" else "left")
    for site, found in report["sites"].items():
        flagged = ", ".join(f"{flag} {len(n)}" for flag, n in found["neurons"].items()) or "-"
        began = ", ".join(f"{flag} {v['step']}" for flag, v in found["first"].items()) or "-"
        table.add_row(site, f"{found['score']:.2f}", flagged, began)
    out.print(table)
    for name, found in report["run"].items():
        if found is None:
            continue
        if name == "mode_collapse":
            detail = f"generator output diversity {found['ratio']:.2f} x the {found['against']}'s"
        else:
            detail = f"loss_d {found['loss_d']:.3f}, loss_g {found['loss_g']:.2f}"
        state = "[bold red]yes[/]" if found["flag"] else "no"
        since = f" since step {found['onset']['step']}" if found["flag"] else ""
        out.print(f"{name}: {state}{since} (score {found['score']:.2f}; {detail})")
    if not report["first"]:
        out.print("[green]no failure found[/]")
    for flag, where in report["first"].items():
        site = f" at {where['site']}" if where["site"] else ""
        neurons = where["neurons"]
        listed = f", neurons {_listed(neurons)}" if neurons else ""
        out.print(f"began: {flag}{site}, step {where['step']}{listed}", highlight=False)


def print_trace(worst: dict | None, trace: dict | None) -> None:
    """The credit trace as an indented tree, from the worst neuron back."""
    if worst is None or trace is None:
        return
    steps = trace["window"]["steps"]
    out.print(
        f"\n[bold]credit trace[/] of {worst['site']}/{worst['neuron']} ({worst['flag']}, "
        f"score {worst['score']:.2f}) over steps {steps[0]}-{steps[1]}: share of each input "
        "in the neuron's input (signed), and the input's mean activation",
        highlight=False,
    )
    nodes = {(n["site"], n["neuron"]): n for n in trace["nodes"]}
    children: dict[tuple, list[dict]] = {}
    for edge in trace["edges"]:
        children.setdefault(tuple(edge["to"]), []).append(edge)
    root = (trace["site"], trace["neuron"])
    out.print(f"  {root[0]}/{root[1]}  activation {nodes[root]['activation']:.3g}", highlight=False)

    def walk(key: tuple, indent: str, seen: set) -> None:
        for edge in children.get(key, []):
            child = tuple(edge["from"])
            node = nodes[child]
            out.print(
                f"  {indent}<- {child[0]}/{child[1]}  share {edge['weight']:+.2f}  activation "
                f"{node['activation']:.3g}",
                highlight=False,
            )
            if child not in seen:
                walk(child, indent + "   ", seen | {child})

    walk(root, "", {root})
    for stop in trace["stops"]:
        out.print(f"  (stops at {stop['site']}: {stop['reason']})", highlight=False)


def _listed(values: list[int], most: int = 8) -> str:
    shown = ", ".join(str(v) for v in values[:most])
    return shown + (f" and {len(values) - most} more" if len(values) > most else "")
