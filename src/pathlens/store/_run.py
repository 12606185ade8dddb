from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from pathlens.errors import NotFoundError, PathlensError

DB_NAME = "run.sqlite"

# Each migration takes the database from version i to i + 1. Append; never edit one that
# has shipped.
_MIGRATIONS = [
    """
    CREATE TABLE image_sets (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        n INTEGER NOT NULL,
        shape TEXT NOT NULL,
        images BLOB NOT NULL,
        labels TEXT,
        meta TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE datapaths (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        method TEXT NOT NULL,
        n_images INTEGER NOT NULL,
        kept_fraction REAL NOT NULL,
        image_set INTEGER REFERENCES image_sets(id),
        body TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE analyses (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE arrays (
        name TEXT PRIMARY KEY,
        created REAL NOT NULL,
        data BLOB NOT NULL
    );
    """,
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        created REAL NOT NULL,
        params TEXT NOT NULL,
        progress TEXT,
        result TEXT,
        error TEXT
    );
    """,
    # Training records (pathlens.Tracker): per-step scalars and the list of completed
    # snapshots. Per-neuron snapshot data lives in arrays.zarr; a snapshot exists for readers
    # once its row is here (the Zarr data is written first).
    """
    CREATE TABLE scalar_names (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    CREATE TABLE scalars (
        name_id INTEGER NOT NULL REFERENCES scalar_names(id),
        step INTEGER NOT NULL,
        value REAL,
        time REAL NOT NULL,
        PRIMARY KEY (name_id, step)
    ) WITHOUT ROWID;
    CREATE TABLE snapshots (
        idx INTEGER PRIMARY KEY,
        step INTEGER NOT NULL,
        time REAL NOT NULL
    );
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)


class RunStore:
    """A run folder: ``run.sqlite`` (WAL mode) holding image sets, arrays, analyses, meta,
    jobs and training records.

    Every write is one transaction, so a process killed mid-write leaves the run as it was
    before that write; writes inside `transaction()` are stored together or not at all.
    Readers may open the run while a writer is working. The store knows no algorithm: each
    kind of record (datapath, adversarial analysis, mechanism) is encoded by a codec of its
    own package, e.g. `pathlens.datapath.save_datapath(run, datapath)`.

    >>> with RunStore("runs/sneakers") as run, run.transaction():
    ...     set_id = run.save_image_set("sneakers", images, labels)
    ...     run.set_meta("note", {"set": set_id})
    """

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        db = self.path / DB_NAME
        if self.path.exists() and not self.path.is_dir():
            raise PathlensError(f"{self.path} is a file, not a run folder: give a folder path.")
        if not db.exists():
            if not create:
                raise PathlensError(
                    f"{self.path} is not a pathlens run folder (no {DB_NAME} in it). Create "
                    "one with `pathlens extract ... --out FOLDER`."
                )
            self.path.mkdir(parents=True, exist_ok=True)
        elif not create and db.stat().st_size == 0:
            # SQLite would take an empty file for an empty database (and write into it): a
            # process killed as it created the run leaves one, and it holds nothing to show
            raise PathlensError(
                f"{db} is empty (0 bytes): the process creating this run ended before writing "
                "anything. Delete the folder, or record into it again."
            )
        # Autocommit mode: every transaction is explicit, through `transaction()`.
        self._depth = 0
        self._owner: int | None = None
        try:
            self._db = sqlite3.connect(db, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise PathlensError(
                f"{db} cannot be read as a pathlens run database ({exc}). It may be damaged "
                "or another kind of file; use a new run folder."
            ) from exc

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One SQLite transaction: every write inside it is stored, or none is.

        Nested calls join the outermost transaction, so a codec can compose smaller writes
        (an image set, a datapath, arrays) into one all-or-nothing save. The write lock is
        taken at the start (``BEGIN IMMEDIATE``), so two writers never deadlock half-way.

        >>> with run.transaction() as db:
        ...     db.execute("INSERT INTO meta VALUES (?, ?)", ("k", "1"))
        """
        if self._depth:
            if self._owner != threading.get_ident():
                raise RuntimeError("a RunStore transaction is open in another thread")
            self._depth += 1
            try:
                yield self._db
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth, self._owner = 1, threading.get_ident()
        try:
            yield self._db
        except BaseException:
            self._depth, self._owner = 0, None
            self._db.execute("ROLLBACK")
            raise
        self._depth, self._owner = 0, None
        self._db.execute("COMMIT")

    def query(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        """Rows of a read-only SQL statement."""
        return self._db.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple | list = ()) -> tuple | None:
        """The first row of a read-only SQL statement, or None."""
        return self._db.execute(sql, params).fetchone()

    def _migrate(self) -> None:
        version = self._version()
        if version is not None and version > SCHEMA_VERSION:
            raise PathlensError(
                f"{self.path} was written by a newer pathlens (schema {version}; this one reads "
                f"up to {SCHEMA_VERSION}). Upgrade pathlens to open it."
            )
        if version == SCHEMA_VERSION:
            return  # the common case takes no lock, so readers never wait for a writer
        with self.transaction():  # all steps or none; re-read under the write lock
            self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
            version = self._version()
            if version is None:
                self._db.execute("INSERT INTO schema_version VALUES (0)")
                version = 0
            for target in range(version, SCHEMA_VERSION):
                for statement in _statements(_MIGRATIONS[target]):
                    self._db.execute(statement)
            self._db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    def _version(self) -> int | None:
        """The schema version of the database, or None for a new one."""
        exists = self.query_one(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        )
        row = self.query_one("SELECT version FROM schema_version") if exists else None
        return None if row is None else int(row[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- image sets
    def save_image_set(
        self,
        name: str,
        images: torch.Tensor,
        labels: torch.Tensor | list[int] | None = None,
        meta: dict | None = None,
    ) -> int:
        """Store images [N, ...] (float32) with optional labels; returns the set's id."""
        buffer = io.BytesIO()
        np.save(buffer, images.detach().cpu().float().numpy(), allow_pickle=False)
        label_list = None if labels is None else [int(v) for v in labels]
        with self.transaction():
            cursor = self._db.execute(
                "INSERT INTO image_sets (name, created, n, shape, images, labels, meta) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    time.time(),
                    len(images),
                    json.dumps(list(images.shape[1:])),
                    buffer.getvalue(),
                    None if label_list is None else json.dumps(label_list),
                    json.dumps(meta or {}),
                ),
            )
        return int(cursor.lastrowid)

    def load_image_set(self, set_id: int) -> tuple[torch.Tensor, list[int] | None, dict]:
        row = self._db.execute(
            "SELECT images, labels, meta FROM image_sets WHERE id = ?", (set_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"There is no image set {set_id} in {self.path}.")
        images = torch.from_numpy(np.load(io.BytesIO(row[0]), allow_pickle=False))
        return images, (json.loads(row[1]) if row[1] else None), json.loads(row[2])

    def image_sets(self) -> list[dict]:
        rows = self._db.execute("SELECT id, name, created, n, shape FROM image_sets ORDER BY id")
        return [
            {"id": r[0], "name": r[1], "created": r[2], "n": r[3], "shape": json.loads(r[4])}
            for r in rows
        ]

    # ---------------------------------------------------------------- arrays
    def save_arrays(self, arrays: dict[str, torch.Tensor]) -> None:
        """Store named tensors (as .npy without pickling), all in one transaction."""
        rows = []
        for name, tensor in arrays.items():
            buffer = io.BytesIO()
            np.save(buffer, tensor.detach().cpu().numpy(), allow_pickle=False)
            rows.append((name, time.time(), buffer.getvalue()))
        with self.transaction():
            self._db.executemany("INSERT OR REPLACE INTO arrays VALUES (?, ?, ?)", rows)

    def load_array(self, name: str) -> torch.Tensor:
        row = self._db.execute("SELECT data FROM arrays WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"There is no array {name!r} in {self.path}.")
        return torch.from_numpy(np.load(io.BytesIO(row[0]), allow_pickle=False))

    def load_arrays(self, prefix: str) -> dict[str, torch.Tensor]:
        """Every array whose name starts with `prefix`, keyed by the rest of its name."""
        return {name[len(prefix) :]: self.load_array(name) for name in self.array_names(prefix)}

    def array_names(self, prefix: str = "") -> list[str]:
        rows = self._db.execute(
            "SELECT name FROM arrays WHERE substr(name, 1, ?) = ? ORDER BY name",
            (len(prefix), prefix),
        )
        return [r[0] for r in rows]

    # ---------------------------------------------------------------- meta
    def set_meta(self, key: str, value) -> None:
        """Store a JSON-serialisable fact about the run (its model, its network, its data)."""
        with self.transaction():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta(self, key: str, default=None):
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    # ---------------------------------------------------------------- jobs
    _JOB_KEYS = ("id", "kind", "status", "created", "params", "progress", "result", "error")

    def add_job(self, kind: str, params: dict) -> int:
        with self.transaction():
            cursor = self._db.execute(
                "INSERT INTO jobs (kind, status, created, params) VALUES (?, 'queued', ?, ?)",
                (kind, time.time(), json.dumps(params)),
            )
        return int(cursor.lastrowid)

    def update_job(self, job_id: int, **fields) -> None:
        """Set status (str), progress, result (JSON-serialisable) or error (str) of a job."""
        names = [k for k in fields if k in ("status", "progress", "result", "error")]
        values = [
            json.dumps(fields[k]) if k in ("progress", "result") else fields[k] for k in names
        ]
        with self.transaction():
            self._db.execute(
                f"UPDATE jobs SET {', '.join(f'{k} = ?' for k in names)} WHERE id = ?",
                (*values, job_id),
            )

    def job(self, job_id: int) -> dict:
        row = self._db.execute(
            f"SELECT {', '.join(self._JOB_KEYS)} FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"There is no job {job_id} in {self.path}.")
        return self._job_dict(row)

    def jobs(self) -> list[dict]:
        rows = self._db.execute(f"SELECT {', '.join(self._JOB_KEYS)} FROM jobs ORDER BY id")
        return [self._job_dict(r) for r in rows]

    def _job_dict(self, row) -> dict:
        job = dict(zip(self._JOB_KEYS, row, strict=True))
        for key in ("params", "progress", "result"):
            job[key] = None if job[key] is None else json.loads(job[key])
        return job

    def interrupt_unfinished_jobs(self) -> None:
        """Mark jobs left queued or running by a process that ended as interrupted."""
        with self.transaction():
            self._db.execute(
                "UPDATE jobs SET status = 'interrupted', error = ? "
                "WHERE status IN ('queued', 'running')",
                ("The server stopped before this job finished; launch it again.",),
            )

    # ---------------------------------------------------------------- analyses
    # One row per analysis of any kind; its body is the JSON its domain's codec writes
    # (pathlens.attacks, pathlens.mechanism). The store only lists and fetches rows.
    def add_analysis(self, kind: str, name: str, body: dict) -> int:
        """Insert an analysis row (kind, name, JSON body); its id."""
        with self.transaction():
            cursor = self._db.execute(
                "INSERT INTO analyses (name, created, kind, body) VALUES (?, ?, ?, ?)",
                (name, time.time(), kind, json.dumps(body)),
            )
        return int(cursor.lastrowid)

    def analysis_body(self, analysis_id: int, kind: str | None = None) -> dict:
        """The JSON body of an analysis row (of `kind`, when given)."""
        row = self.query_one("SELECT body, kind FROM analyses WHERE id = ?", (analysis_id,))
        if row is None:
            raise NotFoundError(f"There is no analysis {analysis_id} in {self.path}.")
        if kind is not None and row[1] != kind:
            raise NotFoundError(f"Analysis {analysis_id} is a {row[1]} analysis, not {kind}.")
        return json.loads(row[0])

    def analyses(self) -> list[dict]:
        """Every analysis row: id, name, created, kind, and the source and target classes of
        the analyses that have them (None otherwise), oldest first."""
        rows = self._db.execute(
            "SELECT id, name, created, kind, json_extract(body, '$.source'), "
            "json_extract(body, '$.target') FROM analyses ORDER BY id"
        )
        keys = ("id", "name", "created", "kind", "source", "target")
        return [dict(zip(keys, r, strict=True)) for r in rows]


def _statements(script: str) -> list[str]:
    """The statements of a migration script (no string literal in them holds a ';')."""
    return [part.strip() for part in script.split(";") if part.strip()]
