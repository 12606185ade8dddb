// Neuron polylines of one site and statistic over the snapshot window: scales, the quantile band
// of all neurons (p05–p95, p25–p75, p50), one path per drawn neuron (outliers and the selected
// one last, so on top), and which line is nearest the mouse. No DOM.
import { area, bisectLeft, line, scaleLinear, type ScaleLinear } from "d3";
import type { NeuronSeries } from "../lib/types";

export type YMode = "all" | "band";

export interface PolyLine {
  neuron: number;
  outlier: boolean;
  score: number;
  values: (number | null)[];
  d: string;
}

export interface PolylineLayout {
  x: ScaleLinear<number, number>;
  y: ScaleLinear<number, number>;
  outer: string; // p05–p95 area
  inner: string; // p25–p75 area
  median: string; // p50 line
  lines: PolyLine[]; // drawing order: ordinary, outliers, selected
  left: number;
  right: number;
  top: number;
  bottom: number;
  clipped: number; // drawn neurons that leave the y range (mode "band")
}

export interface PolylineOptions {
  width: number;
  height: number;
  margin: { left: number; right: number; top: number; bottom: number };
}

function finite(values: readonly (number | null)[] | undefined): number[] {
  return (values ?? []).filter((v): v is number => v !== null && Number.isFinite(v));
}

/** The y range: every drawn value and the band ("all"), or the p05–p95 band only ("band"). */
export function yDomain(series: NeuronSeries, mode: YMode): [number, number] {
  const band = [...finite(series.band.p05), ...finite(series.band.p95)];
  const all = mode === "all" ? series.drawn.flatMap((d) => finite(d.values)) : [];
  const values = band.length ? [...band, ...all] : series.drawn.flatMap((d) => finite(d.values));
  if (!values.length) return [0, 1];
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi === lo) {
    const pad = Math.abs(lo) * 0.1 || 1;
    return [lo - pad, hi + pad];
  }
  const pad = (hi - lo) * 0.04;
  lo -= pad;
  hi += pad;
  return [lo, hi];
}

export function layoutPolylines(
  series: NeuronSeries,
  o: PolylineOptions,
  mode: YMode,
  selected: number | null,
): PolylineLayout {
  const left = o.margin.left;
  const right = Math.max(left + 10, o.width - o.margin.right);
  const top = o.margin.top;
  const bottom = Math.max(top + 10, o.height - o.margin.bottom);
  const steps = series.steps;
  const lo = steps.length ? steps[0] : 0;
  const hi = steps.length ? steps[steps.length - 1] : 1;
  const x = scaleLinear()
    .domain(lo === hi ? [lo - 1, hi + 1] : [lo, hi])
    .range([left, right]);
  const y = scaleLinear().domain(yDomain(series, mode)).range([bottom, top]);
  const [ylo, yhi] = y.domain();

  const bandArea = (a: keyof NeuronSeries["band"], b: keyof NeuronSeries["band"]) => {
    const p = series.band[a];
    const q = series.band[b];
    if (!p || !q) return "";
    return (
      area<number>()
        .defined((_, i) => p[i] !== null && q[i] !== null)
        .x((s) => x(s))
        .y0((_, i) => y(p[i] as number))
        .y1((_, i) => y(q[i] as number))(steps) ?? ""
    );
  };
  const path = (values: readonly (number | null)[]) =>
    line<number>()
      .defined((_, i) => values[i] !== null && values[i] !== undefined)
      .x((s) => x(s))
      .y((_, i) => y(values[i] as number))(steps) ?? "";

  let clipped = 0;
  const lines: PolyLine[] = series.drawn.map((d) => {
    if (mode === "band" && finite(d.values).some((v) => v < ylo || v > yhi)) clipped++;
    return { neuron: d.neuron, outlier: d.outlier, score: d.score, values: d.values, d: path(d.values) };
  });
  const rank = (l: PolyLine) => (l.neuron === selected ? 2 : l.outlier ? 1 : 0);
  lines.sort((a, b) => rank(a) - rank(b) || a.score - b.score);
  return {
    x,
    y,
    outer: bandArea("p05", "p95"),
    inner: bandArea("p25", "p75"),
    median: series.band.p50 ? path(series.band.p50) : "",
    lines,
    left,
    right,
    top,
    bottom,
    clipped,
  };
}

/** The snapshot index nearest to x (px). */
export function nearestStep(steps: readonly number[], x: ScaleLinear<number, number>, px: number): number {
  if (!steps.length) return -1;
  const s = x.invert(px);
  let i = bisectLeft(steps as number[], s);
  if (i >= steps.length) i = steps.length - 1;
  else if (i > 0 && s - steps[i - 1] < steps[i] - s) i--;
  return i;
}

/** A line's y (px) at x (px), interpolated between its two snapshots around x; null in a gap. */
export function lineYAt(values: readonly (number | null)[], steps: readonly number[], L: PolylineLayout, px: number): number | null {
  if (!steps.length) return null;
  const s = L.x.invert(px);
  const i = bisectLeft(steps as number[], s);
  if (i <= 0) return values[0] === null ? null : L.y(values[0]);
  if (i >= steps.length) {
    const v = values[steps.length - 1];
    return v === null ? null : L.y(v);
  }
  const a = values[i - 1];
  const b = values[i];
  if (a === null || b === null) {
    const v = s - steps[i - 1] < steps[i] - s ? a : b;
    return v === null ? null : L.y(v);
  }
  const t = (s - steps[i - 1]) / (steps[i] - steps[i - 1] || 1);
  return L.y(a + (b - a) * t);
}

/** The drawn line nearest the point (px, py), within `radius` px; on-top lines win ties. */
export function nearestLine(L: PolylineLayout, steps: readonly number[], px: number, py: number, radius = 8): PolyLine | null {
  let best: PolyLine | null = null;
  let bestD = radius;
  for (let k = L.lines.length - 1; k >= 0; k--) {
    const l = L.lines[k];
    const yy = lineYAt(l.values, steps, L, px);
    if (yy === null) continue;
    const d = Math.abs(yy - py);
    if (d < bestD) {
      bestD = d;
      best = l;
    }
  }
  return best;
}
