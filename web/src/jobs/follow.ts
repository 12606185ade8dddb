// Starting a job and following it to its end, shared by the images view (datapath of a subset)
// and the new-analysis form. While it runs, each progress event goes into `app.live` and the
// gates it carries into `app.liveGates[set]` (the network view draws them); at the end both are
// cleared (the result, a subset datapath or a new analysis, takes their place).
import { ApiError, startJob, followJob } from "../lib/api";
import { clearLive, showProgress } from "../lib/state.svelte";
import type { Job, JobRequest, ProgressEvent } from "../lib/types";

export interface JobHooks {
  /** Every progress event, after the shared state is updated. */
  progress?: (event: ProgressEvent) => void;
  /** The job finished with status "done". */
  done: (job: Job) => void | Promise<void>;
  /** The job could not start, failed, was interrupted, or the connection was lost. */
  failed: (message: string, job: Job | null) => void;
}

/** The text for a person of any error thrown by the API layer (server messages kept verbatim). */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Start `request` and follow it. Resolves, once started, to a function that stops following. */
export async function runJob(request: JobRequest, hooks: JobHooks): Promise<() => void> {
  clearLive();
  let job: Job;
  try {
    job = await startJob(request);
  } catch (e) {
    hooks.failed(errorText(e), null);
    return () => {};
  }
  let ended = false;
  const end = (): void => {
    ended = true;
    clearLive();
  };
  const stop = followJob(job.id, {
    progress: (event) => {
      if (ended) return;
      showProgress(event);
      hooks.progress?.(event);
    },
    end: async (finished) => {
      if (ended) return;
      end();
      if (finished.status === "done") {
        try {
          await hooks.done(finished);
        } catch (e) {
          hooks.failed(errorText(e), finished);
        }
      } else {
        hooks.failed(finished.error ?? `The job ended as "${finished.status}".`, finished);
      }
    },
    error: (message) => {
      if (ended) return;
      end();
      hooks.failed(message, job);
    },
  });
  return () => {
    if (!ended) end();
    stop();
  };
}
