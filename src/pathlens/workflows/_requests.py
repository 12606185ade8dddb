"""Typed requests of the workflows: frozen dataclasses whose fields are checked when the
request is made, so a bad request fails before any model is loaded or image computed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pathlens.errors import PathlensError

DEFAULT_MODEL = "demo:resnet"
SPLITS = ("test", "train")
ABLATIONS = ("zero", "mean")
CASES = ("gan", "vae")
SETS = ("A", "B", "C")  # adversarial, normal source, normal target


class RequestError(PathlensError):
    """A request field has a value the workflow cannot use; `field` names it.

    The message starts with the field's name (``n must be at least 1, not 0.``) unless it
    reads better otherwise (``Unknown method 'magic': ...``), so a front end can show the
    field in its own words (the CLI: ``--n``).
    """

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _fail(field: str, problem: str) -> None:
    raise RequestError(field, f"{field} {problem}")


def _set(request, field: str, value) -> None:
    object.__setattr__(request, field, value)  # normalising a frozen dataclass's own field


def _count(request, field: str, least: int = 1) -> None:
    value = getattr(request, field)
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        bound = "0 or more" if least == 0 else f"at least {least}"
        _fail(field, f"must be {bound} (a whole number), not {value!r}.")


def _fraction(request, field: str, *, open_low: bool) -> None:
    value = getattr(request, field)
    low_ok = value > 0 if open_low else value >= 0
    if not isinstance(value, int | float) or isinstance(value, bool) or not (low_ok and value <= 1):
        bounds = "(0, 1]" if open_low else "[0, 1]"
        _fail(field, f"must be a number in {bounds}, not {value!r}.")


def _existing(request, field: str, what: str) -> None:
    value = getattr(request, field)
    if value is None:
        return
    path = Path(value)
    if not path.exists():
        _fail(field, f"names {path}, which does not exist: give {what}.")
    _set(request, field, path)


def _out(request, field: str = "out") -> None:
    value = getattr(request, field)
    if value is None:
        return
    if not isinstance(value, str | Path) or str(value).strip() == "":
        # Path("") is the current folder: a run would be written among the user's files
        _fail(field, f"must name a run folder, not {value!r}.")
    path = Path(value)
    if path.exists() and not path.is_dir():
        _fail(field, f"names {path}, which is a file, not a run folder: give a folder path.")
    _set(request, field, path)


def _model(request) -> None:
    if request.model is not None and not isinstance(request.model, str):
        _fail("model", f"must be a model spec such as 'demo:resnet', not {request.model!r}.")
    _existing(request, "weights", "the state dict file of the model (torch.save)")
    shape = request.input_shape
    if shape is not None:
        shape = tuple(shape)
        if not shape or not all(isinstance(d, int) and d > 0 for d in shape):
            _fail("input_shape", f"must be one example's size, e.g. (1, 28, 28), not {shape!r}.")
        _set(request, "input_shape", shape)


def _one_of(request, field: str, choices, what: str | None = None) -> None:
    value = getattr(request, field)
    if value not in choices:
        raise RequestError(
            field, f"Unknown {what or field} {value!r}: give one of {', '.join(choices)}."
        )


def _either(request, field: str, choices: tuple[str, str]) -> None:
    value = getattr(request, field)
    if value not in choices:
        _fail(field, f"must be {choices[0]!r} or {choices[1]!r}, not {value!r}.")


@dataclass(frozen=True)
class ExtractRequest:
    """Extract the datapath of the images in a file and save it in a run folder.

    >>> extract(ExtractRequest(images="sandals.npz", out="runs/sandals", method="gates"))
    """

    images: Path
    out: Path
    model: str = DEFAULT_MODEL
    weights: Path | None = None
    input_shape: tuple[int, ...] | None = None
    method: str = "gates"
    target: str | int | None = None
    control: str | Path = "auto"  # "auto" (demo data), "none", or a file of other classes
    n_control: int = 64
    ablation: str = "zero"
    agreement: float = 1.0
    specificity: float = 0.9
    name: str = ""

    def __post_init__(self):
        from pathlens.datapath import METHODS

        _out(self)  # first: where results go is wrong whatever the inputs are
        _existing(self, "images", "an .npz (images, optional labels) or a folder of images")
        if self.images is None:
            _fail("images", "is required: give an .npz or a folder of images.")
        _model(self)
        _one_of(self, "method", METHODS)
        if str(self.control) not in ("auto", "none"):
            _existing(self, "control", "a file of control images, 'auto' or 'none'")
        _count(self, "n_control")
        _either(self, "ablation", ABLATIONS)
        _fraction(self, "agreement", open_low=True)
        _fraction(self, "specificity", open_low=False)


@dataclass(frozen=True)
class ExplainRequest:
    """Explain why adversarial examples of `source` are taken for `target`; save the
    analysis in a run folder.

    model None: the model the run folder records (its data too, unless `images` is given).

    >>> explain(ExplainRequest(source="ankle-boot", target="sneaker", out="runs/demo"))
    """

    source: str | int
    target: str | int
    out: Path
    model: str | None = DEFAULT_MODEL
    weights: Path | None = None
    input_shape: tuple[int, ...] | None = None
    images: Path | None = None  # labelled .npz; default: the demo test set
    attack: str = "pgd"
    adversarial: Path | None = None  # adversarial images made elsewhere; replaces `attack`
    eps: float = 0.1
    n: int = 32
    name: str = ""
    patch_images: int = 2000
    n_maximize: int = 8

    def __post_init__(self):
        from pathlens.attacks import METHODS

        for field in ("source", "target"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
                _fail(field, f"must be a class index or name, not {value!r}.")
            if isinstance(value, int) and value < 0:
                _fail(field, f"must be a class index (0 or more) or name, not {value!r}.")
        if str(self.source).strip().lower() == str(self.target).strip().lower():
            raise RequestError(
                "target", "The source and target classes are the same: pick two classes."
            )
        _out(self)
        if self.out is None:
            _fail("out", "is required: give the run folder to write.")
        _model(self)
        _existing(self, "images", "a labelled .npz (arrays images and labels)")
        _one_of(self, "attack", METHODS)
        _existing(self, "adversarial", "an .npz or a folder of adversarial images")
        _fraction(self, "eps", open_low=True)
        _count(self, "n")
        _count(self, "patch_images")
        _count(self, "n_maximize", least=0)


@dataclass(frozen=True)
class MechanismRequest:
    """Analyse how the model works over a data set (clusters, features, bundles); save it.

    >>> mechanism(MechanismRequest(out="runs/demo", n=2000, name="test"))
    """

    out: Path
    model: str = DEFAULT_MODEL
    weights: Path | None = None
    input_shape: tuple[int, ...] | None = None
    images: Path | None = None  # labelled .npz; default: the demo data, `split`
    split: str = "test"
    n: int = 10000
    name: str = ""
    k_max: int = 8
    patches: int = 8
    batch_size: int = 256
    contribution_images: int = 256
    maximize: bool = False

    def __post_init__(self):
        _out(self)
        if self.out is None:
            _fail("out", "is required: give the run folder to write.")
        _model(self)
        _existing(self, "images", "a labelled .npz (arrays images and labels)")
        _either(self, "split", SPLITS)
        _count(self, "n")
        _count(self, "k_max", least=2)
        _count(self, "patches")
        _count(self, "batch_size")
        _count(self, "contribution_images", least=0)


@dataclass(frozen=True)
class SubsetRequest:
    """The datapath of some images of one set (A, B or C) of a stored adversarial analysis.

    >>> datapath_subset(SubsetRequest(run="runs/demo", analysis=1, set="A", images=(0, 3)))
    """

    run: Path
    analysis: int
    set: str
    images: tuple[int, ...]
    n_control: int = 64

    def __post_init__(self):
        _out(self, "run")
        if isinstance(self.analysis, bool) or not isinstance(self.analysis, int):
            _fail("analysis", f"must be an analysis id, not {self.analysis!r}.")
        _one_of(self, "set", SETS)
        images = tuple(self.images) if isinstance(self.images, list | tuple) else ()
        if not images or not all(isinstance(i, int) and not isinstance(i, bool) for i in images):
            _fail("images", "must be a non-empty list of image positions in the set.")
        if len(set(images)) != len(images) or min(images) < 0:
            _fail("images", "must be distinct positions (0 or more) in the set.")
        _set(self, "images", images)
        _count(self, "n_control")


@dataclass(frozen=True)
class TrainCaseRequest:
    """Train a case study (a DCGAN or a VAE on Fashion-MNIST, healthy or failing) with the
    tracker, then detect failures and trace the worst neuron's credit.

    steps, every, seed: None for the case study's defaults.

    >>> train_case(TrainCaseRequest(case="gan", fail=True, out="runs/gan-fail"))
    """

    case: str
    fail: bool = False
    out: Path | None = None  # default runs/train-CASE[-fail]
    steps: int | None = None
    every: int | None = None
    seed: int | None = None
    depth: int = 2
    top: int = 4

    def __post_init__(self):
        _one_of(self, "case", CASES, "case study")
        for field in ("steps", "every"):
            if getattr(self, field) is not None:
                _count(self, field)
        if self.seed is not None:
            _count(self, "seed", least=0)
        _count(self, "depth", least=0)
        _count(self, "top")
        if self.out is None:
            _set(self, "out", Path("runs") / f"train-{self.case}{'-fail' if self.fail else ''}")
        _out(self)
