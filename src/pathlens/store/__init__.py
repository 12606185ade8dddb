"""Run folders: the unit a user creates, serves and shares (SQLite in WAL mode).

The store is a small generic core: one `RunStore.transaction()`, rows, image sets, arrays,
meta, jobs and schema migrations. It imports no algorithm; each kind of record has a codec
in its own package (`pathlens.datapath.save_datapath`, `pathlens.attacks.save_analysis`,
`pathlens.mechanism.save_mechanism`).

>>> from pathlens.store import RunStore
>>> with RunStore("runs/demo") as run:
...     run.analyses()
"""

from pathlens.store._run import DB_NAME, SCHEMA_VERSION, RunStore

__all__ = ["DB_NAME", "SCHEMA_VERSION", "RunStore"]
