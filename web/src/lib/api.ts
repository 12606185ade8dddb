// Every read goes through `get`: from the server, or from the data a report embeds
// (window.__PATHLENS_EMBED__, a map from API path to its JSON answer).
import type { Job, JobRequest, ProgressEvent } from "./types";

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

export async function get<T>(path: string): Promise<T> {
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

export async function post<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  return answer<T>(response);
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

export function startJob(request: JobRequest): Promise<Job> {
  return post<Job>("/api/jobs", request);
}

/** Follow a job over Server-Sent Events until it ends; returns a function that stops it.
 *  A dropped stream is reopened (the server replays the job's events); after the job has
 *  ended, its record decides; only repeated failures are reported. */
export function followJob(
  id: number,
  on: { progress: (e: ProgressEvent) => void; end: (job: Job) => void; error?: (message: string) => void },
): () => void {
  let source: EventSource | null = null;
  let stopped = false;
  let failures = 0;
  const finish = (job: Job) => {
    stopped = true;
    source?.close();
    on.end(job);
  };
  const connect = () => {
    if (stopped) return;
    const current = new EventSource(`/api/jobs/${id}/events`);
    source = current;
    current.addEventListener("progress", (e) => {
      failures = 0;
      on.progress(JSON.parse((e as MessageEvent).data));
    });
    for (const name of ["done", "failed"]) {
      current.addEventListener(name, (e) => finish(JSON.parse((e as MessageEvent).data)));
    }
    current.onerror = async () => {
      if (current.readyState !== EventSource.CLOSED || stopped) return; // the browser retries
      try {
        const job = await get<Job>(`/api/jobs/${id}`);
        if (job.status !== "queued" && job.status !== "running") return finish(job);
      } catch {
        // the server may be restarting: try again below
      }
      if (++failures > 5) {
        stopped = true;
        on.error?.("The connection to the server was lost.");
      } else {
        setTimeout(connect, 1000);
      }
    };
  };
  connect();
  return () => {
    stopped = true;
    source?.close();
  };
}
