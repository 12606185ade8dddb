// Layout of the strip/box plot of a channel's mean activation per image, one row per set.
import * as d3 from "d3";
import type { SetKey } from "../lib/types";

export interface Dot {
  set: SetKey;
  index: number;
  value: number;
  x: number;
  y: number;
}

export interface Row {
  set: SetKey;
  y: number; // row centre
  q1: number; // x of the quartiles and median
  median: number;
  q3: number;
  lo: number; // x of the whiskers (min, max)
  hi: number;
  medianValue: number;
  n: number;
}

export interface StripLayout {
  dots: Dot[];
  rows: Row[];
  ticks: { x: number; label: string }[];
  x: d3.ScaleLinear<number, number>;
  rowHeight: number;
}

/** Deterministic jitter in -0.5..0.5 for image `i` (stable between renders). */
const jitter = (i: number): number => ((Math.sin(i * 12.9898 + 78.233) * 43758.5453) % 1 + 1) % 1 - 0.5;

export function stripLayout(
  means: Partial<Record<SetKey, number[]>>,
  sets: SetKey[],
  width: number,
  margin: { left: number; right: number; top: number },
  rowHeight: number,
): StripLayout {
  const all = sets.flatMap((k) => means[k] ?? []);
  const [a, b] = d3.extent(all) as [number | undefined, number | undefined];
  const domain: [number, number] = a === undefined || b === undefined ? [0, 1] : a === b ? [a - 1, b + 1] : [a, b];
  const x = d3.scaleLinear().domain(domain).nice(5).range([margin.left, Math.max(margin.left + 10, width - margin.right)]);
  const dots: Dot[] = [];
  const rows: Row[] = [];
  sets.forEach((set, r) => {
    const values = means[set] ?? [];
    const y = margin.top + rowHeight * (r + 0.5);
    values.forEach((v, i) => dots.push({ set, index: i, value: v, x: x(v), y: y + jitter(i + 97 * r) * rowHeight * 0.6 }));
    if (values.length) {
      const sorted = [...values].sort(d3.ascending);
      const median = d3.quantileSorted(sorted, 0.5)!;
      rows.push({
        set,
        y,
        q1: x(d3.quantileSorted(sorted, 0.25)!),
        median: x(median),
        q3: x(d3.quantileSorted(sorted, 0.75)!),
        lo: x(sorted[0]),
        hi: x(sorted[sorted.length - 1]),
        medianValue: median,
        n: values.length,
      });
    }
  });
  const format = x.tickFormat(5);
  const ticks = x.ticks(5).map((t) => ({ x: x(t), label: format(t) }));
  return { dots, rows, ticks, x, rowHeight };
}

export function medianOf(values: number[]): number {
  if (!values.length) return NaN;
  return d3.median(values) ?? NaN;
}
