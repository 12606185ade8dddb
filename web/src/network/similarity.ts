// Where each site sits along the network's x axis (collapsed nodes spread their sites over their
// box), and the per-site A–B / A–C similarity series of the strip. No DOM.
import { scaleLinear, type ScaleLinear } from "d3";
import type { Analysis, Site } from "../lib/types";
import type { Layout } from "./layout";

/** x of every site (by index into sites). */
export function siteXs(layout: Layout, sites: Site[]): Float64Array {
  const xs = new Float64Array(sites.length);
  for (const node of layout.nodes) {
    const k = node.unit.sites.length;
    node.unit.sites.forEach((i, j) => {
      xs[i] = k === 1 ? node.cx : node.x + ((j + 0.5) / k) * node.w;
    });
  }
  return xs;
}

export interface StripPoint {
  site: string;
  x: number;
  ab: number | null; // A–B similarity
  ac: number | null; // A–C similarity
  abJaccard: number | null;
  acJaccard: number | null;
  progress: number | null;
  collapsed: boolean; // inside a collapsed node
}

export function stripPoints(analysis: Analysis, sites: Site[], xs: Float64Array, layout: Layout, unitOf: Int32Array): StripPoint[] {
  const index = new Map(sites.map((s, i) => [s.name, i]));
  const ab = new Map(analysis.comparisons.AB.map((c) => [c.site, c]));
  const ac = new Map(analysis.comparisons.AC.map((c) => [c.site, c]));
  const points: StripPoint[] = [];
  analysis.sites.forEach((name, k) => {
    const i = index.get(name);
    if (i === undefined) return;
    points.push({
      site: name,
      x: xs[i],
      ab: ab.get(name)?.similarity ?? null,
      ac: ac.get(name)?.similarity ?? null,
      abJaccard: ab.get(name)?.jaccard ?? null,
      acJaccard: ac.get(name)?.jaccard ?? null,
      progress: analysis.progress?.[k] ?? null,
      collapsed: layout.nodes[unitOf[i]].unit.kind === "segment",
    });
  });
  return points.sort((a, b) => a.x - b.x);
}

/** A y scale for similarities: the data range, rounded outward, top at most 1. */
export function similarityScale(points: StripPoint[], top: number, bottom: number): ScaleLinear<number, number> {
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of points)
    for (const v of [p.ab, p.ac])
      if (v !== null) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
  if (!isFinite(lo)) [lo, hi] = [0, 1];
  if (hi - lo < 0.02) lo = hi - 0.02;
  return scaleLinear().domain([lo, Math.min(1, hi)]).nice(4).range([bottom, top]);
}

/** SVG polyline path of one series; breaks where a value is missing. */
export function seriesPath(points: StripPoint[], key: "ab" | "ac", y: (v: number) => number): string {
  let d = "";
  let pen = false;
  for (const p of points) {
    const v = p[key];
    if (v === null) {
      pen = false;
      continue;
    }
    d += `${pen ? "L" : "M"}${p.x.toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  }
  return d;
}
