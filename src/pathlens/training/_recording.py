"""Reading a training run back, also while it is written: `TrainingRun` and `open_run`.

The layout it reads is `pathlens.training._schema`'s, shared with the writer.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from pathlens.errors import NotFoundError, PathlensError
from pathlens.store import RunStore
from pathlens.training import _schema as schema
from pathlens.training._schema import ARRAYS_DIR, EDGE_WEIGHT, OUTPUT_DIVERSITY


class TrainingRun:
    """A training run folder, read while or after it is written (see `open_run`).

    Every call re-reads the number of completed snapshots from SQLite, so a reader open
    during training sees new snapshots as they arrive. Not thread-safe: open one per thread.
    """

    def __init__(self, run_dir: str | Path):
        path = Path(run_dir)
        if not path.exists():
            raise PathlensError(f"There is no run folder at {path}.")
        self._store = RunStore(path, create=False)
        self.path = path
        info = self._store.meta(schema.META)
        if info is None:
            self._store.close()
            raise PathlensError(
                f"{path} is a run folder but holds no training records: record one with "
                "`with pathlens.Tracker(model, RUN, probe=batch) as tracker: ...`."
            )
        self.info: dict = info
        """What the tracker recorded about the run: models (with `Network.describe()`),
        sites, statistics, snapshot interval."""
        self._sites = {s["name"]: s for s in info["sites"]}
        self._arrays: dict[str, object] = {}
        self._root = None

    # ------------------------------------------------------------------ structure
    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> TrainingRun:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"TrainingRun({str(self.path)!r}, {len(self._sites)} sites, "
            f"{len(self.snapshots())} snapshots, status {self.status()['status']!r})"
        )

    @property
    def every(self) -> int:
        """Steps between snapshots."""
        return int(self.info["every"])

    def models(self) -> dict[str, dict]:
        """Model name -> its class, probe shape and structure (`Network.describe()`)."""
        return self.info["models"]

    def sites(self) -> list[str]:
        """Site names in recording order ("generator/main.2" for a dict of models)."""
        return list(self._sites)

    def site_info(self, site: str) -> dict:
        """The site's model, module name, channel count, kind and weight layer."""
        return dict(self._site(site))

    def stats(self) -> list[str]:
        """The per-neuron statistics recorded for every site (see `STATS`)."""
        return list(self.info["stats"])

    def status(self) -> dict:
        """``{"status": "running" | "finished" | "failed" | "interrupted", ...}``.

        "interrupted": the writer, a process of this machine (``pid``, ``host``), ended
        without closing the run (killed); the run holds what it committed before. A writer on
        another machine cannot be checked: its run reads "running" until it closes."""
        status = self._store.meta(schema.STATUS_META, {"status": "unknown"})
        if schema.writer_gone(status):
            snapshots = schema.snapshot_count(self._store)
            status = {
                **status,
                "status": "interrupted",
                "error": f"The training process (pid {status['pid']}) ended without closing "
                f"the run, after {snapshots} snapshots."
                + (" A new Tracker may record into this folder." if snapshots == 0 else ""),
            }
        return status

    # ------------------------------------------------------------------ records
    def scalar_names(self) -> list[str]:
        """Names of the recorded scalars, sorted."""
        return schema.scalar_names(self._store)

    def scalars(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps int64 [T], values float64 [T]) of a scalar; NaN where the value was NaN.

        Scalars are committed in batches (at every snapshot, at least once a second, at
        close): a reader sees them with that delay, and a killed writer loses at most the
        last uncommitted batch."""
        rows = schema.scalar_rows(self._store, name)
        if not rows:
            known = self.scalar_names()
            if name not in known:
                raise NotFoundError(_unknown(name, known, "scalar"))
        steps = np.array([r[0] for r in rows], dtype=np.int64)
        values = np.array([np.nan if r[1] is None else r[1] for r in rows], dtype=np.float64)
        return steps, values

    def last_step(self) -> int | None:
        """The last training step with a committed scalar (None before the first)."""
        return schema.last_scalar_step(self._store)

    def snapshots(self) -> np.ndarray:
        """Training step of every completed snapshot, int64 [snapshots]."""
        return np.array([r[1] for r in schema.snapshot_rows(self._store)], dtype=np.int64)

    def snapshot_times(self) -> np.ndarray:
        """Wall-clock time (seconds since the epoch) of every completed snapshot."""
        return np.array([r[2] for r in schema.snapshot_rows(self._store)], dtype=np.float64)

    def neuron_series(
        self, site: str, stat: str, start: int | None = None, stop: int | None = None
    ) -> np.ndarray:
        """One statistic of every neuron of a site at every completed snapshot: float32
        [snapshots, neurons]; `start`/`stop` slice the snapshot axis like a Python slice."""
        info = self._site(site)
        if stat not in self.info["stats"]:
            raise NotFoundError(_unknown(stat, list(self.info["stats"]), "statistic"))
        return self._rows(info["arrays"][stat], start, stop, info["channels"])

    def input_site(self, site: str) -> str | None:
        """The site feeding `site`'s weight layer (see `pathlens.Tracker`), or None."""
        return self._site(site).get("input_site")

    def activation(self, site: str) -> str:
        """Class name of the site's module ("ReLU", "Tanh", ...); "" for old runs."""
        return self._site(site).get("activation", "")

    def edge_weights(
        self, site: str, start: int | None = None, stop: int | None = None
    ) -> np.ndarray:
        """The kernel-summed weight matrix from the input site's neurons to `site`'s, at every
        completed snapshot: float32 [snapshots, C_out, C_in] (see `pathlens.Tracker`)."""
        info = self._site(site)
        path = info["arrays"].get(EDGE_WEIGHT)
        source = info.get("input_site")
        if path is None:
            if source is None:
                why = (
                    "its layer reads no other site (the model input, a residual sum or a "
                    "concatenation)"
                )
            else:
                why = (
                    "the tracker did not record its edge weights (edge_weights=False, or too large)"
                )
            raise PathlensError(f"Site {site!r} has no recorded input weights: {why}.")
        width = self._site(source)["channels"]
        rows = self._rows(path, start, stop, info["channels"] * width)
        return rows.reshape(len(rows), info["channels"], width)

    def output_diversity(
        self, model: str, start: int | None = None, stop: int | None = None
    ) -> np.ndarray:
        """Sample diversity of a model's output on the probe per snapshot, float32
        [snapshots] (see `pathlens.Tracker`); NaN where not recorded."""
        models = self.info["models"]
        if model not in models:
            raise NotFoundError(_unknown(model, list(models), "model"))
        path = models[model].get("arrays", {}).get(OUTPUT_DIVERSITY)
        if path is None:
            count = len(range(*slice(start, stop).indices(schema.snapshot_count(self._store))))
            return np.full(count, np.nan, dtype=np.float32)
        return self._rows(path, start, stop, 1)[:, 0]

    def verify(self) -> None:
        """Read every recorded array at every completed snapshot; a `PathlensError` naming
        the first that cannot be read (damaged, missing, or linked outside the run)."""
        for info in self._sites.values():
            for path in info["arrays"].values():
                self._read(path, 0, schema.snapshot_count(self._store))
        for model in self.info["models"].values():
            for path in model.get("arrays", {}).values():
                self._read(path, 0, schema.snapshot_count(self._store))

    def _rows(self, path: str, start: int | None, stop: int | None, width: int) -> np.ndarray:
        count = schema.snapshot_count(self._store)
        lo, hi, _ = slice(start, stop).indices(count)
        if hi <= lo:
            return np.zeros((0, width), dtype=np.float32)
        return self._read(path, lo, hi)

    def _read(self, path: str, lo: int, hi: int) -> np.ndarray:
        """Rows lo:hi of an array, as float32."""
        if hi <= lo:
            return np.zeros((0, 0), dtype=np.float32)
        array = self._array(path, hi)
        with self._damage(path):
            return np.asarray(array[lo:hi], dtype=np.float32)

    def _array(self, path: str, rows: int):
        import zarr

        array = self._arrays.get(path)
        if array is None or array.shape[0] < rows:  # new or grown since we last looked
            with self._damage(path):
                _refuse_outside_links(self.path, path)
                if self._root is None:
                    self._root = zarr.open_group(str(self.path / ARRAYS_DIR), mode="r")
                array = zarr.open_array(self._root.store, path=path, mode="r")
            self._arrays[path] = array
        if array.shape[0] < rows:
            raise PathlensError(
                f"{self.path / ARRAYS_DIR}/{path} holds {array.shape[0]} snapshots but the "
                f"database lists {rows}: the arrays were changed or removed by something other "
                "than the tracker."
            )
        return array

    @contextmanager
    def _damage(self, path: str) -> Iterator[None]:
        """Turn what zarr and its codecs raise on damaged files into a PathlensError naming
        the array. They raise many types (RuntimeError from a codec on a truncated chunk,
        JSONDecodeError for bad metadata, zarr's ArrayNotFoundError, TypeError for metadata
        of the wrong shape), and nothing else runs inside, so any of them means damage."""
        try:
            yield
        except PathlensError:
            raise
        except Exception as exc:
            self._arrays.pop(path, None)
            raise PathlensError(
                f"The training array {path!r} in {self.path / ARRAYS_DIR} cannot be read "
                f"({type(exc).__name__}: {str(exc)[:200]}): the run folder is damaged. Record "
                "the run again, or restore the folder from a copy."
            ) from exc

    def _site(self, site: str) -> dict:
        try:
            return self._sites[site]
        except KeyError:
            raise NotFoundError(_unknown(site, list(self._sites), "site")) from None


def _refuse_outside_links(run: Path, path: str) -> None:
    """Refuse an array (`path` in the run's arrays folder) whose folders or files link
    outside the run: reading a run must never read what its author pointed at elsewhere."""
    import os

    inside = run.resolve()
    folder = run / ARRAYS_DIR / path
    entries = [run / ARRAYS_DIR / Path(*Path(path).parts[:i]) for i in range(len(Path(path).parts))]
    entries += [e / "zarr.json" for e in entries]
    for parent, dirs, files in os.walk(folder):
        entries += [Path(parent) / name for name in dirs + files]
    for entry in [folder, *entries]:
        if entry.is_symlink() and not entry.resolve().is_relative_to(inside):
            raise PathlensError(
                f"The training array {path!r} links outside the run folder ({entry} -> "
                f"{os.readlink(entry)}); pathlens does not read it."
            )


def open_run(run_dir: str | Path) -> TrainingRun:
    """Open a training run folder written by `pathlens.Tracker`, also while it is written.

    >>> run = pathlens.open_run("runs/gan")
    >>> steps, loss = run.scalars("loss_d")
    >>> run.sites()
    ['generator/main.2', 'generator/main.5', 'discriminator/main.1', 'discriminator/main.4']
    >>> run.neuron_series("generator/main.2", "act_mean").shape      # [snapshots, neurons]
    (9, 128)
    """
    return TrainingRun(run_dir)


def _unknown(name: str, known: list[str], what: str) -> str:
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    listed = ", ".join(known[:12]) + (" ..." if len(known) > 12 else "")
    return f"This run has no {what} named {name!r}.{hint} Known: {listed or 'none'}."
