"""One function per user-level job, the only thing the front ends call.

Each takes a typed request (a frozen dataclass, checked when made, so a bad request fails
before any computation), loads what it names, runs the library, writes the result to a run
folder in one transaction, and reports `ProgressEvent`s to an optional ``progress``
callable. The stages, their order and their share of the bar are declared once
(`EXPLAIN_STAGES`, ...).

>>> from pathlens.workflows import ExplainRequest, explain
>>> result = explain(
...     ExplainRequest(source="ankle-boot", target="sneaker", out="runs/demo", n=16),
...     progress=lambda e: print(f"{e.fraction:.0%} {e.message}"),
... )
>>> result.analysis_id
1
"""

from pathlens.workflows._datapath import ExtractResult, SubsetResult, datapath_subset, extract
from pathlens.workflows._explain import ExplainResult, explain
from pathlens.workflows._mechanism import MechanismResult, mechanism
from pathlens.workflows._progress import (
    EXPLAIN_STAGES,
    EXTRACT_STAGES,
    MECHANISM_STAGES,
    SUBSET_STAGES,
    TRAIN_STAGES,
    Progress,
    ProgressEvent,
    Stage,
)
from pathlens.workflows._requests import (
    ExplainRequest,
    ExtractRequest,
    MechanismRequest,
    RequestError,
    SubsetRequest,
    TrainCaseRequest,
)
from pathlens.workflows._run_model import (
    RunModel,
    check_run_model,
    load_run_model,
    remember_model,
    run_model_problem,
)
from pathlens.workflows._train import TrainCaseResult, case_defaults, train_case

__all__ = [
    "EXPLAIN_STAGES",
    "EXTRACT_STAGES",
    "MECHANISM_STAGES",
    "SUBSET_STAGES",
    "TRAIN_STAGES",
    "ExplainRequest",
    "ExplainResult",
    "ExtractRequest",
    "ExtractResult",
    "MechanismRequest",
    "MechanismResult",
    "Progress",
    "ProgressEvent",
    "RequestError",
    "RunModel",
    "Stage",
    "SubsetRequest",
    "SubsetResult",
    "TrainCaseRequest",
    "TrainCaseResult",
    "case_defaults",
    "check_run_model",
    "datapath_subset",
    "explain",
    "extract",
    "load_run_model",
    "mechanism",
    "remember_model",
    "run_model_problem",
    "train_case",
]
