"""Writing a training run: its structure once, then snapshots (Zarr first, then SQLite) and
scalars in batches. The layout is `pathlens.training._schema`'s."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import numpy as np
import torch

from pathlens.errors import PathlensError
from pathlens.store import RunStore
from pathlens.training import _schema as schema
from pathlens.training._plan import SitePlan

EDGE_CHUNK_ENTRIES = 2**16
"""Entries per chunk of an edge-weight array (the writer rewrites a whole chunk per row)."""


class ArrayWriter:
    """Appends one row per snapshot to each (site, stat) array.

    Each array keeps its current chunk in memory and rewrites the whole chunk on every append
    (no read-modify-write; the store replaces chunk files atomically). An array grows by a
    chunk when a row would not fit, before the row is written, so a committed snapshot is
    always inside the array's shape. `chunks` gives some arrays fewer rows per chunk than
    `chunk` (wide ones, whose chunk rewrite would cost more).
    """

    def __init__(
        self,
        folder: Path,
        columns: dict[str, int],
        chunk: int,
        chunks: dict[str, int] | None = None,
    ):
        import zarr

        try:  # zarr's runner for its coroutines: lets append() write all chunks at once
            from zarr.core.sync import sync
        except ImportError:  # pragma: no cover - a zarr that moved it: write one by one
            sync = None
        self._sync = sync
        self.chunk = chunk
        chunks = chunks or {}
        root = zarr.open_group(str(folder / schema.ARRAYS_DIR), mode="a")
        self._arrays = {}
        self._buffers = {}
        for path, width in columns.items():
            rows = chunks.get(path, chunk)
            self._arrays[path] = root.create_array(
                path,
                shape=(0, width),
                chunks=(rows, max(width, 1)),
                dtype="float32",
                fill_value=float("nan"),
                overwrite=True,
            )
            self._buffers[path] = np.full((rows, width), np.nan, dtype=np.float32)
        self.rows = 0

    def append(self, values: dict[str, np.ndarray]) -> None:
        """Write row `self.rows` of every array (values: path -> [width]); then count it."""
        row = self.rows
        writes = []
        for path, array in self._arrays.items():
            buffer = self._buffers[path]
            size = len(buffer)
            start, offset = row - row % size, row % size
            if offset == 0:
                buffer.fill(np.nan)
            buffer[offset] = values[path]
            if array.shape[0] <= row:
                array.resize((start + size, buffer.shape[1]))
            writes.append((array, slice(start, start + size), buffer))
        if self._sync is None:
            for array, rows, buffer in writes:
                array[rows] = buffer
        else:  # all chunk writes at once on zarr's event loop: about half the time

            async def write_all():
                await asyncio.gather(
                    *(array.async_array.setitem(rows, buffer) for array, rows, buffer in writes)
                )

            self._sync(write_all())
        self.rows += 1


class RunWriter:
    """The writing side of one training run folder: created empty, written, then closed.

    Scalars wait in memory and are committed with the next snapshot, or when `flush_seconds`
    have passed or `flush_rows` wait.
    """

    def __init__(
        self,
        path: Path,
        plans: list[SitePlan],
        models: dict[str, dict],
        probes: dict[str, torch.Tensor],
        settings: dict,
    ):
        chunk = settings["chunk"]
        store = RunStore(path)
        claimed = False
        try:
            self.took_over = _claim(store, path)
            claimed = True
            columns = {
                schema.array_path(p.name, stat): p.channels for p in plans for stat in schema.STATS
            }
            chunks = {}
            for p in plans:
                if p.edge:
                    width = p.channels * p.input_channels
                    columns[schema.array_path(p.name, schema.EDGE_WEIGHT)] = width
                    chunks[schema.array_path(p.name, schema.EDGE_WEIGHT)] = max(
                        1, min(chunk, EDGE_CHUNK_ENTRIES // width)
                    )
            for name in models:
                columns[schema.model_array_path(name, schema.OUTPUT_DIVERSITY)] = 1
            self._arrays = ArrayWriter(path, columns, chunk, chunks)
            _write_structure(store, plans, models, probes, settings)
        except BaseException as exc:
            if claimed:  # the folder is ours: say it failed, so that a new tracker may take it
                failed = {**_running(), "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
                store.set_meta(schema.STATUS_META, failed)
            store.close()
            raise
        self._store = store
        self._pending: list[tuple[str, int, float, float]] = []
        self._last_flush = time.monotonic()
        self.flush_seconds = settings["flush_seconds"]
        self.flush_rows = settings["flush_rows"]

    @property
    def snapshots(self) -> int:
        return self._arrays.rows

    def add_scalars(self, rows: list[tuple[str, int, float, float]]) -> None:
        """Keep scalar rows (name, step, value, time) until the next commit."""
        self._pending += rows

    def flush_if_due(self) -> None:
        """Commit the waiting scalars if `flush_rows` wait or `flush_seconds` have passed."""
        if (
            len(self._pending) >= self.flush_rows
            or time.monotonic() - self._last_flush >= self.flush_seconds
        ):
            self.flush()

    def snapshot(self, values: dict[str, np.ndarray], step: int, now: float) -> None:
        """Append one snapshot's rows, then commit it with the waiting scalars."""
        self._arrays.append(values)  # the data first: a snapshot exists once its row does
        self.flush((self._arrays.rows - 1, step, now))

    def flush(self, snapshot: tuple[int, int, float] | None = None) -> None:
        if self._pending or snapshot is not None:
            schema.add_records(self._store, self._pending, snapshot)
            self._pending = []
        self._last_flush = time.monotonic()

    def close(self, status: dict) -> None:
        """Commit what waits and record the final status."""
        try:
            self.flush()
            self._store.set_meta(schema.STATUS_META, status)
        finally:
            self._store.close()


def _claim(store: RunStore, path: Path) -> dict | None:
    """Make the run this process's, or refuse: one check-and-set under the write lock, so of
    two trackers started at once into one folder exactly one wins. A run whose writer was
    killed before its first snapshot (or failed before it) is taken over: its status, which
    this returns. Anything else already there is refused."""
    with store.transaction():
        status = store.meta(schema.STATUS_META)
        started = status is not None or store.meta(schema.META) is not None
        abandoned = schema.snapshot_count(store) == 0 and (
            schema.writer_gone(status) or (status or {}).get("status") == "failed"
        )
        if started and not abandoned:
            raise PathlensError(
                f"{path} already holds a training run; record a new run in a new "
                "folder (or delete this one)."
            )
        if abandoned:
            schema.clear_records(store)
        store.set_meta(schema.STATUS_META, _running())
    return status if abandoned else None


def _running() -> dict:
    return {"status": "running", "pid": os.getpid(), "host": schema.HOST, "started": time.time()}


def _write_structure(
    store: RunStore,
    plans: list[SitePlan],
    models: dict[str, dict],
    probes: dict[str, torch.Tensor],
    settings: dict,
) -> None:
    """The run's meta records: models, sites and their arrays, settings, status."""
    sites = []
    for p in plans:
        arrays = {stat: schema.array_path(p.name, stat) for stat in schema.STATS}
        if p.edge:
            arrays[schema.EDGE_WEIGHT] = schema.array_path(p.name, schema.EDGE_WEIGHT)
        sites.append(
            {
                "name": p.name,
                "model": p.model,
                "module": p.module_name,
                "channels": p.channels,
                "kind": p.kind,
                "weights": p.weight_name,
                "activation": p.activation,
                "input_site": p.input_site,
                "arrays": arrays,
            }
        )
    models = {
        name: {
            **facts,
            "arrays": {
                schema.OUTPUT_DIVERSITY: schema.model_array_path(name, schema.OUTPUT_DIVERSITY)
            },
        }
        for name, facts in models.items()
    }
    with store.transaction():  # its records are stored all together or none
        store.save_arrays({schema.PROBE_ARRAY.format(model=name): p for name, p in probes.items()})
        if store.meta("kind") is None:
            store.set_meta("kind", "training")
        store.set_meta(
            schema.META,
            {
                "format": schema.FORMAT,
                "every": settings["every"],
                "chunk": settings["chunk"],
                "probe_mode": settings["probe_mode"],
                "stats": list(schema.STATS),
                "edge_weights": bool(any(p.edge for p in plans)),
                "models": models,
                "sites": sites,
                "started": time.time(),
            },
        )
        store.set_meta(schema.STATUS_META, _running())
