"""Run folders: the unit a user creates, serves and shares (SQLite in WAL mode).

>>> from pathlens.store import RunStore
>>> with RunStore("runs/demo") as run:
...     run.datapaths()
"""

from pathlens.store._context import RunModel, load_run_model, remember_model
from pathlens.store._run import DB_NAME, SCHEMA_VERSION, RunStore

__all__ = ["DB_NAME", "SCHEMA_VERSION", "RunModel", "RunStore", "load_run_model", "remember_model"]
