// What the training views read from the server: the run (/api/training), its scalars, and its
// live progress (SSE /api/training/events). Views fetch their own windowed data (series,
// anomalies, credit) and refetch when `train.version` moves.
import { ApiError, embedded, followTrainingRun, trainingInfo, trainingScalars } from "../lib/api";
import { app, selectTrainingSite, setTrainingStat, setTrainingWindow } from "../lib/state.svelte";
import type { TrainingInfo, TrainingProgress, TrainingScalars } from "../lib/types";
import { clampWindow, followWindow } from "./window";

export const train = $state({
  info: null as TrainingInfo | null,
  scalars: null as TrainingScalars | null,
  progress: null as TrainingProgress | null, // the latest, from the event stream or the run
  version: 0, // bumped after each refetch caused by an update of the run
  error: null as string | null,
  live: false, // the event stream is open
});

/** An error as words; 404s from endpoints another part of the server has not built yet say so. */
export function notAvailable(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404;
}

export async function loadTraining(): Promise<void> {
  try {
    const [info, scalars] = await Promise.all([
      trainingInfo(),
      trainingScalars(),
    ]);
    apply(info, scalars);
    train.error = null;
  } catch (e) {
    train.error = (e as Error).message;
  }
}

function apply(info: TrainingInfo, scalars: TrainingScalars): void {
  const before = train.info?.snapshot_steps.length;
  const after = info.snapshot_steps.length;
  setTrainingWindow(
    before === undefined ? clampWindow(app.training.window, after) : followWindow(app.training.window, before, after),
  );
  train.info = info;
  train.scalars = scalars;
  // the newer of the two (an event may already have told of later snapshots)
  const p = train.progress;
  if (!p || p.snapshots <= info.snapshots) {
    train.progress = {
      snapshots: info.snapshots,
      last_snapshot_step: info.last_snapshot_step,
      last_step: info.last_step,
      status: info.status,
    };
  }
  if (app.training.site && !info.sites.some((s) => s.name === app.training.site)) {
    selectTrainingSite(null);
  }
  if (info.stats.length && !info.stats.includes(app.training.stat)) setTrainingStat(info.stats[0]);
}

/** Follow the run while the page is open: each `update` event shows its progress at once and
 *  refetches the run and its scalars (debounced), then bumps `version`. Returns `stop`. */
export function followTraining(debounceMs = 300): () => void {
  if (typeof EventSource === "undefined" || embedded()) return () => {};
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;

  const refetch = async () => {
    timer = null;
    try {
      const [info, scalars] = await Promise.all([trainingInfo(), trainingScalars()]);
      if (stopped) return;
      apply(info, scalars);
      train.version++;
      train.error = null;
    } catch (e) {
      if (!stopped) train.error = (e as Error).message;
    }
  };

  const stop = followTrainingRun({
    live: (open) => {
      train.live = open;
    },
    update: (p) => {
      const known = train.info;
      train.progress = p;
      const changed =
        !known ||
        known.snapshots !== p.snapshots ||
        known.last_step !== p.last_step ||
        known.status !== p.status;
      if (changed) {
        if (timer) clearTimeout(timer);
        timer = setTimeout(refetch, debounceMs);
      }
    },
  });
  return () => {
    stopped = true;
    stop();
    if (timer) clearTimeout(timer);
  };
}
