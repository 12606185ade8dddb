from __future__ import annotations

import functools
import os
import sys
import traceback
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

import pathlens
from pathlens.errors import PathlensError

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
out = Console()
err = Console(stderr=True)

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
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
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
                f"[bold red]internal error:[/] {type(exc).__name__}: {exc}\n"
                f"This is a bug in pathlens, not in your input. The traceback is in {log}; "
                "please report it (set PATHLENS_DEBUG=1 to see it here).",
                highlight=False,
            )
            raise typer.Exit(1) from None

    return app.command()(wrapper)


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
    out.print(_sites_table(net, f"{model}: {len(net.sites)} sites"))
    out.print(f"graph from {net.graph_source}; {len(net.edges)} edges between sites")
    for a, b in net.edges:
        out.print(f"  {a} -> {b}", highlight=False)


@command
def demo(
    serve: bool = typer.Option(
        True, "--serve/--no-serve", help="Serve the results in the browser when done."
    ),
) -> None:
    """Run the embedded demo: train (first time) or load the demo models and show their sites."""
    from pathlens import demo as demo_models

    for name in demo_models.MODELS:
        loaded = pathlens.load_model(f"demo:{name}")
        facts = demo_models.info(name)
        net = pathlens.Network(loaded.model, loaded.example_input)
        out.print(
            f"[bold]demo:{name}[/] test accuracy {facts['test_accuracy']:.4f} "
            f"(trained in {facts['train_seconds']} s; weights in {demo_models.weights_path(name)})"
        )
        out.print(_sites_table(net, f"demo:{name}: {len(net.sites)} sites"))
    if serve:
        out.print(
            "The web app is not built yet; the analysis views arrive with the datapath and "
            "adversarial commands."
        )


def main() -> None:
    app(prog_name="pathlens")


if __name__ == "__main__":
    sys.exit(main())
