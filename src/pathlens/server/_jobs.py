"""Background jobs of the web app: new adversarial analyses and datapaths of image subsets.

One worker thread runs jobs in order (each already uses every core through torch); each job
is a call of a workflow (`pathlens.workflows`). A job's record lives in the run's `jobs`
table; its progress events, turned from `ProgressEvent`s into the JSON the browser reads,
also stay in memory so that Server-Sent Events streams can follow it: those of unfinished
jobs and of the last `KEPT_FINISHED` finished ones (a datapath job's events carry every
site's gates at each step, megabytes per job; a finished job's last progress is in its
record).

`stop()` cancels: the running job's next progress event raises `_Interrupted`, which ends it
as "interrupted", and the worker thread is joined, so that the process never exits with a
thread still inside torch.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
import traceback
import warnings

from pathlens.attacks import SETS
from pathlens.errors import PathlensError, PathlensWarning
from pathlens.server._views import ATTACKS, RunView
from pathlens.workflows import ProgressEvent

_MIN_GATE_INTERVAL = 0.1  # seconds between two progress events carrying gates
KEPT_FINISHED = 4  # finished jobs whose progress events stay in memory
STOP_TIMEOUT = 10.0  # seconds stop() waits for the running job to reach its next event
INTERRUPTED = "The server stopped before this job finished; launch it again."


class _Interrupted(BaseException):
    """Raised inside a job's progress callback once the runner stops. A BaseException, so
    that no `except Exception` of the computation it unwinds can swallow it."""


class JobRunner:
    def __init__(self, view: RunView):
        self.view = view
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._events: dict[int, list[dict]] = {}
        self._finished: collections.deque[int] = collections.deque()
        self._changed = threading.Condition()
        self._cancel = threading.Event()
        view.store().interrupt_unfinished_jobs()
        self._thread = threading.Thread(target=self._work, name="pathlens-jobs", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ requests
    def submit(self, request: dict) -> dict:
        """Check a job request and queue it; the job's record (status "queued")."""
        if self._cancel.is_set():
            raise PathlensError("The server is stopping: no new jobs are taken.")
        problem = self.view.model_problem()
        if problem is not None:
            raise PathlensError(f"New jobs cannot run here: {problem}")
        kind = request.get("kind")
        if kind == "adversarial":
            params = self._adversarial_params(request)
        elif kind == "datapath":
            params = self._datapath_params(request)
        else:
            raise PathlensError(f"Unknown job kind {kind!r}: give 'adversarial' or 'datapath'.")
        job_id = self.view.store().add_job(kind, params)
        with self._changed:
            self._events[job_id] = []
        self._queue.put(job_id)
        return self.view.store().job(job_id)

    def _adversarial_params(self, r: dict) -> dict:
        classes = self.view.classes()
        n_classes = len(classes) if classes else None
        params = {}
        for key in ("source", "target"):
            value = r.get(key)
            if not isinstance(value, int) or isinstance(value, bool):
                raise PathlensError(f"'{key}' must be a class index (an integer), not {value!r}.")
            if n_classes is not None and not 0 <= value < n_classes:
                raise PathlensError(f"'{key}' {value} is not a class: give 0..{n_classes - 1}.")
            params[key] = value
        if params["source"] == params["target"]:
            raise PathlensError("The source and target classes are the same: pick two classes.")
        attack = r.get("attack", "pgd")
        if attack not in ATTACKS:
            raise PathlensError(f"Unknown attack {attack!r}: give one of {', '.join(ATTACKS)}.")
        eps = r.get("eps", 0.1)
        if not isinstance(eps, int | float) or isinstance(eps, bool) or not 0 < eps <= 1:
            raise PathlensError(f"'eps' must be a number in (0, 1], not {eps!r}.")
        n = r.get("n", 32)
        if not isinstance(n, int) or isinstance(n, bool) or not 4 <= n <= 256:
            raise PathlensError(f"'n' (images per set) must be an integer in 4..256, not {n!r}.")
        return {**params, "attack": attack, "eps": float(eps), "n": n}

    def _datapath_params(self, r: dict) -> dict:
        analysis_id, key, images = r.get("analysis"), r.get("set"), r.get("images")
        if not isinstance(analysis_id, int) or isinstance(analysis_id, bool):
            raise PathlensError(f"'analysis' must be an analysis id, not {analysis_id!r}.")
        analysis = self.view.analysis(analysis_id)  # NotFoundError for an unknown id
        if key not in SETS:
            raise PathlensError(f"'set' must be one of A, B, C, not {key!r}.")
        size = analysis["sets"][key]["size"]
        if (
            not isinstance(images, list)
            or not images
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in images)
        ):
            raise PathlensError("'images' must be a non-empty list of image positions in the set.")
        if len(set(images)) != len(images) or not all(0 <= i < size for i in images):
            raise PathlensError(
                f"'images' must be distinct positions in set {key}, which has {size} images "
                f"(0..{size - 1})."
            )
        return {"analysis": analysis_id, "set": key, "images": images}

    # ------------------------------------------------------------------ following
    def events_since(self, job_id: int, cursor: int, timeout: float) -> tuple[list[dict], bool]:
        """New progress events of a job after `cursor`, waiting up to `timeout` for one; and
        whether the job has ended."""
        with self._changed:
            events = self._events.get(job_id)
            if events is not None and len(events) <= cursor:
                self._changed.wait(timeout)
            events = self._events.get(job_id, [])
            new = events[cursor:]
        ended = self.view.store().job(job_id)["status"] not in ("queued", "running")
        return new, ended

    def _emit(self, job_id: int, event: dict) -> None:
        with self._changed:
            self._events.setdefault(job_id, []).append(event)
            self._changed.notify_all()

    # ------------------------------------------------------------------ work
    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None or self._cancel.is_set():
                return
            self._run(job_id)

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Cancel the running job at its next progress event, drop the queued ones (all end
        "interrupted") and wait up to `timeout` seconds for the worker thread; whether it
        ended."""
        self._cancel.set()
        self._queue.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self.view.store().interrupt_unfinished_jobs()
        with self._changed:
            self._changed.notify_all()
        return not self._thread.is_alive()

    def _run(self, job_id: int) -> None:
        store = self.view.store()
        job = store.job(job_id)
        if self._cancel.is_set():
            return
        store.update_job(job_id, status="running")
        self._emit(job_id, {"fraction": 0.0, "message": "starting", "stage": "start"})
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PathlensWarning)
                if job["kind"] == "adversarial":
                    result = self._run_adversarial(job_id, job["params"])
                else:
                    result = self._run_datapath(job_id, job["params"])
        except _Interrupted:
            store.update_job(job_id, status="interrupted", error=INTERRUPTED)
        except PathlensError as exc:
            store.update_job(job_id, status="failed", error=str(exc))
        except Exception as exc:  # a bug: keep the server alive, say so, keep the traceback
            store.update_job(
                job_id,
                status="failed",
                error=f"internal error ({type(exc).__name__}: {exc}); this is a bug in pathlens.",
            )
            traceback.print_exc()
        else:
            store.update_job(job_id, status="done", result=result)
        with self._changed:
            self._finished.append(job_id)
            while len(self._finished) > KEPT_FINISHED:
                self._events.pop(self._finished.popleft(), None)
            self._changed.notify_all()

    def _progress(self, job_id: int):
        """A `ProgressEvent` receiver -> the job's progress events (what the browser reads:
        fraction, stage, message, and set, step, max_steps, kept_fraction, sufficiency and
        gates while gates optimise), gate steps at most every `_MIN_GATE_INTERVAL`."""
        last_gates = [0.0]

        def on_event(event: ProgressEvent) -> None:
            if self._cancel.is_set():
                raise _Interrupted
            d = event.detail
            out = {"fraction": round(event.fraction, 4), "stage": event.stage,
                   "message": event.message}  # fmt: skip
            if "set" in d:
                out["set"] = d["set"]
            if "gates" in d:
                now = time.monotonic()
                if now - last_gates[0] < _MIN_GATE_INTERVAL:
                    return
                last_gates[0] = now
                out.update(step=d["step"], max_steps=d["max_steps"],
                           kept_fraction=round(d["kept_fraction"], 4),
                           sufficiency=round(d["sufficiency"], 4))  # fmt: skip
                out["message"] += f": step {d['step']}, kept {d['kept_fraction']:.0%}"
                out["gates"] = {
                    site: [round(float(v), 3) for v in g] for site, g in d["gates"].items()
                }
            self._emit(job_id, out)
            self.view.store().update_job(
                job_id, progress={k: v for k, v in out.items() if k != "gates"}
            )

        return on_event

    def _run_adversarial(self, job_id: int, p: dict) -> dict:
        from pathlens.workflows import ExplainRequest, explain

        request = ExplainRequest(
            source=p["source"], target=p["target"], out=self.view.path, model=None,
            attack=p["attack"], eps=p["eps"], n=p["n"],
        )  # fmt: skip
        result = explain(request, progress=self._progress(job_id), loaded=self.view.model())
        return {"analysis": result.analysis_id}

    def _run_datapath(self, job_id: int, p: dict) -> dict:
        from pathlens.workflows import SubsetRequest, datapath_subset

        request = SubsetRequest(
            run=self.view.path, analysis=p["analysis"], set=p["set"], images=p["images"]
        )
        result = datapath_subset(request, progress=self._progress(job_id), loaded=self.view.model())
        return {"datapath": result.datapath_id}
