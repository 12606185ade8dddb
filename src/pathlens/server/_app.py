"""The FastAPI app of `pathlens serve`: the JSON API over a run folder, job progress over
Server-Sent Events, and the built front end.

Safety: the CLI binds 127.0.0.1 unless told otherwise. On loopback, requests must name a
loopback host (so a web page elsewhere cannot reach the server through DNS rebinding); on any
other address every request must carry the token (the printed URL's ``?token=``, then a
cookie). Static files are served only from inside the package's build folder, and no request
names a file of the run folder. Errors answer JSON ``{"detail": ...}`` with a 4xx status;
a bug answers 500 with a one-line message, never a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from pathlens import __version__
from pathlens.errors import NotFoundError, PathlensError
from pathlens.server import _mechanism_models as mm
from pathlens.server import _models as m
from pathlens.server import _training_models as tm
from pathlens.server._jobs import JobRunner
from pathlens.server._schema import openapi_schema
from pathlens.server._security import (
    cross_site_refusal,
    host_refusal,
    token_matches,
)
from pathlens.server._training import TrainingView
from pathlens.server._views import RunView

STATIC = Path(__file__).parent / "static"
TOKEN_COOKIE = "pathlens_token"
MAX_PENDING_JOBS = 8  # each job already uses every core: a longer queue only waits
log = logging.getLogger("pathlens.server")

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>pathlens</title>
<p>The pathlens web app is not built in this installation. Run <code>make setup</code> (or
<code>npm ci && npm run build</code> in <code>web/</code>) and start the server again. The JSON
API answers under <a href="api/run">/api</a>.</p>"""


ERRORS = {code: {"model": m.ApiError} for code in (400, 401, 403, 404, 415, 422, 429, 500)}
STREAM = {200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}}


def create_app(
    run_dir: str | Path,
    *,
    token: str | None = None,
    jobs: bool = True,
    max_pending_jobs: int = MAX_PENDING_JOBS,
    model: str | None = None,
    weights: str | Path | None = None,
) -> FastAPI:
    """The app over `run_dir`. With `token`, every request must carry it; without, requests
    must come to a loopback host name. At most `max_pending_jobs` jobs wait or run at once.
    model, weights: the spec and weights file to build the run's model with when it is not a
    built-in demo; they must match what the run records. Without them such a run is shown
    but runs no job: the server never imports code named in a run folder."""
    view = RunView(run_dir, jobs=jobs, model=model, weights=weights)
    runner = JobRunner(view) if jobs else None
    training_views: list[TrainingView] = []

    def training() -> TrainingView:
        """The run's training records; they may appear after the server started."""
        if not training_views:
            if view.store().meta("training") is None:
                raise NotFoundError(
                    "This run holds no training records: record one with pathlens.Tracker."
                )
            training_views.append(TrainingView(run_dir))
        return training_views[0]

    app = FastAPI(
        title="pathlens",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        separate_input_output_schemas=False,  # one name per model for the generated types
    )
    app.openapi = functools.partial(openapi_schema, app)
    app.state.view = view
    app.state.runner = runner

    # ------------------------------------------------------------------ safety
    @app.middleware("http")
    async def guard(request: Request, call_next):
        if token is None:
            refusal = host_refusal(request.headers.get("host"))
            if refusal is not None:
                return _error(403, refusal)
        else:
            given = (
                request.query_params.get("token")
                or request.cookies.get(TOKEN_COOKIE)
                or request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            )
            if not token_matches(given, token):
                return _error(
                    401,
                    "This server needs its token: open the URL that `pathlens serve` printed "
                    "(it ends in ?token=...).",
                )
        refusal = cross_site_refusal(request.method, request.headers)
        if refusal is not None:
            return _error(*refusal)
        response = await call_next(request)
        if token is not None and request.query_params.get("token"):
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    # ------------------------------------------------------------------ errors
    @app.exception_handler(NotFoundError)
    async def not_found(_, exc: NotFoundError):
        return _error(404, str(exc))

    @app.exception_handler(PathlensError)
    async def user_error(_, exc: PathlensError):
        return _error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("loc", ("",))[0] == "body" for e in errors):
            return _error(422, m.request_problem(errors))
        parts = []
        for e in errors:
            where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("path", "query"))
            parts.append(f"{where}: {e.get('msg')}")
        return _error(422, "Bad request: " + "; ".join(parts))

    @app.exception_handler(HTTPException)
    async def http_error(_, exc: HTTPException):
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(OverflowError)
    async def too_large(_, exc: OverflowError):
        # an id beyond SQLite's 64-bit integers names nothing that can exist
        return _error(404, "There is nothing with that id here (ids are 64-bit integers).")

    @app.exception_handler(Exception)
    async def bug(_, exc: Exception):
        log.exception("internal error")
        return _error(500, f"Internal error ({type(exc).__name__}); this is a bug in pathlens.")

    # ------------------------------------------------------------------ API
    # Every answer is checked against its model; optional fields a view leaves out stay out.
    get = functools.partial(app.get, response_model_exclude_unset=True, responses=ERRORS)

    @get("/api/health", response_model=m.Health)
    def health() -> dict:
        return {"ok": True}

    @get("/api/run", response_model=m.RunInfo)
    def run_info() -> dict:
        return view.run_info()

    @get("/api/analyses/{analysis_id}", response_model=m.Analysis)
    def analysis(analysis_id: int) -> dict:
        return view.analysis(analysis_id)

    @get("/api/analyses/{analysis_id}/sites/{site}", response_model=m.LayerView)
    def layer(analysis_id: int, site: str) -> dict:
        return view.layer(analysis_id, site)

    @get("/api/analyses/{analysis_id}/neurons/{site}/{channel}", response_model=m.NeuronView)
    def neuron(analysis_id: int, site: str, channel: int) -> dict:
        return view.neuron(analysis_id, site, channel)

    @get("/api/image_sets/{set_id}", response_model=m.ImageSet)
    def image_set(set_id: int) -> dict:
        return view.image_set(set_id)

    @get("/api/mechanisms/{mechanism_id}", response_model=mm.Mechanism)
    def mechanism(mechanism_id: int) -> dict:
        return view.mechanism(mechanism_id)

    @get("/api/mechanisms/{mechanism_id}/patches", response_model=mm.MechanismPatches)
    def mechanism_patches(mechanism_id: int, site: str) -> dict:
        return view.mechanism_patches(mechanism_id, site)

    @get("/api/datapaths/{datapath_id}", response_model=m.Datapath)
    def datapath(datapath_id: int) -> dict:
        return view.datapath(datapath_id)

    @get("/api/jobs", response_model=list[m.Job])
    def jobs_list() -> list:
        return view.store().jobs()

    @app.post(
        "/api/jobs", status_code=202, response_model=m.Job, response_model_exclude_unset=True,
        responses=ERRORS,
    )  # fmt: skip
    def submit(request: Annotated[m.AnyJobRequest, Body(discriminator="kind")]) -> dict:
        if runner is None:
            raise PathlensError("This server is read-only: it runs no jobs.")
        pending = sum(j["status"] in ("queued", "running") for j in view.store().jobs())
        if pending >= max_pending_jobs:
            return _error(
                429,
                f"{pending} jobs are already waiting or running; wait for one to finish "
                "before starting another.",
            )
        return runner.submit(request.model_dump())

    @get("/api/jobs/{job_id}", response_model=m.Job)
    def job(job_id: int) -> dict:
        return view.store().job(job_id)

    @get("/api/jobs/{job_id}/events", response_class=StreamingResponse, responses=STREAM)
    def job_events(job_id: int) -> StreamingResponse:
        """Server-Sent Events: `progress` (a ProgressEvent) as the job goes, then one `done`
        or `failed` (the Job)."""
        view.store().job(job_id)  # 404 before the stream starts
        return StreamingResponse(
            _follow(view, runner, job_id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @get("/api/training", response_model=tm.TrainingInfo)
    def training_info() -> dict:
        return training().info()

    @get("/api/training/scalars", response_model=dict[str, tm.ScalarSeries])
    def training_scalars(name: list[str] = Query(default=[])) -> dict:
        return training().scalars(name)

    @get("/api/training/series", response_model=tm.NeuronSeries)
    def training_series(
        site: str, stat: str = "act_mean", n: int = 150, start: int | None = None,
        stop: int | None = None,
    ) -> dict:  # fmt: skip
        return training().series(site, stat, n, start, stop)

    @get("/api/training/anomalies", response_model=tm.TrainingAnomalies)
    def training_anomalies(start: int | None = None, stop: int | None = None) -> dict:
        return training().anomalies(start, stop)

    @get("/api/training/credit", response_model=tm.CreditGraph)
    def training_credit(
        site: str, neuron: int, start: int | None = None, stop: int | None = None,
        depth: int = 2,
    ) -> dict:  # fmt: skip
        return training().credit(site, neuron, start, stop, depth)

    @get("/api/training/events", response_class=StreamingResponse, responses=STREAM)
    def training_events() -> StreamingResponse:
        """Server-Sent Events: `update` (a TrainingProgress) whenever the run changes."""
        reader = training()
        return StreamingResponse(
            _watch(reader),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/api/{rest:path}", include_in_schema=False)
    def unknown_api(rest: str):
        raise NotFoundError(f"There is no API endpoint /api/{rest}.")

    # ------------------------------------------------------------------ front end
    @app.get("/", include_in_schema=False)
    def index():
        page = STATIC / "index.html"
        if not page.is_file():
            return HTMLResponse(NOT_BUILT)
        return FileResponse(page, headers={"Cache-Control": "no-cache"})

    @app.get("/assets/{name:path}", include_in_schema=False)
    def asset(name: str):
        root = (STATIC / "assets").resolve()
        if "\x00" in name:
            raise NotFoundError("There is no front-end file with that name.")
        path = (root / name).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise NotFoundError(f"There is no front-end file {name!r}.")
        return FileResponse(path)

    return app


async def _follow(view: RunView, runner: JobRunner | None, job_id: int):
    """SSE: `progress` events as they come, then one `done` or `failed` with the job record.
    Bursts of optimisation events are thinned to the latest, so a slow client never lags.
    A stream that breaks is logged and closed; the client reopens it or reads the job."""
    cursor = 0
    yield ": following job\n\n"
    try:
        while True:
            if runner is None:
                new, ended = [], True
            else:
                new, ended = await asyncio.to_thread(runner.events_since, job_id, cursor, 1.0)
            cursor += len(new)
            for event in _thin(new):
                yield f"event: progress\ndata: {json.dumps(event)}\n\n"
            if ended:
                record = await asyncio.to_thread(lambda: view.store().job(job_id))
                name = "done" if record["status"] == "done" else "failed"
                yield f"event: {name}\ndata: {json.dumps(record)}\n\n"
                return
            if not new:
                yield ": waiting\n\n"
    except Exception:
        log.exception("the event stream of job %s broke", job_id)


async def _watch(reader: TrainingView, interval: float = 0.5):
    """SSE for a training run: an `update` event (snapshot count, last step, status) whenever
    the run changes, checked every `interval` seconds; a comment line otherwise."""
    last = None
    try:
        while True:
            state = await asyncio.to_thread(reader.progress)
            if state != last:
                yield f"event: update\ndata: {json.dumps(state)}\n\n"
                last = state
            else:
                yield ": unchanged\n\n"
            await asyncio.sleep(interval)
    except Exception:
        log.exception("the training event stream broke")


def _thin(events: list[dict]) -> list[dict]:
    """Drop gate-carrying events that a later gate-carrying event of the same stage replaces."""
    kept = []
    for i, event in enumerate(events):
        later = events[i + 1] if i + 1 < len(events) else None
        if (
            later is not None
            and "gates" in event
            and "gates" in later
            and event.get("set") == later.get("set")
        ):
            continue
        kept.append(event)
    return kept


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def new_token() -> str:
    return secrets.token_urlsafe(24)


@contextmanager
def running(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` from a background thread for the duration of a `with`; yields its base URL
    (port 0 picks a free port). For notebooks, tests and benchmarks."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the server could not start on {host}:{port}")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        runner = getattr(app.state, "runner", None)
        if runner is not None:
            runner.stop()
