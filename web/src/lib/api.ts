// The server's API, one client function per endpoint, typed from the generated OpenAPI paths.
// Views call only these. Every read goes through `get`: from the server, or from the data a
// report embeds (window.__PATHLENS_EMBED__, a map from API path to its JSON answer), so a path
// built here must be the one `pathlens report` embeds (sites encoded as encodeURIComponent).
import type { TrainingWindow } from "./state.svelte";
import type { Job, JobRequest, ProgressEvent, TrainingProgress, paths } from "./types";

declare global {
  interface Window {
    __PATHLENS_EMBED__?: Record<string, unknown>;
  }
}

export const embedded = (): boolean => typeof window !== "undefined" && !!window.__PATHLENS_EMBED__;

export class ApiError extends Error {
  constructor(
    message: string,
    public status: number,
  ) {
    super(message);
  }
}

type Json<R> = R extends { content: { "application/json": infer T } } ? T : never;
/** The JSON a GET of route `P` answers with, as the schema declares it. */
export type Answer<P extends keyof paths> = paths[P] extends { get: { responses: { 200: infer R } } }
  ? Json<R>
  : never;

async function get<T>(path: string): Promise<T> {
  const embed = window.__PATHLENS_EMBED__;
  if (embed) {
    if (!(path in embed)) {
      throw new ApiError("This report does not include that view; open the run with `pathlens serve`.", 404);
    }
    return embed[path] as T;
  }
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  return answer<T>(response);
}

/** GET `path`, an instance of `route`; the answer typed from the route's schema. */
function read<P extends keyof paths>(_route: P, path: string): Promise<Answer<P>> {
  return get<Answer<P>>(path);
}

async function answer<T>(response: Response): Promise<T> {
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (!response.ok) {
    const detail = (data as { detail?: unknown })?.detail;
    const message = typeof detail === "string" ? detail : JSON.stringify(detail ?? response.statusText);
    throw new ApiError(message, response.status);
  }
  return data as T;
}

const enc = encodeURIComponent;
const windowQuery = (w: TrainingWindow | null): string => (w ? `&start=${w.start}&stop=${w.stop}` : "");

// ---------------------------------------------------------------- the run and its analyses
export const health = () => read("/api/health", "/api/health");
export const runInfo = () => read("/api/run", "/api/run");
export const analysis = (id: number) => read("/api/analyses/{analysis_id}", `/api/analyses/${id}`);
export const layerView = (analysisId: number, site: string) =>
  read("/api/analyses/{analysis_id}/sites/{site}", `/api/analyses/${analysisId}/sites/${enc(site)}`);
export const neuronView = (analysisId: number, site: string, channel: number) =>
  read(
    "/api/analyses/{analysis_id}/neurons/{site}/{channel}",
    `/api/analyses/${analysisId}/neurons/${enc(site)}/${channel}`,
  );
export const imageSet = (id: number) => read("/api/image_sets/{set_id}", `/api/image_sets/${id}`);
export const datapath = (id: number) => read("/api/datapaths/{datapath_id}", `/api/datapaths/${id}`);
export const mechanism = (id: number) => read("/api/mechanisms/{mechanism_id}", `/api/mechanisms/${id}`);
export const mechanismPatches = (id: number, site: string) =>
  read("/api/mechanisms/{mechanism_id}/patches", `/api/mechanisms/${id}/patches?site=${enc(site)}`);

// ---------------------------------------------------------------- jobs
export const jobs = () => read("/api/jobs", "/api/jobs");
export const job = (id: number) => read("/api/jobs/{job_id}", `/api/jobs/${id}`);

export async function startJob(request: JobRequest): Promise<Job> {
  const response = await fetch("/api/jobs", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(request),
  });
  return answer<Job>(response);
}

/** Follow a job over Server-Sent Events until it ends; returns a function that stops it.
 *  A dropped stream is reopened (the server replays the job's events); after the job has
 *  ended, its record decides; only repeated failures are reported. */
export function followJob(
  id: number,
  on: { progress: (e: ProgressEvent) => void; end: (job: Job) => void; error?: (message: string) => void },
): () => void {
  let ended = false;
  const finish = (record: Job): void => {
    if (ended) return;
    ended = true;
    stop();
    on.end(record);
  };
  const stop = subscribe(
    `/api/jobs/${id}/events`,
    {
      progress: (data) => on.progress(data as ProgressEvent),
      done: (data) => finish(data as Job),
      failed: (data) => finish(data as Job),
    },
    {
      dropped: async () => {
        const record = await job(id);
        if (record.status === "queued" || record.status === "running") return false;
        finish(record);
        return true;
      },
      gaveUp: () => on.error?.("The connection to the server was lost."),
    },
  );
  return stop;
}

// ---------------------------------------------------------------- training runs
export const trainingInfo = () => read("/api/training", "/api/training");
export const trainingScalars = () => read("/api/training/scalars", "/api/training/scalars");
export const trainingSeries = (site: string, stat: string, n: number, w: TrainingWindow | null) =>
  read(
    "/api/training/series",
    `/api/training/series?site=${enc(site)}&stat=${enc(stat)}&n=${n}${windowQuery(w)}`,
  );
export const trainingAnomalies = (w: TrainingWindow | null) =>
  read("/api/training/anomalies", `/api/training/anomalies?${windowQuery(w).slice(1)}`);
export const trainingCredit = (site: string, neuron: number, w: TrainingWindow | null, depth: number) =>
  read(
    "/api/training/credit",
    `/api/training/credit?site=${enc(site)}&neuron=${neuron}${windowQuery(w)}&depth=${depth}`,
  );

/** Follow a training run: `update` each time it changes; `live` says whether the stream is
 *  open. Returns a function that stops following. */
export function followTrainingRun(on: {
  update: (p: TrainingProgress) => void;
  live: (open: boolean) => void;
}): () => void {
  return subscribe(
    "/api/training/events",
    { update: (data) => on.update(data as TrainingProgress) },
    { live: on.live, retryMs: 2000, maxFailures: 10 },
  );
}

// ---------------------------------------------------------------- Server-Sent Events
export interface StreamOptions {
  /** The stream opened (true) or broke (false). */
  live?: (open: boolean) => void;
  /** The stream closed for good: resolve true if it needs no reopening (the subject ended). */
  dropped?: () => Promise<boolean>;
  /** Called once when reopening failed `maxFailures` times in a row. */
  gaveUp?: () => void;
  retryMs?: number;
  maxFailures?: number;
}

/** Open an event stream with a handler per event name (data parsed as JSON). The browser
 *  retries a broken stream by itself; one it closes is reopened here after `retryMs`, unless
 *  `dropped` says it is over. Any event or a successful open resets the failure count.
 *  Returns a function that closes the stream. */
export function subscribe(
  path: string,
  handlers: Record<string, (data: unknown) => void>,
  options: StreamOptions = {},
): () => void {
  const { retryMs = 1000, maxFailures = 5 } = options;
  let source: EventSource | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  let failures = 0;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    source?.close();
    if (retry) clearTimeout(retry);
    options.live?.(false);
  };
  const connect = (): void => {
    if (stopped) return;
    const current = new EventSource(path);
    source = current;
    current.onopen = () => {
      failures = 0;
      options.live?.(true);
    };
    for (const [name, handle] of Object.entries(handlers)) {
      current.addEventListener(name, (e) => {
        failures = 0;
        if (!stopped) handle(JSON.parse((e as MessageEvent).data));
      });
    }
    current.onerror = async () => {
      options.live?.(current.readyState === EventSource.OPEN);
      if (current.readyState !== EventSource.CLOSED || stopped) return;
      try {
        if (options.dropped && (await options.dropped())) return stop();
      } catch {
        // the server may be restarting: reopen below
      }
      if (stopped) return;
      if (++failures > maxFailures) {
        stop();
        options.gaveUp?.();
      } else {
        retry = setTimeout(connect, retryMs);
      }
    };
  };
  connect();
  return stop;
}
