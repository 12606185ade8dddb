from __future__ import annotations

import functools
import os
import sys
import traceback
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import pathlens
from pathlens._progress import progress_bar
from pathlens.attacks import METHODS as ATTACK_METHODS
from pathlens.datapath import METHODS as DATAPATH_METHODS
from pathlens.errors import PathlensError
from pathlens.workflows import ProgressEvent, RequestError

app = typer.Typer(
    name="pathlens",
    help=(
        "pathlens explains PyTorch models visually: which channels a prediction depends on "
        "(datapaths), why adversarial examples fool a model, and what happened inside while "
        "it trained."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# emoji=False: a user's text such as the model spec 'a:b:c' holds ':b:', an emoji code to
# rich; user text printed inside markup also goes through `escape`.
out = Console(emoji=False)
err = Console(stderr=True, emoji=False)

PORTS = (1, 65535)

MODEL_HELP = (
    "Model to analyse: demo:cnn, demo:resnet, or package.module:factory (a function that "
    "builds your nn.Module) together with --weights."
)


def _version(value: bool) -> None:
    if value:
        out.print(f"pathlens {pathlens.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    pass


def command(fn):
    """Register `fn` as a command whose user errors print as a message, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PathlensError as exc:
            err.print(f"[bold red]error:[/] {escape(_in_cli_words(exc))}", highlight=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            if os.environ.get("PATHLENS_DEBUG"):
                raise
            log = Path(os.environ.get("TMPDIR", "/tmp")) / "pathlens-error.log"
            log.write_text(traceback.format_exc())
            err.print(
                f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
                "This is a bug in pathlens, not in your input. The traceback is in "
                f"{escape(str(log))}; please report it (set PATHLENS_DEBUG=1 to see it here).",
                highlight=False,
            )
            raise typer.Exit(1) from None

    return app.command()(wrapper)


def _in_cli_words(exc: PathlensError) -> str:
    """A request error names its field as the API spells it (``n must be ...``); the CLI
    user typed an option (``--n``)."""
    text = str(exc)
    if isinstance(exc, RequestError) and text.startswith(f"{exc.field} "):
        return f"--{exc.field.replace('_', '-')}{text[len(exc.field) :]}"
    return text


def workflow_bar(bar, description: str):
    """A `ProgressEvent` receiver that moves one bar of `bar` (a rich Progress) from 0 to 1:
    the one adapter between the workflows and the terminal."""
    task = bar.add_task(description, total=100, status="")

    def on_event(event: ProgressEvent) -> None:
        d, status = event.detail, event.message
        if "kept_fraction" in d:
            status += (
                f": step {d['step']}, kept {d['kept_fraction']:.0%}, "
                f"sufficiency {d['sufficiency']:.2f}"
            )
        elif "scalars" in d:
            status = ", ".join(f"{k} {v:.3g}" for k, v in d["scalars"].items() if k != "lr")
        elif "total" in d:
            status += f" {d['done']}/{d['total']}"
        bar.update(task, completed=round(event.fraction * 100, 1), status=status)

    return on_event


def _warned(caught) -> None:
    for w in caught:
        if issubclass(w.category, pathlens.PathlensWarning):
            err.print(f"[yellow]warning:[/] {escape(str(w.message))}", highlight=False)


def parse_shape(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        shape = tuple(int(p) for p in text.replace("x", ",").split(",") if p.strip())
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise PathlensError(
            f"--input-shape {text!r} is not a shape: give one example's size as C,H,W "
            "(e.g. 1,28,28) or features for a flat input (e.g. 100)."
        )
    return shape


def _sites_table(net: pathlens.Network, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("#", "segment", "site", "kind", "channels", "output"):
        table.add_column(col, justify="right" if col in ("#", "channels") else "left")
    for s in net.sites:
        table.add_row(
            str(s.index),
            " / ".join(s.segment),
            s.name,
            s.kind,
            str(s.channels),
            "x".join(map(str, s.shape)),
        )
    return table


@command
def sites(
    model: str = typer.Option("demo:resnet", "--model", "-m", help=MODEL_HELP),
    weights: Path | None = typer.Option(None, help="State dict for the model (torch.save)."),
    input_shape: str | None = typer.Option(
        None, help="Shape of one input example, e.g. 1,28,28 (the default) or 3,32,32."
    ),
    site: list[str] | None = typer.Option(
        None, "--site", help="Use these modules as sites (repeat the option); default: auto."
    ),
) -> None:
    """List the gating sites of a model: segment, name, kind and channel count, in forward order."""
    loaded = pathlens.load_model(model, weights, parse_shape(input_shape))
    net = pathlens.Network(loaded.model, loaded.example_input, sites=site or "auto")
    out.print(_sites_table(net, f"{escape(model)}: {len(net.sites)} sites"))
    out.print(f"graph from {net.graph_source}; {len(net.edges)} edges between sites")
    for a, b in net.edges:
        out.print(f"  {escape(a)} -> {escape(b)}", highlight=False)


@command
def extract(
    images: Path = typer.Option(
        ..., "--images", "-i", help="An .npz (images, optional labels) or a folder of PNG/JPEG."
    ),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Run folder to write (created if new)."),
    model: str = typer.Option("demo:resnet", "--model", "-m", help=MODEL_HELP),
    weights: Path | None = typer.Option(None, help="State dict for the model (torch.save)."),
    input_shape: str | None = typer.Option(None, help="One input's shape, e.g. 1,28,28."),
    method: str = typer.Option("gates", help=f"Datapath method: {', '.join(DATAPATH_METHODS)}."),
    target: str | None = typer.Option(
        None, help="Class to keep (index or name); default: each image's own prediction."
    ),
    control: str = typer.Option(
        "auto",
        help="Control images of other classes (.npz or folder), 'auto' (drawn from "
        "Fashion-MNIST for the demo models) or 'none'.",
    ),
    n_control: int = typer.Option(64, help="How many control images 'auto' draws."),
    ablation: str = typer.Option("zero", help="Removed channels become 0 (zero) or their mean."),
    agreement: float = typer.Option(1.0, help="Required sufficiency (share of the set kept)."),
    specificity: float = typer.Option(0.9, help="Required specificity on control images."),
    name: str = typer.Option("", help="A name for this datapath in the run."),
) -> None:
    """Extract the datapath of an image set: the fewest channels that keep its predictions."""
    import warnings

    from pathlens.workflows import ExtractRequest
    from pathlens.workflows import extract as run_extract

    request = ExtractRequest(
        images=images, out=out_dir, model=model, weights=weights,
        input_shape=parse_shape(input_shape), method=method, target=target, control=control,
        n_control=n_control, ablation=ablation, agreement=agreement, specificity=specificity,
        name=name,
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught, progress_bar() as bar:
        warnings.simplefilter("always")
        result = run_extract(request, progress=workflow_bar(bar, f"datapath ({method})"))
    _warned(caught)
    _print_datapath(result.net, result.datapath, result.classes)
    out.print(
        f"saved datapath {result.datapath_id} and image set {result.image_set_id} in "
        f"{escape(str(out_dir))}",
        highlight=False,
    )


def _print_datapath(net, datapath, classes) -> None:
    table = Table(title="datapath per segment", title_justify="left")
    for col in ("segment", "sites", "kept / total channels", "kept"):
        table.add_column(col, justify="left" if col == "segment" else "right")
    groups: dict[str, list] = {}
    for site in net.sites:
        groups.setdefault(site.segment[0], []).append(site)
    for segment, sites_in in groups.items():
        kept = sum(len(datapath.channels[s.name]) for s in sites_in)
        total = sum(s.channels for s in sites_in)
        table.add_row(segment, str(len(sites_in)), f"{kept} / {total}", f"{kept / total:.0%}")
    out.print(table)
    f = datapath.fidelity
    spec = "unknown" if f.specificity is None else f"{f.specificity:.2f}"
    target_names = sorted({classes[t] for t in datapath.targets})
    out.print(
        f"{datapath.method}: kept {datapath.kept_fraction:.1%} of "
        f"{sum(datapath.site_channels.values())} channels for {datapath.n_images} images "
        f"({', '.join(target_names)}) in {datapath.timing['seconds']:.1f} s\n"
        f"fidelity (hard masks): sufficiency {f.sufficiency:.2f}, specificity {spec} "
        f"on {datapath.n_control} control images, necessity {f.necessity:.2f}",
        highlight=False,
    )


@command
def adversarial(
    source: str = typer.Option(..., help="Source class (index or name), e.g. ankle-boot."),
    target: str = typer.Option(..., help="Class the attack pushes to, e.g. sneaker."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Run folder to write (created if new)."),
    model: str = typer.Option("demo:resnet", "--model", "-m", help=MODEL_HELP),
    weights: Path | None = typer.Option(None, help="State dict for the model (torch.save)."),
    input_shape: str | None = typer.Option(None, help="One input's shape, e.g. 1,28,28."),
    images: Path | None = typer.Option(
        None, help="Labelled images (.npz with images and labels); default: the demo test set."
    ),
    attack: str = typer.Option("pgd", help=f"Attack: {', '.join(ATTACK_METHODS)}."),
    adversarial_images: Path | None = typer.Option(
        None,
        "--adversarial",
        help="Adversarial images made elsewhere (.npz or PNG folder), in the order of the "
        "correctly classified source images of --images; replaces --attack.",
    ),
    eps: float = typer.Option(0.1, help="Perturbation budget in [0, 1] pixels."),
    n: int = typer.Option(32, help="Images per set (adversarial, source, target)."),
    name: str = typer.Option("", help="A name for this analysis in the run."),
) -> None:
    """Explain why adversarial examples are misclassified: where their datapath leaves the
    source class's and joins the target class's, and the channels that carry the error."""
    from pathlens.workflows import ExplainRequest, explain

    request = ExplainRequest(
        source=source, target=target, out=out_dir, model=model, weights=weights,
        input_shape=parse_shape(input_shape), images=images, attack=attack,
        adversarial=adversarial_images, eps=eps, n=n, name=name or f"{source}->{target}",
    )  # fmt: skip
    with progress_bar() as bar:
        result = explain(request, progress=workflow_bar(bar, "adversarial analysis"))
    _print_analysis(result.analysis, result.classes)
    out.print(f"saved analysis {result.analysis_id} in {escape(str(out_dir))}", highlight=False)


def _print_analysis(analysis, classes) -> None:
    a = analysis
    out.print(
        f"[bold]{escape(classes[a.source])} -> {escape(classes[a.target])}[/]: attack "
        f"{a.attack['method']} "
        f"succeeded on {a.attack['success_rate']:.0%} of {a.attack['attempted']} images; sets "
        f"A (adversarial) {a.sets['A']['size']}, B (source) {a.sets['B']['size']}, "
        f"C (target) {a.sets['C']['size']}"
    )
    table = Table(title="sites: A between B (0) and C (1)", title_justify="left")
    for col in ("site", "kept A/B/C", "Jaccard A-B", "Jaccard A-C", "position", ""):
        table.add_column(col, justify="left" if col in ("site", "") else "right")
    for i, site in enumerate(a.sites):
        ab, ac = a.comparisons["AB"][i], a.comparisons["AC"][i]
        kept = "/".join(str(len(a.datapaths[k].channels[site])) for k in ("A", "B", "C"))
        mark = " ".join(
            label for label, at in (("divergence", a.divergence), ("merge", a.merge))
            if at == site
        )  # fmt: skip
        bar = "#" * round(a.progress[i] * 10)
        table.add_row(site, kept, f"{ab.jaccard:.2f}", f"{ac.jaccard:.2f}",
                      f"{a.progress[i]:.2f} {bar:<10}", mark)  # fmt: skip
    out.print(table)
    out.print(f"divergence: {a.divergence or 'none'}; merge: {a.merge or 'none'}")
    top = Table(title="channels carrying the error (from the divergence on)", title_justify="left")
    for col in ("site", "channel", "in", "contribution to target"):
        top.add_column(
            col, justify="right" if col in ("channel", "contribution to target") else "left"
        )
    for e in a.error_channels[:10]:
        top.add_row(e.site, str(e.channel), e.side, f"{e.contribution:+.3f}")
    out.print(top)
    seconds = ", ".join(f"{k} {v:.1f} s" for k, v in a.timing.items())
    out.print(f"time: {seconds}", highlight=False)


DEMO_PAIR = ("ankle-boot", "sneaker")  # the PGD attack turns most ankle boots into sneakers


@command
def demo(
    serve: bool = typer.Option(
        True, "--serve/--no-serve", help="Serve the results in the browser when done."
    ),
    out_dir: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Run folder to use."),
    port: int = typer.Option(8765, help="Port of the web app."),
) -> None:
    """Run the embedded demo: load the shipped demo ResNet, explain why PGD
    turns ankle boots into sneakers, and serve the analysis in the browser."""
    from pathlens import demo as demo_models
    from pathlens.store import RunStore
    from pathlens.workflows import ExplainRequest, explain

    if serve:
        _check_port_number(port)  # before minutes of analysis, not after
    name = f"{DEMO_PAIR[0]}->{DEMO_PAIR[1]}"
    with RunStore(out_dir) as run:
        done = [a for a in run.analyses() if a["name"] == name]
    pathlens.load_model("demo:resnet")  # trains the demo model the first time, with a bar
    facts = demo_models.info("resnet")
    out.print(
        f"[bold]demo:resnet[/] test accuracy {facts['test_accuracy']:.4f} "
        f"(weights in {demo_models.weights_path('resnet')})"
    )
    if done:
        out.print(
            f"analysis {name} is already in {escape(str(out_dir))} (delete the folder to redo it)",
            highlight=False,
        )
    else:
        out.print(f"\n[bold]Why PGD (eps 0.1) makes the demo ResNet see {name}[/]")
        request = ExplainRequest(source=DEMO_PAIR[0], target=DEMO_PAIR[1], out=out_dir,
                                 model="demo:resnet", attack="pgd", eps=0.1, name=name)  # fmt: skip
        with progress_bar() as bar:
            result = explain(request, progress=workflow_bar(bar, "adversarial analysis"))
        _print_analysis(result.analysis, result.classes)
    if serve:
        _serve(out_dir, "127.0.0.1", port)
    else:
        shown = escape(str(out_dir))
        out.print(f"results in {shown}; see them with `pathlens serve {shown}`", highlight=False)


@command
def serve(
    run_dir: Path = typer.Argument(..., help="The run folder to show."),
    port: int = typer.Option(8765, help="Port to listen on."),
    host: str = typer.Option(
        "127.0.0.1",
        help="Address to listen on. Anything but loopback requires a token, which is "
        "generated and printed in the URL.",
    ),
    jobs: bool = typer.Option(
        True, "--jobs/--no-jobs", help="Allow new analyses and datapaths to run from the page."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help="The run's model spec, to run jobs in a run made with a model of your own "
        "(pathlens never imports code named in a run folder); it must be the recorded one.",
    ),
    weights: Path | None = typer.Option(
        None, "--weights", "-w", help="Its weights file (default: the recorded one, if intact)."
    ),
) -> None:
    """Serve a run folder in the browser: network, layer and neuron views of its analyses."""
    _serve(run_dir, host, port, jobs=jobs, model=model, weights=weights)


def _check_port_number(port: int) -> None:
    if not PORTS[0] <= port <= PORTS[1]:
        raise PathlensError(
            f"--port {port} is not a port to listen on: give a number in {PORTS[0]}..{PORTS[1]} "
            "(e.g. 8765)."
        )


def _check_port(host: str, port: int) -> None:
    """Fail with a clear message now, rather than with uvicorn's log line later.

    Port 0 ("any free port" to the OS) is refused too: the printed URL must name the port.
    """
    import errno
    import socket

    _check_port_number(port)

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # as uvicorn does: connections of a server that just stopped do not block the port
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc})"
            raise PathlensError(
                f"Port {port} on {host} {reason}: give another with --port."
            ) from None


def _serve(
    run_dir: Path,
    host: str,
    port: int,
    *,
    jobs: bool = True,
    model: str | None = None,
    weights: Path | None = None,
) -> None:
    import socket

    import uvicorn

    from pathlens.server import create_app, is_loopback, new_token

    _check_port(host, port)
    token = None if is_loopback(host) else new_token()
    app = create_app(run_dir, token=token, jobs=jobs, model=model, weights=weights)
    shown = socket.gethostname() if host in ("0.0.0.0", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    out.print(
        f"[bold]pathlens[/] serving {escape(str(run_dir))} at [link={url}]{escape(url)}[/link]",
        highlight=False,
    )
    if token:
        out.print("[yellow]Anyone with this URL can use the app; share it with care.[/]")
    out.print("press Ctrl+C to stop")
    try:
        # a bounded graceful shutdown: an open progress stream must not hold Ctrl+C up
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3)
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl+C it handled; stopping is what the user asked for
    finally:
        _stop_jobs(app)
    out.print("stopped")


def _stop_jobs(app) -> None:
    """End the running job (it becomes "interrupted") before the interpreter exits: a
    worker thread still inside torch at exit aborts the process ("terminate called ...")."""
    runner = getattr(app.state, "runner", None)
    if runner is None or runner.stop():
        return
    err.print(
        "[yellow]warning:[/] the running job did not stop in time; it is marked interrupted.",
        highlight=False,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)  # skip the interpreter's teardown, which the busy thread would abort


@command
def report(
    run_dir: Path = typer.Argument(..., help="The run folder to report."),
    out_file: Path = typer.Option(
        Path("report.html"), "--out", "-o", help="The HTML file to write."
    ),
) -> None:
    """Write one self-contained HTML file with the run's views (no server, no network)."""
    from pathlens.server import write_report
    from pathlens.store import RunStore
    from pathlens.training import open_run

    _check_report_file(out_file)
    with RunStore(run_dir, create=False) as store:
        training = store.meta("training") is not None
    if training:  # a damaged training array fails the report (exit 2), naming the array
        with open_run(run_dir) as recorded:
            recorded.verify()
    with progress_bar() as bar:
        task = bar.add_task("report", total=None, status="collecting views")

        def moved(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, status=f"{done}/{total} views")

        facts = write_report(run_dir, out_file, progress=moved)
    out.print(
        f"wrote {escape(str(out_file))} ({facts['bytes'] / 1e6:.1f} MB, {facts['answers']} views); "
        "open it "
        "in a browser, no server needed",
        highlight=False,
    )


def _check_report_file(out_file: Path) -> None:
    """The report goes into a folder that exists: a typo must not create folders anywhere."""
    if out_file.is_dir():
        raise PathlensError(f"--out {out_file} is a folder: give the HTML file to write.")
    if not out_file.parent.is_dir():
        raise PathlensError(
            f"--out {out_file}: the folder {out_file.parent} does not exist. Create it first "
            "or give a file in an existing folder."
        )


@command
def mechanism(
    out_dir: Path = typer.Option(..., "--out", "-o", help="Run folder to write (created if new)."),
    model: str = typer.Option("demo:resnet", "--model", "-m", help=MODEL_HELP),
    weights: Path | None = typer.Option(None, help="State dict for the model (torch.save)."),
    input_shape: str | None = typer.Option(None, help="One input's shape, e.g. 1,28,28."),
    images: Path | None = typer.Option(
        None, help="Labelled images (.npz with images and labels); default: the demo data."
    ),
    split: str = typer.Option("test", help="Demo data split to analyse: test or train."),
    n: int = typer.Option(10000, help="Use the first N images (all if fewer)."),
    name: str = typer.Option("", help="A name for this analysis, e.g. 'checkpoint 3'."),
    k_max: int = typer.Option(8, help="Most clusters per site (chosen by silhouette)."),
    patches: int = typer.Option(8, help="Top-activating patches kept per channel."),
    batch_size: int = typer.Option(256, help="Images per forward pass."),
    contribution_images: int = typer.Option(
        256, help="Images (spread over the classes) to measure contributions on; 0 skips them."
    ),
    maximize: bool = typer.Option(
        False, "--maximize", help="Also an activation-maximisation image per cluster (slow)."
    ),
) -> None:
    """Explain how the model works as a whole: channel clusters per site with their learned
    features and class profiles, and bundled connections between clusters."""
    from pathlens.workflows import MechanismRequest
    from pathlens.workflows import mechanism as run_mechanism

    request = MechanismRequest(
        out=out_dir, model=model, weights=weights, input_shape=parse_shape(input_shape),
        images=images, split=split, n=n, name=name, k_max=k_max, patches=patches,
        batch_size=batch_size, contribution_images=contribution_images, maximize=maximize,
    )  # fmt: skip
    with progress_bar() as bar:
        done = run_mechanism(request, progress=workflow_bar(bar, "mechanism"))
    result = done.mechanism
    table = Table(
        title=f"mechanism of {escape(model)} over {done.n_images} images", title_justify="left"
    )
    for col in ("#", "site", "channels", "clusters", "silh.", "cluster sizes", "edges in",
                "bundles/pairs in"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("site", "cluster sizes") else "right")
    incoming: dict[str, list] = {}
    for edge in result.edges:
        incoming.setdefault(edge.target, []).append(edge)
    for i, site in enumerate(result.sites):
        c = site.clusters
        edges_in = incoming.get(site.name, [])
        bundles = sum(len(e.bundles) for e in edges_in)
        pairs = sum(e.weight.size for e in edges_in)
        score = c.silhouette.get(site.n_clusters)
        table.add_row(
            str(i), site.name, str(site.channels), str(site.n_clusters),
            "-" if score is None else f"{score:.2f}",
            " ".join(str(len(m)) for m in c.members), str(len(edges_in)),
            f"{bundles}/{pairs}" if edges_in else "-",
        )  # fmt: skip
    out.print(table)
    seconds = ", ".join(f"{k} {v:.1f} s" for k, v in result.timing.items())
    out.print(f"time: {seconds}", highlight=False)
    out.print(f"saved mechanism {done.mechanism_id} in {escape(str(out_dir))}", highlight=False)


def main() -> None:
    app(prog_name="pathlens")


if __name__ == "__main__":
    sys.exit(main())
