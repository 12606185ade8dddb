// Scalar timelines as small multiples: one row per scalar over a shared step axis, lines broken
// where a value is NaN/inf (null), and the values nearest a step for the tooltip. No DOM.
import { bisectLeft, extent, line, scaleLinear, type ScaleLinear } from "d3";
import type { TrainingScalars } from "../lib/types";
import { scalarColor } from "./config";
import { short } from "./format";

export interface ScalarRow {
  name: string;
  color: string;
  top: number;
  height: number;
  y: ScaleLinear<number, number>;
  path: string;
  gaps: [number, number][]; // step ranges [from, to] with NaN/inf values, in px
  min: number | null;
  max: number | null;
  last: number | null; // the latest finite value
  points: number;
}

export interface TimelineLayout {
  x: ScaleLinear<number, number>;
  rows: ScalarRow[];
  plotTop: number;
  plotBottom: number; // where the step axis goes
  height: number;
}

export interface TimelineOptions {
  width: number;
  marginLeft: number;
  marginRight: number;
  rowHeight: number;
  rowGap: number;
  top: number;
  axisHeight: number;
}

/** The step range covered by the scalars and the snapshots. */
export function stepDomain(scalars: TrainingScalars, snapshotSteps: readonly number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of Object.values(scalars)) {
    if (s.steps.length) {
      lo = Math.min(lo, s.steps[0]);
      hi = Math.max(hi, s.steps[s.steps.length - 1]);
    }
  }
  if (snapshotSteps.length) {
    lo = Math.min(lo, snapshotSteps[0]);
    hi = Math.max(hi, snapshotSteps[snapshotSteps.length - 1]);
  }
  if (!Number.isFinite(lo)) return [0, 1];
  return lo === hi ? [lo, lo + 1] : [lo, hi];
}

export function layoutTimeline(
  scalars: TrainingScalars,
  names: readonly string[],
  snapshotSteps: readonly number[],
  o: TimelineOptions,
): TimelineLayout {
  const x = scaleLinear()
    .domain(stepDomain(scalars, snapshotSteps))
    .range([o.marginLeft, Math.max(o.marginLeft + 10, o.width - o.marginRight)]);
  const rows: ScalarRow[] = names.map((name, i) => {
    const s = scalars[name] ?? { steps: [], values: [] };
    const top = o.top + i * (o.rowHeight + o.rowGap);
    const finite = s.values.filter((v): v is number => v !== null && Number.isFinite(v));
    const [min, max] = extent(finite) as [number | undefined, number | undefined];
    const lo = min ?? 0;
    let hi = max ?? 1;
    if (hi === lo) hi = lo + (Math.abs(lo) || 1) * 0.1;
    const y = scaleLinear()
      .domain([lo, hi])
      .range([top + o.rowHeight - 3, top + 3]);
    const path =
      line<number>()
        .defined((_, k) => s.values[k] !== null)
        .x((step) => x(step))
        .y((_, k) => y(s.values[k] as number))(s.steps) ?? "";
    return {
      name,
      color: scalarColor(i),
      top,
      height: o.rowHeight,
      y,
      path,
      gaps: nanRuns(s.steps, s.values).map(([a, b]) => [x(a), x(b)] as [number, number]),
      min: min ?? null,
      max: max ?? null,
      last: finite.length ? lastFinite(s.values) : null,
      points: s.steps.length,
    };
  });
  const plotBottom = o.top + names.length * (o.rowHeight + o.rowGap) - o.rowGap;
  return { x, rows, plotTop: o.top, plotBottom, height: plotBottom + o.axisHeight };
}

function lastFinite(values: readonly (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
  return null;
}

/** Runs of NaN/inf values as step ranges (a single bad step gives [s, s]). */
export function nanRuns(steps: readonly number[], values: readonly (number | null)[]): [number, number][] {
  const out: [number, number][] = [];
  let from: number | null = null;
  for (let i = 0; i < steps.length; i++) {
    if (values[i] === null) {
      if (from === null) from = steps[i];
    } else if (from !== null) {
      out.push([from, steps[i - 1]]);
      from = null;
    }
  }
  if (from !== null) out.push([from, steps[steps.length - 1]]);
  return out;
}

/** The point of a series nearest to `step`: its step and value (null: NaN/inf). */
export function valueAt(
  series: { steps: readonly number[]; values: readonly (number | null)[] } | undefined,
  step: number,
): { step: number; value: number | null } | null {
  if (!series || !series.steps.length) return null;
  const steps = series.steps as number[];
  let i = bisectLeft(steps, step);
  if (i >= steps.length) i = steps.length - 1;
  else if (i > 0 && step - steps[i - 1] < steps[i] - step) i--;
  return { step: steps[i], value: series.values[i] };
}

/** Two y-axis labels per row (its range), for the left margin. */
export function rowTicks(row: ScalarRow): { y: number; text: string }[] {
  if (row.min === null || row.max === null) return [];
  const [lo, hi] = row.y.domain();
  return [
    { y: row.y(hi), value: hi },
    { y: row.y(lo), value: lo },
  ].map((t) => ({ y: t.y, text: short(t.value) }));
}
