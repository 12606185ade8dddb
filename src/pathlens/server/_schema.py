"""The OpenAPI schema of the web app: what `/api/openapi.json` serves and what the front-end
build generates its TypeScript types from (`python -m pathlens.server.schema`)."""

from __future__ import annotations

import tempfile

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from pathlens.server import _models as m
from pathlens.server import _training_models as tm

# Models of what the event streams carry: in the schema although no JSON route answers them.
STREAMED = (m.ProgressEvent, tm.TrainingProgress)


def openapi_schema(app: FastAPI) -> dict:
    """The app's OpenAPI schema, with the models the event streams send among its components."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, routes=app.routes,
            separate_input_output_schemas=False,
        )  # fmt: skip
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in STREAMED:
            found = model.model_json_schema(
                mode="serialization", ref_template="#/components/schemas/{model}"
            )
            for name, part in found.pop("$defs", {}).items():
                components.setdefault(name, part)
            components.setdefault(model.__name__, found)
        app.openapi_schema = schema
    return app.openapi_schema


def api_schema() -> dict:
    """The OpenAPI schema of `pathlens serve`, made without a run folder of the user's."""
    from pathlens.server._app import create_app
    from pathlens.store import RunStore

    with tempfile.TemporaryDirectory(prefix="pathlens-schema-") as folder:
        RunStore(folder).close()  # the app needs a run to stand on; the schema does not read it
        return create_app(folder, jobs=False).openapi()
