// The snapshot window shared by the training views: indices into the run's snapshots, `stop`
// exclusive (as /api/training/series?start=&stop= takes them). Snapping a brushed step range to
// snapshots, following a live run, and the words for it. No DOM.
import { bisectLeft } from "d3";
import type { TrainingWindow } from "../lib/state.svelte";

/** Windows narrower than this many snapshots are widened (a polyline needs two points). */
export const MIN_SNAPSHOTS = 2;

export function fullWindow(count: number): TrainingWindow | null {
  return count > 0 ? { start: 0, stop: count } : null;
}

/** The index of the snapshot whose step is nearest to `step` (steps ascending, not empty). */
export function nearestIndex(steps: readonly number[], step: number): number {
  const i = bisectLeft(steps as number[], step);
  if (i <= 0) return 0;
  if (i >= steps.length) return steps.length - 1;
  return step - steps[i - 1] <= steps[i] - step ? i - 1 : i;
}

/** Grow `w` to at least `min` snapshots (within 0..count), keeping it where it is. */
export function widen(w: TrainingWindow, count: number, min = MIN_SNAPSHOTS): TrainingWindow {
  let { start, stop } = w;
  const want = Math.min(min, count);
  while (stop - start < want) {
    if (stop < count) stop++;
    else if (start > 0) start--;
    else break;
  }
  return { start, stop };
}

/** The window of the snapshots nearest to a brushed step range [lo, hi]. */
export function snapWindow(steps: readonly number[], lo: number, hi: number): TrainingWindow | null {
  if (!steps.length) return null;
  if (hi < lo) [lo, hi] = [hi, lo];
  const start = nearestIndex(steps, lo);
  const end = Math.max(start, nearestIndex(steps, hi));
  return widen({ start, stop: end + 1 }, steps.length);
}

/** Keep `w` valid for `count` snapshots (null: the whole run). */
export function clampWindow(w: TrainingWindow | null, count: number): TrainingWindow | null {
  if (count <= 0) return null;
  if (!w) return fullWindow(count);
  const start = Math.max(0, Math.min(w.start, count - 1));
  const stop = Math.max(start + 1, Math.min(w.stop, count));
  return widen({ start, stop }, count);
}

/** The window after the run went from `before` to `after` snapshots: one that ended at the last
 *  snapshot (or none yet) grows to follow new snapshots; any other stays where it is. */
export function followWindow(w: TrainingWindow | null, before: number, after: number): TrainingWindow | null {
  if (!w || w.stop >= before) {
    if (after <= 0) return null;
    return widen({ start: w ? Math.min(w.start, after - 1) : 0, stop: after }, after);
  }
  return clampWindow(w, after);
}

export function sameWindow(a: TrainingWindow | null, b: TrainingWindow | null): boolean {
  return a === b || (!!a && !!b && a.start === b.start && a.stop === b.stop);
}

export function isFull(w: TrainingWindow | null, count: number): boolean {
  return !w || (w.start === 0 && w.stop >= count);
}

/** "snapshots 3–17 of 40 · steps 30–170" (indices shown from 0, as the API takes them). */
export function windowLabel(w: TrainingWindow | null, steps: readonly number[]): string {
  if (!w || !steps.length) return "no snapshots yet";
  const first = steps[w.start];
  const last = steps[w.stop - 1];
  const n = w.stop - w.start;
  const all = isFull(w, steps.length) ? " (all)" : ` of ${steps.length}`;
  return `snapshots ${w.start}–${w.stop - 1}${all} · ${n} snapshot${n === 1 ? "" : "s"} · steps ${first}–${last}`;
}
