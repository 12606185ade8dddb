"""The on-disk layout of a training run, shared by the writer (`Tracker`) and the reader
(`TrainingRun`).

A training run folder holds, besides ``run.sqlite`` (see `pathlens.store.RunStore`):

- in SQLite: meta ``kind`` = ``"training"``, meta ``training`` (the models, their structure
  from `Network.describe()`, the sites, the statistics, the array paths), meta
  ``training_status``; the per-step scalars (tables ``scalar_names`` and ``scalars``); one row
  per completed snapshot (table ``snapshots``). The tables are created by the store's
  migrations; the functions below are the only code that reads or writes them;
- ``arrays.zarr/training/<site>/<stat>``: one Zarr (v3) array per site and statistic, float32,
  shaped [snapshots, neurons], chunked along the snapshot axis and grown a chunk at a time;
- ``arrays.zarr/training/<site>/edge_weight``: for a site fed by another site (its *input
  site*, see `pathlens.Tracker`), the feeding layer's kernel-summed weight matrix
  [C_out, C_in] per snapshot, flattened row-major: [snapshots, C_out * C_in];
- ``arrays.zarr/training/~models/<model>/output_diversity``: [snapshots, 1], the sample
  diversity of the model's output on the probe.

A snapshot is written to Zarr first (zarr >= 3.1.3 replaces every chunk file atomically:
temporary file, then rename; a kill may leave a ``*.partial`` file behind) and only then
committed to SQLite. Readers take the number of snapshots from SQLite and slice the arrays to
it, so a writer killed at any moment leaves a run that holds every snapshot committed before the
kill, and a reader never sees a half-written one.
"""

from __future__ import annotations

import os
import socket

from pathlens.store import RunStore

FORMAT = 1
"""Version of the ``training`` meta record."""
META = "training"
STATUS_META = "training_status"
ARRAYS_DIR = "arrays.zarr"
ARRAY_GROUP = "training"
PROBE_ARRAY = "training/probe/{model}"
"""Name (in the store's arrays) of a model's probe batch."""
STATS = ("act_mean", "act_std", "grad_norm", "weight_norm", "update_norm")
"""Per-neuron statistics of a snapshot, in the order they are listed in a run:

- ``act_mean``, ``act_std``: mean and standard deviation (population, ``correction=0``) of the
  site's output channel over the probe batch and all positions;
- ``grad_norm``: L2 norm of the gradient (``.grad``) of the parameters that make the channel —
  the output-channel slice of the weight of the convolution or linear layer feeding the site,
  and its bias element — as left by the last backward before ``tracker.step()``;
- ``weight_norm``: L2 norm of those parameters;
- ``update_norm``: L2 norm of their change since the previous snapshot (since the tracker was
  created, for the first one).

The three parameter statistics are NaN for a site with no such layer (a residual sum), and
``grad_norm`` is NaN while the weight has no gradient.
"""
PARAMETER_STATS = ("grad_norm", "weight_norm", "update_norm")
EDGE_WEIGHT = "edge_weight"
OUTPUT_DIVERSITY = "output_diversity"


def array_path(site: str, stat: str) -> str:
    """Path of a (site, stat) array inside arrays.zarr. Zarr reserves names starting with
    '__' and the names '.' and '..'; such parts get a leading '~'."""
    parts = [p if not (p.startswith("__") or p in (".", "..", "")) else "~" + p
             for p in site.split("/")]  # fmt: skip
    return "/".join([ARRAY_GROUP, *parts, stat])


def model_array_path(model: str, stat: str) -> str:
    """Path of a per-model array (one value per snapshot) inside arrays.zarr."""
    return array_path(f"~models/{model}", stat)


HOST = socket.gethostname()
"""Recorded with a writer's pid: a pid means something only on the machine that wrote it."""


def writer_gone(status: dict | None) -> bool:
    """Whether the status says "running" but its writer, a process of this machine, has
    ended (killed before it could close the run). False when it cannot tell: a writer of
    another machine, or a run written before the host was recorded."""
    if not status or status.get("status") != "running" or status.get("host") != HOST:
        return False
    pid = status.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, as another user's process
        return False
    return False


# ------------------------------------------------------------------ SQLite records
def add_records(
    run: RunStore,
    scalars: list[tuple[str, int, float, float]],
    snapshot: tuple[int, int, float] | None = None,
) -> None:
    """Store scalar rows (name, step, value, time) and, optionally, the row (index, step,
    time) of a completed snapshot, all in one transaction. NaN values are stored as NULL
    and read back as NaN."""
    with run.transaction() as db:
        if scalars:
            names = sorted({row[0] for row in scalars})
            db.executemany(
                "INSERT OR IGNORE INTO scalar_names (name) VALUES (?)", [(n,) for n in names]
            )
            ids = dict(
                db.execute(
                    f"SELECT name, id FROM scalar_names WHERE name IN "
                    f"({', '.join('?' * len(names))})",
                    names,
                ).fetchall()
            )
            db.executemany(
                "INSERT OR REPLACE INTO scalars (name_id, step, value, time) VALUES (?, ?, ?, ?)",
                [(ids[name], step, value, t) for name, step, value, t in scalars],
            )
        if snapshot is not None:
            db.execute("INSERT INTO snapshots (idx, step, time) VALUES (?, ?, ?)", snapshot)


def clear_records(run: RunStore) -> None:
    """Remove the scalars and snapshot rows of a run (one taken over: it has no snapshot)."""
    with run.transaction() as db:
        db.execute("DELETE FROM scalars")
        db.execute("DELETE FROM scalar_names")
        db.execute("DELETE FROM snapshots")


def scalar_names(run: RunStore) -> list[str]:
    """Names of the recorded training scalars, sorted."""
    return [r[0] for r in run.query("SELECT name FROM scalar_names ORDER BY name")]


def scalar_rows(run: RunStore, name: str) -> list[tuple[int, float | None, float]]:
    """(step, value, time) of one training scalar in step order; value None for NaN."""
    return run.query(
        "SELECT s.step, s.value, s.time FROM scalars s JOIN scalar_names n "
        "ON s.name_id = n.id WHERE n.name = ? ORDER BY s.step",
        (name,),
    )


def snapshot_rows(run: RunStore) -> list[tuple[int, int, float]]:
    """(index, step, time) of every completed training snapshot, in order."""
    return run.query("SELECT idx, step, time FROM snapshots ORDER BY idx")


def last_scalar_step(run: RunStore) -> int | None:
    """The largest step of any training scalar (an index lookup per scalar name)."""
    row = run.query_one(
        "SELECT MAX((SELECT MAX(step) FROM scalars WHERE name_id = n.id)) FROM scalar_names n"
    )
    return None if row is None or row[0] is None else int(row[0])


def snapshot_count(run: RunStore) -> int:
    """Number of completed training snapshots."""
    return int(run.query_one("SELECT count(*) FROM snapshots")[0])
