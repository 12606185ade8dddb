// The images view's selection and its datapath job. Module-level, so that they survive switching
// to the neuron tab and back while the job runs.
import { datapath as loadDatapath } from "../lib/api";
import { app, showSubset } from "../lib/state.svelte";
import type { Datapath, SetKey } from "../lib/types";
import { runJob } from "../jobs/follow";

export const selection = $state({
  analysis: null as number | null, // the analysis the selection belongs to
  set: null as SetKey | null,
  images: [] as number[], // indices within the set, in click order
});

export const subsetJob = $state({
  running: false,
  fraction: 0,
  message: "",
  error: null as string | null,
});

/** Toggle image `index` of `set`; an image of another set (or analysis) starts a new selection. */
export function toggle(analysis: number, set: SetKey, index: number): void {
  if (selection.analysis !== analysis || selection.set !== set) {
    selection.analysis = analysis;
    selection.set = set;
    selection.images = [index];
    return;
  }
  const at = selection.images.indexOf(index);
  if (at >= 0) selection.images.splice(at, 1);
  else selection.images.push(index);
  if (!selection.images.length) selection.set = null;
}

export function clearSelection(): void {
  selection.set = null;
  selection.images = [];
}

/** Find the datapath of the selected images; the result becomes `app.subset`. */
export async function startSubset(): Promise<void> {
  const analysis = selection.analysis;
  const set = selection.set;
  const images = [...selection.images].sort((a, b) => a - b);
  if (analysis === null || set === null || !images.length || subsetJob.running) return;
  subsetJob.running = true;
  subsetJob.fraction = 0;
  subsetJob.message = `starting the datapath of ${images.length} images of ${set}…`;
  subsetJob.error = null;
  const finish = (error: string | null): void => {
    subsetJob.running = false;
    subsetJob.error = error;
    subsetJob.message = "";
  };
  await runJob(
    { kind: "datapath", analysis, set, images },
    {
      progress: (e) => {
        subsetJob.fraction = e.fraction;
        subsetJob.message = e.message;
      },
      done: async (job) => {
        const id = job.result?.datapath;
        if (id === undefined || id === null) throw new Error("The job finished without a datapath.");
        const datapath = await loadDatapath(id);
        if (app.analysisId === analysis) showSubset({ set, images, datapath });
        finish(null);
      },
      failed: (message) => finish(message),
    },
  );
}
