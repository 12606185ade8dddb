"""Datapaths in a run folder: one row of the ``datapaths`` table each, the body as the
datapath's own JSON (with its schema version), linked to the image set it explains.

>>> from pathlens.datapath import load_datapath, save_datapath
>>> with RunStore("runs/sneakers") as run:
...     dp_id = save_datapath(run, datapath, name="sneakers", image_set=set_id)
...     again = load_datapath(run, dp_id)
"""

from __future__ import annotations

import time

from pathlens.datapath._datapath import Datapath
from pathlens.errors import NotFoundError
from pathlens.store import RunStore

_SUMMARY = ("id", "name", "created", "method", "n_images", "kept_fraction", "image_set")


def save_datapath(
    run: RunStore, datapath: Datapath, *, name: str = "", image_set: int | None = None
) -> int:
    """Store a datapath (linked to image set `image_set`, if given); returns its id.

    Inside an open `run.transaction()` it joins that transaction, so a caller can save a
    datapath with its image set all or nothing.
    """
    with run.transaction() as db:
        cursor = db.execute(
            "INSERT INTO datapaths (name, created, method, n_images, kept_fraction, "
            "image_set, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                time.time(),
                datapath.method,
                datapath.n_images,
                datapath.kept_fraction,
                image_set,
                datapath.to_json(),
            ),
        )
    return int(cursor.lastrowid)


def load_datapath(run: RunStore, datapath_id: int) -> Datapath:
    """The stored datapath `datapath_id`; `NotFoundError` when the run has none by that id."""
    row = run.query_one("SELECT body FROM datapaths WHERE id = ?", (datapath_id,))
    if row is None:
        raise NotFoundError(f"There is no datapath {datapath_id} in {run.path}.")
    return Datapath.from_json(row[0])


def list_datapaths(run: RunStore) -> list[dict]:
    """Summaries of the stored datapaths (id, name, created, method, n_images, kept_fraction,
    image_set), oldest first."""
    rows = run.query(f"SELECT {', '.join(_SUMMARY)} FROM datapaths ORDER BY id")
    return [dict(zip(_SUMMARY, r, strict=True)) for r in rows]
