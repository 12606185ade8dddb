// What the training views read from the server: the run (/api/training), its scalars, and its
// live progress (SSE /api/training/events). Views fetch their own windowed data (series,
// anomalies, credit) and refetch when `train.version` moves.
import { ApiError, get } from "../lib/api";
import { app } from "../lib/state.svelte";
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
      get<TrainingInfo>("/api/training"),
      get<TrainingScalars>("/api/training/scalars"),
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
  app.training.window =
    before === undefined ? clampWindow(app.training.window, after) : followWindow(app.training.window, before, after);
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
    app.training.site = null;
    app.training.neuron = null;
  }
  if (info.stats.length && !info.stats.includes(app.training.stat)) app.training.stat = info.stats[0];
}

/** Follow the run while the page is open: each `update` event shows its progress at once and
 *  refetches the run and its scalars (debounced), then bumps `version`. Returns `stop`. */
export function followTraining(debounceMs = 300): () => void {
  if (typeof EventSource === "undefined" || window.__PATHLENS_EMBED__) return () => {};
  let source: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  let failures = 0;

  const refetch = async () => {
    timer = null;
    try {
      const [info, scalars] = await Promise.all([
        get<TrainingInfo>("/api/training"),
        get<TrainingScalars>("/api/training/scalars"),
      ]);
      if (stopped) return;
      apply(info, scalars);
      train.version++;
      train.error = null;
    } catch (e) {
      if (!stopped) train.error = (e as Error).message;
    }
  };

  const connect = () => {
    if (stopped) return;
    const current = new EventSource("/api/training/events");
    source = current;
    current.onopen = () => {
      failures = 0;
      train.live = true;
    };
    current.addEventListener("update", (e) => {
      const p = JSON.parse((e as MessageEvent).data) as TrainingProgress;
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
    });
    current.onerror = () => {
      train.live = current.readyState === EventSource.OPEN;
      if (current.readyState !== EventSource.CLOSED || stopped) return; // the browser retries
      if (++failures <= 10) retry = setTimeout(connect, 2000);
    };
  };
  connect();
  return () => {
    stopped = true;
    train.live = false;
    source?.close();
    if (timer) clearTimeout(timer);
    if (retry) clearTimeout(retry);
  };
}
